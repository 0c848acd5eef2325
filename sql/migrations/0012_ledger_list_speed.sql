-- 0012_ledger_list_speed.sql — task visibility as one indexable condition.
--
-- 0011's task policy was
--     in_scope(owner_org_path) OR co_org_ids @> {org} OR acceptance_org_ids @> {org}
-- The planner cannot see that the first term is true for every row when the
-- caller is province-wide (scope_root() = ''), so for the office it combined
-- the three index conditions with a BitmapOr that visits every task and then
-- sorted all of them for a page of 50 (20–210 ms over 100 000 tasks; see
-- docs/ledger.md "Measured").
--
-- Now every task carries the keys of the callers that may see it:
--   visible_org_keys  0 (the key of every province-wide caller)
--                     || the ids of the lead org and all its ancestors (the
--                        labels of owner_org_path: a path ends with the org's id)
--                     || co_org_ids || acceptance_org_ids
-- and the policy is one condition, `visible_org_keys @> ARRAY[key]`, with the
-- caller's key from rectify.task_scope_key(): 0 for admin/office/leader/
-- discipline, the caller's own org id otherwise, NULL when anonymous (a NULL
-- element never matches).  Meaning unchanged: a caller sees a task when its
-- org is the lead org or an ancestor of it (the subtree rule), or is itself a
-- co-operating or acceptance org (exact match, not its subtree).
--
-- One GIN index answers it, and — the point — the planner estimates it from
-- the column's element statistics with the caller's key (stable functions are
-- evaluated for estimates): key 0 matches every row, so for the office the
-- planner walks the sort index and stops after a page; a county's key matches
-- ~1 % of rows, so it reads them through the GIN index.
--
-- The column is generated from owner_org_path and the id arrays, so it
-- follows every write and every org move (rectify.orgs_repath_subtree rewrites
-- owner_org_path) without a trigger and without new audit versions.

CREATE FUNCTION rectify.path_org_ids(p ltree) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT ARRAY(SELECT subltree(p, i, i + 1)::text::bigint
                         FROM generate_series(0, nlevel(p) - 1) AS i ORDER BY i) $$;
COMMENT ON FUNCTION rectify.path_org_ids(ltree) IS
    'The org ids on an org path (root first): the org and its ancestors.';

ALTER TABLE tasks
    ADD COLUMN visible_org_keys bigint[] NOT NULL
        GENERATED ALWAYS AS ('{0}'::bigint[] || rectify.path_org_ids(owner_org_path)
                             || co_org_ids || acceptance_org_ids) STORED;
COMMENT ON COLUMN tasks.visible_org_keys IS
    'Keys of the callers that see the task: 0 (province-wide), lead org and ancestors, co-operating and acceptance orgs (generated; RLS).';

CREATE INDEX tasks_visible_keys_gin ON tasks USING gin (visible_org_keys);
-- Superseded by tasks_visible_keys_gin.
DROP INDEX tasks_co_orgs_gin;
DROP INDEX tasks_acceptance_orgs_gin;

-- The caller's key for visible_org_keys (see the top of this file).  The
-- policy evaluates it for every row it checks, so rectify.begin_request
-- computes it once per request into the setting rectify.scope_key and the
-- function reads that (one current_setting); the CASE is the fallback for
-- code that sets the rectify.* settings itself (tests).  Stable and
-- inlined: the planner evaluates it for its estimates.
CREATE FUNCTION rectify.task_scope_key() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('rectify.scope_key', true), '')::bigint,
                          CASE WHEN rectify.user_id() IS NULL THEN NULL
                               WHEN rectify.sees_province() THEN 0::bigint
                               ELSE rectify.org_id() END) $$;
COMMENT ON FUNCTION rectify.task_scope_key() IS
    'Key of the caller in tasks.visible_org_keys: 0 when province-wide, else the caller''s org id; NULL when anonymous.';

-- begin_request (0008) as before, plus rectify.scope_key.
CREATE OR REPLACE FUNCTION rectify.begin_request(p_user_id bigint, p_epoch integer, p_request_id text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    caller record;
BEGIN
    PERFORM set_config('rectify.request_id', coalesce(p_request_id, ''), true);
    IF p_user_id IS NULL THEN
        PERFORM set_config('rectify.user_id', '', true),
                set_config('rectify.org_id', '', true),
                set_config('rectify.org_path', '', true),
                set_config('rectify.roles', '', true),
                set_config('rectify.scope_key', '', true);
        RETURN;
    END IF;
    SELECT u.id, u.org_id, o.path, u.roles INTO caller
      FROM users u JOIN orgs o ON o.id = u.org_id
     WHERE u.id = p_user_id AND u.token_epoch = p_epoch AND NOT u.disabled;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The access token is not valid.'
            USING ERRCODE = 'RX401', HINT = 'invalid_token';
    END IF;
    PERFORM set_config('rectify.user_id', caller.id::text, true),
            set_config('rectify.org_id', caller.org_id::text, true),
            set_config('rectify.org_path', caller.path::text, true),
            set_config('rectify.roles', array_to_string(caller.roles, ','), true);
    PERFORM set_config('rectify.scope_key',
                       CASE WHEN rectify.sees_province() THEN '0' ELSE caller.org_id::text END, true);
END
$$;

DROP POLICY tasks_read ON tasks;
CREATE POLICY tasks_read ON tasks FOR SELECT TO rectify_api
    USING (visible_org_keys @> ARRAY[rectify.task_scope_key()]);
DROP POLICY tasks_update ON tasks;
CREATE POLICY tasks_update ON tasks FOR UPDATE TO rectify_api
    USING (visible_org_keys @> ARRAY[rectify.task_scope_key()]
           AND rectify.has_any_role('{admin,office,leader,unit,acceptor}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office,leader,unit,acceptor}'::text[]));

-- The derived columns are not business data: they stay out of the audit
-- trail (enable_audit again at the end of this file, with search_folded).

-- Lists filter with conditions that are leakproof where they should become
-- index conditions (under row-level security nothing else does; see
-- src/api/tasks.c): the lead_org filter is `owner_org_id = ANY (the org
-- and its descendants)`, hence an index on owner_org_id.
CREATE INDEX tasks_owner_idx ON tasks (owner_org_id, deadline_key, id);

-- Sorted walks for a single status (the list turns `status=x` into
-- `status = 'x'`, so these give the order of the updated_at and code sorts;
-- the deadline sort has tasks_status_deadline_idx from 0011).
CREATE INDEX tasks_status_updated_idx ON tasks (status, updated_at, id);
CREATE INDEX tasks_status_code_idx ON tasks (status, code, id);

-- q= is case-insensitive.  ILIKE lower-cases both sides for every row it
-- checks, which for Chinese text costs three times a LIKE; the search now
-- runs `search_folded LIKE lower(pattern)` over a lower-cased copy (same
-- result as ILIKE: PostgreSQL's ILIKE compares lower() of both sides), with
-- its own trigram index, which replaces the one on search_text.
ALTER TABLE tasks ADD COLUMN search_folded text NOT NULL GENERATED ALWAYS AS (lower(search_text)) STORED;
COMMENT ON COLUMN tasks.search_folded IS 'lower(search_text) (generated): what q= searches, with LIKE.';
CREATE INDEX tasks_search_folded_trgm ON tasks USING gin (search_folded gin_trgm_ops);
DROP INDEX tasks_search_trgm;

-- ILIKE / LIKE are not leakproof either, so the trigram index would never
-- serve q= under RLS.  The search runs here, as the owner, with the caller's
-- visibility applied in the same statement; the list keeps the tasks whose
-- id it returns.  It returns only ids the caller may see.  p_pattern is an
-- ILIKE pattern ('%…%', with \ escapes) as the service builds it.
-- PL/pgSQL with EXECUTE, so the search is planned with the pattern and the
-- caller's key as values (a county's search combines the trigram and the
-- visibility indexes), and the key is computed once, not per row.
CREATE FUNCTION rectify.task_search_ids(p_pattern text) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE ROWS 500
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT t.id FROM tasks t WHERE t.search_folded LIKE $1 AND t.visible_org_keys @> ARRAY[$2]'
        USING lower(p_pattern), rectify.task_scope_key();
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.task_search_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.task_search_ids(text) TO rectify_api;
COMMENT ON FUNCTION rectify.task_search_ids(text) IS
    'Ids of the tasks visible to the caller whose code/title/target/measures match an ILIKE pattern (case-insensitive; trigram index).';

SELECT rectify.enable_audit('tasks', ignore_columns => '{search_text,visible_org_keys,search_folded}');
