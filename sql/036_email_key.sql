-- 036: signing in finds its user through an index again.
--
-- Under row level security (031), a condition that hands a column to a
-- function PostgreSQL does not know to be leakproof is checked only after
-- the tenant policy, never as an index condition: lower(email) = lower($1)
-- read every user of every tenant (a sequential scan, 56 ms at 50,000
-- users).  A stored lower-case copy compared with = (leakproof) is read
-- through its index; lower($1) takes no column, so it may come first.

ALTER TABLE users
    ADD COLUMN email_key text GENERATED ALWAYS AS (lower(email)) STORED;

DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (email_key, tenant);
