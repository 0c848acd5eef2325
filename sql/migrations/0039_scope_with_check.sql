-- 0039_scope_with_check.sql — an UPDATE cannot move a row out of the
-- caller's scope, and the similar-complaint candidates are the caller's
-- (issue 10, items 8 and 9).
--
-- 1. The UPDATE policies of the org-scoped tables (those registered with
--    rectify.enable_scope: attachments, problems, tasks, complaints) checked
--    the caller's scope in USING (the row before) but only the role in WITH
--    CHECK (the row after). So a caller that may change the owner or the
--    county could move a row it sees to an org it does not: a county unit
--    could set a task's lead org, or a complaint's county, to another
--    county's. PostgreSQL also checks the new row against the SELECT
--    policies when the UPDATE reads the table (a WHERE clause, RETURNING a
--    column, SET a = b), which every UPDATE of the service does; an UPDATE
--    that reads nothing (UPDATE tasks SET owner_org_id = 5: every row the
--    UPDATE policy admits) had only the role checked. WITH CHECK now repeats
--    USING, so the row after any UPDATE must be one the caller could update
--    — and so see — whatever the statement reads. When the caller's scope
--    covers the target the move still works: the office, the leading group
--    and admin see the whole province (scope key 0, scope root ''), so they
--    reassign tasks and complaints anywhere, as the service does (PATCH
--    /tasks/{id}, the imports' upserts, assign/reassign).
--      tasks       USING and WITH CHECK: visible_org_keys @> the caller's key
--                  (lead org or an ancestor, co-operating or acceptance org;
--                  0012) and a writing role. A co-operating or acceptance
--                  org keeps a task in its scope while it stays in the
--                  task's lists (a progress report passes, leaving the list
--                  does not).
--      complaints  USING and WITH CHECK: owner or county in the caller's
--                  subtree (0030) and a writing role.
--      problems    admin and office only (province-wide), as before; the
--                  scope term makes the rule hold without relying on the
--                  role list alone (a session with roles but no user, whose
--                  scope root is NULL, updates nothing).
--      attachments immutable: no UPDATE grant and no UPDATE policy (0010).
--    tests/sql/scope_with_check.sql checks, for each of them, that every
--    UPDATE policy's WITH CHECK equals its USING and that the moves are
--    refused or accepted as above.
-- 2. rectify.complaint_similar_candidates (0033, 0034) runs as the owner and
--    returned ids of every org for any id: the caller's statement read the
--    rows through RLS, but the ids themselves (and whether an invisible
--    complaint has neighbours) came back to whoever called the function.
--    It now applies the caller's visibility itself, the complaints_read
--    condition: the complaint asked about must be visible (else no ids), and
--    so must every candidate. The candidates are filtered after each
--    branch's nearest-100 walk (0034), not during it, so the walks and their
--    cost are unchanged and the service's answer is the same as before (it
--    dropped the invisible ones when reading the rows through RLS).
--    tests/sql/complaint_similar_scope.sql checks it per caller.

-- ---------------------------------------------------------------------------
-- 1. WITH CHECK = USING
-- ---------------------------------------------------------------------------
ALTER POLICY tasks_update ON tasks
    WITH CHECK (visible_org_keys @> ARRAY[rectify.task_scope_key()]
                AND rectify.has_any_role('{admin,office,leader,unit,acceptor}'::text[]));

ALTER POLICY complaints_update ON complaints
    WITH CHECK ((rectify.in_scope(owner_org_path) OR rectify.in_scope(county_org_path))
                AND rectify.has_any_role('{admin,office,integration,unit}'::text[]));

ALTER POLICY problems_update ON problems
    USING (rectify.in_scope(owner_org_path) AND rectify.has_any_role('{admin,office}'::text[]))
    WITH CHECK (rectify.in_scope(owner_org_path) AND rectify.has_any_role('{admin,office}'::text[]));

-- ---------------------------------------------------------------------------
-- 2. Similar-complaint candidates: only the caller's
-- ---------------------------------------------------------------------------
-- 0034's statement with the complaints_read condition on the complaint asked
-- about (x) and on each branch's candidates (t), applied after the LIMIT.
-- rectify.in_scope reads the caller's rectify.* settings, which a SECURITY
-- DEFINER function keeps (only the role changes).
CREATE OR REPLACE FUNCTION rectify.complaint_similar_candidates(p_id bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    ROWS 300
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    -- the 100 nearest first, then the threshold (0.15, distance 0.85): with
    -- `%` in the walk the planner prefers a bitmap scan of every match
    SELECT t.id FROM complaints x CROSS JOIN LATERAL (
        SELECT c.id, c.content <-> x.content AS d, c.owner_org_path, c.county_org_path
          FROM complaints c
         WHERE c.county_org_id = x.county_org_id AND c.id <> x.id
         ORDER BY c.content <-> x.content LIMIT 100) t
     WHERE x.id = p_id AND t.d <= 0.85
       AND (rectify.in_scope(x.owner_org_path) OR rectify.in_scope(x.county_org_path))
       AND (rectify.in_scope(t.owner_org_path) OR rectify.in_scope(t.county_org_path))
    UNION
    SELECT t.id FROM complaints x CROSS JOIN LATERAL (
        SELECT c.id, c.entity_name <-> x.entity_name AS d, c.owner_org_path, c.county_org_path
          FROM complaints c
         WHERE c.county_org_id = x.county_org_id AND c.id <> x.id
         ORDER BY c.entity_name <-> x.entity_name LIMIT 100) t
     WHERE x.id = p_id AND x.entity_name IS NOT NULL AND t.d <= 0.85
       AND (rectify.in_scope(x.owner_org_path) OR rectify.in_scope(x.county_org_path))
       AND (rectify.in_scope(t.owner_org_path) OR rectify.in_scope(t.county_org_path))
    UNION
    -- similarity() rather than `%` here: the box (latitude index) is the
    -- selective part, the trigram test a filter on its rows
    SELECT t.id FROM complaints x CROSS JOIN LATERAL (
        SELECT c.id, c.owner_org_path, c.county_org_path FROM complaints c
         WHERE c.latitude BETWEEN x.latitude - 0.05 AND x.latitude + 0.05
           AND c.longitude BETWEEN x.longitude - 0.07 AND x.longitude + 0.07
           AND c.id <> x.id
           AND (similarity(c.content, x.content) >= 0.15
                OR similarity(c.entity_name, x.entity_name) >= 0.15)
         ORDER BY similarity(c.content, x.content) DESC LIMIT 100) t
     WHERE x.id = p_id AND x.latitude IS NOT NULL
       AND (rectify.in_scope(x.owner_org_path) OR rectify.in_scope(x.county_org_path))
       AND (rectify.in_scope(t.owner_org_path) OR rectify.in_scope(t.county_org_path))
    $$;
COMMENT ON FUNCTION rectify.complaint_similar_candidates(bigint) IS
    'Ids of candidate similar complaints (at most 300; see 0034), only complaints the caller may see, and none when the caller may not see p_id (0039). Runs as the owner; the caller reads the rows through RLS.';
