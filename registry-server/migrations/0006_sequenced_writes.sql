-- Only a write that took the sequencer lock the way this version does (and
-- so moves the commit sequence and lists its keys in shire_changes) may
-- change shire_trees: it marks its transaction with SET LOCAL
-- shire.sequenced. A process of an older version still running against an
-- upgraded database, or an edit by hand, is refused instead of leaving the
-- other processes' row caches (store/row_cache.rs) stale.
CREATE FUNCTION shire_require_sequenced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('shire.sequenced', true), '') <> 'on' THEN
        RAISE EXCEPTION 'shire_trees is written only by shire-registry processes of this version, under the sequencer lock: stop every older process before starting a new one';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER shire_trees_sequenced
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON shire_trees
    FOR EACH STATEMENT EXECUTE FUNCTION shire_require_sequenced();
