-- A channel whose credentials the platform refused (a 401/403, or Mercado Livre's
-- invalid_grant): a JSON document {message, since}, NULL while they work. Replacing
-- the credentials (or renewing a rotating token) clears it: the seller reconnected.
ALTER TABLE channels ADD COLUMN credentials_problem TEXT;
