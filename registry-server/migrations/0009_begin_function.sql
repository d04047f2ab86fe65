-- A write's begin (store/shared.rs, `begin_sequenced`) as one function, so
-- that its statements are planned once per connection instead of at every
-- batch: sent as a simple query they were parsed and planned each time,
-- after the sequencer lock was granted, some 0.4 ms of the time every
-- other writer waits.
--
-- Takes the transaction's mark (migrations 0006 and 0008), fixes the form
-- bytea values come back in as text (hex), takes the sequencer lock, then
-- reads. The function is VOLATILE: each query in it sees every commit made
-- before it started, so those after the lock see every write before this
-- one. Rows are (kind, n, m, tree, key, value):
--   kind 3: the commit sequence, n (shire_generation row 2);
--   kind 4: a commit's mark, n the commit and m its mark: the latest
--           commit's, and those of commit `since` and the one after it;
--   kind 0: n, how many commits after `since` still list their keys;
--   kind 1: a key written after `since` (n the commit) and its value now
--           (NULL: nothing);
--   kind 2: such a key whose value was left out: its tree is one of
--           `forgotten`, or the value is larger than `value_max` bytes.
-- At most `row_limit` rows of kinds 1 and 2. With `since` NULL only kinds
-- 3 and 4 (the latest commit's mark).
CREATE FUNCTION shire_begin(
    since BIGINT, value_max INTEGER, forgotten SMALLINT[], row_limit INTEGER)
RETURNS TABLE (kind SMALLINT, n BIGINT, m BIGINT, tree SMALLINT, key BYTEA, value BYTEA)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('shire.sequenced', 'marked', true);
    PERFORM set_config('bytea_output', 'hex', true);
    PERFORM pg_advisory_xact_lock(91569932879153);
    RETURN QUERY SELECT 3::int2, g.n, NULL::int8, NULL::int2, NULL::bytea, NULL::bytea
        FROM shire_generation g WHERE g.id = 2;
    RETURN QUERY SELECT 4::int2, c.seq, c.mark, NULL::int2, NULL::bytea, NULL::bytea
        FROM shire_commits c WHERE c.seq = (SELECT g.n FROM shire_generation g WHERE g.id = 2)
        UNION ALL (SELECT 4::int2, c.seq, c.mark, NULL::int2, NULL::bytea, NULL::bytea
            FROM shire_commits c WHERE c.seq >= since ORDER BY c.seq LIMIT 2);
    IF since IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT 0::int2, count(*)::int8, NULL::int8, NULL::int2, NULL::bytea, NULL::bytea
        FROM shire_changes c WHERE c.seq > since;
    RETURN QUERY SELECT
            CASE WHEN u.tree = ANY (forgotten) OR octet_length(t.value) > value_max
                THEN 2 ELSE 1 END::int2,
            c.seq, NULL::int8, u.tree, u.key,
            CASE WHEN u.tree = ANY (forgotten) OR octet_length(t.value) > value_max
                THEN NULL ELSE t.value END
        FROM shire_changes c
        CROSS JOIN LATERAL unnest(c.trees, c.keys) AS u(tree, key)
        LEFT JOIN LATERAL (SELECT s.value FROM shire_trees s
            WHERE s.tree = u.tree AND s.key = u.key AND u.tree <> ALL (forgotten) LIMIT 1) t
            ON TRUE
        WHERE c.seq > since LIMIT row_limit;
END;
$$;
