-- A write's rows, as one function (store/shared.rs, `commit`): a batch
-- sends its rows and its COMMIT in one round trip, as a simple query whose
-- rows are hex literals, and the plan of the statement below is made once
-- per connection instead of once per batch. Each round trip is taken while
-- the batch holds the sequencer lock, so every one saved is time the other
-- writers stop waiting.
--
-- put_*: the rows to write; del_*: the keys to delete; ids and docs: the
-- search documents to set; moves: whether the write may change a cached
-- document (shire_generation row 1 then takes the commit's mark). Returns
-- the generation rows it moved: row 2 is the commit's sequence number.
-- The keys written are listed under that number and the commit's mark
-- recorded under it; lists older than changes_kept commits and marks older
-- than marks_kept are dropped. A number already listed or marked (a
-- sequence set back by hand or by a partial restore) is taken over, so
-- writes go on, and processes that stood there see another mark.
CREATE FUNCTION shire_write(
    put_t SMALLINT[], put_k BYTEA[], put_v BYTEA[],
    del_t SMALLINT[], del_k BYTEA[],
    ids INTEGER[], docs TEXT[],
    moves BOOLEAN, changes_kept BIGINT, mark BIGINT, marks_kept BIGINT)
RETURNS TABLE (moved_id SMALLINT, moved_n BIGINT)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH put AS (
        INSERT INTO shire_trees (tree, key, value)
        SELECT * FROM UNNEST(put_t, put_k, put_v)
        ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value),
    gone AS (
        DELETE FROM shire_trees WHERE ctid = ANY (ARRAY(
            SELECT r.ctid FROM UNNEST(del_t, del_k) AS u(tree, key)
            CROSS JOIN LATERAL (SELECT t.ctid FROM shire_trees t
                WHERE t.tree = u.tree AND t.key = u.key LIMIT 1) r))),
    moved AS (
        UPDATE shire_generation g SET n = CASE WHEN g.id = 1 THEN mark ELSE g.n + 1 END
        WHERE g.id = 2 OR (g.id = 1 AND moves) RETURNING g.id, g.n),
    docs_set AS (
        INSERT INTO shire_search (package_id, terms, seq)
        SELECT u.id, u.doc::tsvector, m.n FROM UNNEST(ids, docs) AS u(id, doc)
        CROSS JOIN (SELECT moved.n FROM moved WHERE moved.id = 2) m
        ON CONFLICT (package_id) DO UPDATE SET terms = EXCLUDED.terms, seq = EXCLUDED.seq),
    listed AS (
        INSERT INTO shire_changes (seq, trees, keys)
        SELECT moved.n, put_t || del_t, put_k || del_k FROM moved WHERE moved.id = 2
        ON CONFLICT (seq) DO UPDATE SET trees = EXCLUDED.trees, keys = EXCLUDED.keys),
    dropped AS (
        DELETE FROM shire_changes c
        WHERE c.seq <= (SELECT moved.n FROM moved WHERE moved.id = 2) - changes_kept),
    marked AS (
        INSERT INTO shire_commits (seq, mark) SELECT moved.n, shire_write.mark FROM moved WHERE moved.id = 2
        ON CONFLICT (seq) DO UPDATE SET mark = EXCLUDED.mark),
    unmarked AS (
        DELETE FROM shire_commits c
        WHERE c.seq <= (SELECT moved.n FROM moved WHERE moved.id = 2) - marks_kept)
    SELECT moved.id, moved.n FROM moved;
END;
$$;
