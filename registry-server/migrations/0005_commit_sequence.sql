-- Row 2 counts every commit, by any process (row 1 only those that may
-- change a cached document). A process that takes the sequencer lock and
-- finds it where its own last commit left it knows no other process wrote
-- in between, and reads the rows it already holds from memory
-- (store/row_cache.rs).
INSERT INTO shire_generation (id, n) VALUES (2, 0);
