-- Push subscriptions managed by ponte (issue 8): each channel's registration at its
-- platform as last reconciled, a JSON document (state, url, registered, changes,
-- reason, checked_at). NULL until first reconciled.
ALTER TABLE channels ADD COLUMN subscription TEXT;
