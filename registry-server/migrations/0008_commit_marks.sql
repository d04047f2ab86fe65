-- Each commit's mark: a random number the process that made it drew,
-- written with it. A process keeps the mark of the commit its row cache
-- (store/row_cache.rs) and its copy of the search index
-- (store/shared_search.rs) stand at, and keeps them only while the database
-- gives that commit number the same mark. A restore, or a failover that
-- lost commits, is then noticed even once later writes have carried the
-- commit sequence past where a process stood. The last 100,000 are kept.
CREATE TABLE shire_commits (
    seq BIGINT PRIMARY KEY,
    mark BIGINT NOT NULL
);
-- The document generation (shire_generation row 1) becomes the mark of the
-- last commit that may change a cached document, for the same reason: a
-- count would come back to a value a process kept documents under.
-- A process of an earlier version would write commits without marks and
-- count the generation on from a mark: its writes are refused from now on
-- (they set shire.sequenced to 'on'; this version sets 'marked').
CREATE OR REPLACE FUNCTION shire_require_sequenced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('shire.sequenced', true), '') <> 'marked' THEN
        RAISE EXCEPTION 'shire_trees is written only by shire-registry processes of this version, under the sequencer lock: stop every older process before starting a new one';
    END IF;
    RETURN NULL;
END;
$$;
