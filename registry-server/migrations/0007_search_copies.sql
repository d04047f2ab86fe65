-- Each process of a shared node keeps the search index in memory
-- (store/shared_search.rs) and, before each search, reads the documents
-- written since the commit its copy holds: each document carries the commit
-- sequence (shire_generation row 2) of the write that set it, found through
-- a B-tree index. Searches no longer run in PostgreSQL, so the GIN index
-- goes. The column is renamed so that a process of an older version, which
-- would write documents without their sequence and leave every copy stale,
-- fails on its first write or search instead.
ALTER TABLE shire_search RENAME COLUMN doc TO terms;
ALTER TABLE shire_search ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE shire_search ALTER COLUMN seq DROP DEFAULT;
CREATE INDEX shire_search_seq ON shire_search (seq);
DROP INDEX shire_search_doc;
