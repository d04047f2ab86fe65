-- Row 2 counts every commit, by any process (row 1 only those that may
-- change a cached document), and each commit lists the keys it wrote under
-- its number. A process that takes the sequencer lock and finds the count
-- where its own last commit left it reads the rows it already holds from
-- memory; one that finds it moved forgets only the keys the commits between
-- wrote (store/row_cache.rs). The last 1,000 commits are kept.
INSERT INTO shire_generation (id, n) VALUES (2, 0);
CREATE TABLE shire_changes (
    seq BIGINT PRIMARY KEY,
    trees SMALLINT[] NOT NULL,
    keys BYTEA[] NOT NULL
);
