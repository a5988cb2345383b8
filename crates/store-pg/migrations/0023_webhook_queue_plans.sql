-- Webhook message plans that do not depend on fresh statistics (issue 19).
--
-- A claim checks that no earlier message of the same queue (endpoint and order) is
-- pending. With an index on `state` alone, a planner whose statistics were gathered
-- while few messages were pending reads every pending message for each candidate
-- (tens of milliseconds on a backlog of thousands); without it, the check can only
-- use `webhook_messages_pending_in_queue` (migration 0017). Lookups by order are made
-- through that index too, so the older one by order goes as well: two fewer indexes to
-- write on every message change.
DROP INDEX webhook_messages_due;
DROP INDEX webhook_messages_by_order;
