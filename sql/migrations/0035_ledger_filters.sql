-- 0035_ledger_filters.sql — the ledger lists' remaining filters as index
-- conditions under row-level security (issue 4; docs/ledger.md "Lists and
-- indexes").
--
-- Under RLS only leakproof conditions become index conditions for the api
-- role (see 0012).  ILIKE, array `@>` and ltree `<@` are not leakproof, so
-- until now `official=` (ILIKE on the name) on tasks and problems, and on
-- problems also `q=`, `region=` and `lead_org=`, were filters evaluated row
-- by row after the policy: a rare official over 100 000 tasks was a parallel
-- Seq Scan (133 ms), a problem search a Seq Scan over every problem.
--
-- 1. official= is a prefix match on a normalised name: what a clerk types is
--    the official's name or its beginning (the surname, 王; 王建; 王建军).
--    Both sides go through rectify.official_key (lower case, no white space —
--    full-width included — and no name dots: 阿卜杜·热合曼 = 阿卜杜热合曼), and
--    the list compares `official_key >= k AND official_key < k || U+10FFFF`
--    in the "C" collation: text comparison is leakproof, so a btree index on
--    the stored key serves it.  (Before: ILIKE '%…%', any part of the name.)
-- 2. Problems get the tasks' treatment (0012): visibility as one condition
--    the planner can estimate (visible_org_keys), q= and region= through
--    SECURITY DEFINER functions returning ids, and indexes for lead_org
--    (owner_org_id = ANY (subtree)), one status, and the campaign.

CREATE FUNCTION rectify.official_key(p_name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(regexp_replace(p_name, '[[:space:]　·•・‧．.]+', '', 'g')) $$;
COMMENT ON FUNCTION rectify.official_key(text) IS
    'An official''s name for matching: lower case, without white space (full-width too) and name dots.';

ALTER TABLE tasks
    ADD COLUMN official_key text COLLATE "C"
        GENERATED ALWAYS AS (rectify.official_key(responsible_name)) STORED;
COMMENT ON COLUMN tasks.official_key IS
    'rectify.official_key(responsible_name) (generated): official= matches its beginning.';
CREATE INDEX tasks_official_key_idx ON tasks (official_key);
DROP INDEX tasks_official_trgm;

ALTER TABLE problems
    ADD COLUMN official_key text COLLATE "C"
        GENERATED ALWAYS AS (rectify.official_key(responsible_name)) STORED;
COMMENT ON COLUMN problems.official_key IS
    'rectify.official_key(responsible_name) (generated): official= matches its beginning.';
CREATE INDEX problems_official_key_idx ON problems (official_key);
DROP INDEX problems_official_trgm;

-- ---------------------------------------------------------------------------
-- Problem visibility.  0011's policy
--     in_scope(owner_org_path) OR region_org_ids @> {org} OR EXISTS (a visible task)
-- is estimated at a few rows for every caller (the planner cannot see that
-- the first term is always true for the office): the office's lists were
-- fine by luck (the code index walk), a department's was a Seq Scan over all
-- problems with an EXISTS per row and a sort (37 ms over 20 000), a
-- county's built a hash of all its visible tasks first (12 ms).
--
-- As for tasks (0012), the first two terms become one condition on a
-- generated column, `visible_org_keys @> ARRAY[rectify.task_scope_key()]`:
-- 0 (every province-wide caller), the lead org and its ancestors, the
-- regions concerned.  Same meaning: for a province-wide caller in_scope is
-- always true (key 0); otherwise the key is the caller's org id, which is
-- among the path's ids exactly when the lead org is in its subtree, and
-- among the regions exactly when region_org_ids @> {org}.  The third term is
-- unchanged, written with OFFSET 0 so it stays a per-row probe of
-- tasks_problem_idx (stopping at the first visible task) instead of a hash
-- of every task the caller sees, built before the first row.
ALTER TABLE problems
    ADD COLUMN visible_org_keys bigint[] NOT NULL
        GENERATED ALWAYS AS ('{0}'::bigint[] || rectify.path_org_ids(owner_org_path)
                             || region_org_ids) STORED;
COMMENT ON COLUMN problems.visible_org_keys IS
    'Keys of the callers that see the problem without its tasks: 0 (province-wide), lead org and ancestors, regions concerned (generated; RLS).';
CREATE INDEX problems_visible_keys_gin ON problems USING gin (visible_org_keys);

DROP POLICY problems_read ON problems;
CREATE POLICY problems_read ON problems FOR SELECT TO rectify_api
    USING (visible_org_keys @> ARRAY[rectify.task_scope_key()]
           OR EXISTS (SELECT 1 FROM tasks t WHERE t.problem_id = problems.id OFFSET 0));

-- lead_org= is `owner_org_id = ANY (the org and its descendants)` (bigint `=`
-- is leakproof); the default sort is the code.
CREATE INDEX problems_owner_idx ON problems (owner_org_id, code, id);
-- One status is also written `status = 'x'` (as for tasks).
CREATE INDEX problems_status_code_idx ON problems (status, code, id);
-- Problems are mostly listed per campaign, in code order.
CREATE INDEX problems_campaign_code_idx ON problems (campaign_id, code, id);

-- q= on problems: as for tasks, a lower-cased copy searched with LIKE (same
-- matches as ILIKE) through its trigram index, inside a SECURITY DEFINER
-- function because LIKE is not leakproof.
ALTER TABLE problems ADD COLUMN search_folded text NOT NULL GENERATED ALWAYS AS (lower(search_text)) STORED;
COMMENT ON COLUMN problems.search_folded IS 'lower(search_text) (generated): what q= searches, with LIKE.';
CREATE INDEX problems_search_folded_trgm ON problems USING gin (search_folded gin_trgm_ops);
DROP INDEX problems_search_trgm;

-- Ids of the problems matching q= (p_pattern: an ILIKE pattern as the
-- service builds it) or naming p_region among their regions, visible to the
-- caller: the function applies problems_read itself (as the owner it is not
-- subject to it), so it never reveals an id the caller could not read; the
-- list still reads the rows through RLS.  PL/pgSQL with EXECUTE: planned with
-- the values (the caller's key computed once).  The task probe is per row
-- (OFFSET 0, as in the policy): a hash of a county's 7 000 visible tasks cost
-- 18 ms before the first match.
CREATE FUNCTION rectify.problem_search_ids(p_pattern text) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE ROWS 200
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT p.id FROM problems p WHERE p.search_folded LIKE $1'
        ' AND (p.visible_org_keys @> ARRAY[$2] OR EXISTS (SELECT 1 FROM tasks t'
        '      WHERE t.problem_id = p.id AND t.visible_org_keys @> ARRAY[$2] OFFSET 0))'
        USING lower(p_pattern), rectify.task_scope_key();
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.problem_search_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.problem_search_ids(text) TO rectify_api;
COMMENT ON FUNCTION rectify.problem_search_ids(text) IS
    'Ids of the problems visible to the caller whose code/title/target match an ILIKE pattern (case-insensitive; trigram index).';

CREATE FUNCTION rectify.problem_region_ids(p_region bigint) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE ROWS 200
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT p.id FROM problems p WHERE p.region_org_ids @> ARRAY[$1]'
        ' AND (p.visible_org_keys @> ARRAY[$2] OR EXISTS (SELECT 1 FROM tasks t'
        '      WHERE t.problem_id = p.id AND t.visible_org_keys @> ARRAY[$2] OFFSET 0))'
        USING p_region, rectify.task_scope_key();
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.problem_region_ids(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.problem_region_ids(bigint) TO rectify_api;
COMMENT ON FUNCTION rectify.problem_region_ids(bigint) IS
    'Ids of the problems visible to the caller whose regions concerned include an org (GIN index).';

-- The derived columns are not business data: they stay out of the audit trail.
SELECT rectify.enable_audit('tasks', ignore_columns => '{search_text,visible_org_keys,search_folded,official_key}');
SELECT rectify.enable_audit('problems', ignore_columns => '{search_text,search_folded,official_key,visible_org_keys}');
