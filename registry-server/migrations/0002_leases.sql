-- Who runs a shared node's background jobs (the webhook dispatcher, each
-- peer's follower): one process at a time holds each job's lease, renewing it
-- before it expires; another takes it over once it lapses. Times are the
-- database's own clock, so processes need not agree on theirs.
CREATE TABLE shire_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires TIMESTAMPTZ NOT NULL
);
