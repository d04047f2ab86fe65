-- The shared backend's metadata: every tree of the embedded (sled) layout as
-- rows of one table, keys and values byte for byte, so the ledger, the log and
-- the search index are written by the same code on either backend. bytea
-- compares byte-wise, so ORDER BY key is sled's key order.
CREATE TABLE shire_trees (
    tree SMALLINT NOT NULL,
    key BYTEA NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (tree, key)
);
