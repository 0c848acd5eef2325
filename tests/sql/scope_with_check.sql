-- An UPDATE cannot move a row out of the caller's scope (0039): on every
-- org-scoped table (rectify.scoped_tables) each UPDATE policy's WITH CHECK
-- is its USING, and as a scoped user a move of the owner (or the county) out
-- of the caller's subtree is refused while a move inside it is accepted; the
-- province-wide office still moves rows anywhere. The session is set as the
-- service sets it: rectify.begin_request(), then role rectify_api.
--
-- Most statements below read no column of the table they update (no WHERE,
-- no RETURNING of a column, constants on the right of SET), so they update
-- every row the caller's UPDATE policy admits and only that policy checks
-- the new rows. A statement that reads the table (the service's statements
-- name the row: WHERE id = …) also has its new rows checked against the SELECT
-- policy, which refused such moves before 0039 already; one case per table
-- keeps that form.
\set ON_ERROR_STOP 1

-- ---------------------------------------------------------------- fixtures
CREATE SCHEMA t;
GRANT USAGE ON SCHEMA t TO rectify_api;

INSERT INTO users (username, display_name, org_id, roles)
SELECT v.username, v.username, o.id, v.roles
  FROM (VALUES ('county',      '620102',    '{unit}'::text[]),      -- 兰州市城关区
               ('prefecture',  '620100',    '{unit}'),              -- 兰州市 (620102, 620103, …)
               ('coorg',       '620702',    '{unit}'),              -- a county of 张掖市
               ('dept',        'GS-EE',     '{unit}'),              -- 生态环境厅
               ('integration', '620100',    '{integration}'),
               ('office',      'GS-OFFICE', '{office}')) AS v(username, org_code, roles)
  JOIN orgs o ON o.code = v.org_code;

INSERT INTO campaigns (name, round, province_org_id) SELECT 'Round 1', 1, id FROM orgs WHERE code = '620000';
INSERT INTO complaint_batches (campaign_id, batch_no, handed_over_on) SELECT id, 1, '2023-11-20' FROM campaigns;

INSERT INTO problems (campaign_id, code, title, category, owner_org_id)
SELECT c.id, v.code, '问题 ' || v.code, 'local_specific', o.id
  FROM campaigns c, (VALUES ('P1', '620100'), ('P2', '620102')) AS v(code, org) JOIN orgs o ON o.code = v.org;

-- T1 led by the county; T2 too, with a county of another prefecture co-operating.
INSERT INTO tasks (campaign_id, problem_id, code, title, owner_org_id, co_org_ids, deadline_kind, deadline)
SELECT p.campaign_id, p.id, v.code, '任务 ' || v.code, (SELECT id FROM orgs WHERE code = '620102'),
       v.co, 'date', '2026-12-31'
  FROM problems p,
       (VALUES ('T1', '{}'::bigint[]), ('T2', ARRAY[(SELECT id FROM orgs WHERE code = '620702')])) AS v(code, co)
 WHERE p.code = 'P1';

-- C1 on the county's territory, not assigned (owner = the county);
-- C2 there too, assigned to the department (owner = the department).
INSERT INTO complaints (campaign_id, handover_no, batch_id, channel, received_at, content,
                        pollution_types, county_org_id, responsible_org_id, deadline, status)
SELECT b.campaign_id, v.no, b.id, 'phone', now(), '油烟扰民', '{air}',
       (SELECT id FROM orgs WHERE code = '620102'), (SELECT id FROM orgs WHERE code = v.resp),
       CASE WHEN v.resp IS NOT NULL THEN current_date + 15 END,
       CASE WHEN v.resp IS NOT NULL THEN 'assigned' ELSE 'received' END
  FROM complaint_batches b, (VALUES ('C1', NULL), ('C2', 'GS-EE')) AS v(no, resp);

INSERT INTO attachments (filename, content_type, size_bytes, sha256, uploaded_by, owner_org_id)
SELECT 'a.pdf', 'application/pdf', 1, sha256('a'), u.id, u.org_id FROM users u WHERE u.username = 'county';

-- Becomes a user the way the service starts a request (src/db/pool.c).
CREATE FUNCTION t.act_as(p_username text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    u users%ROWTYPE;
BEGIN
    PERFORM set_config('role', 'none', true);        -- the owner looks the user up
    SELECT * INTO STRICT u FROM users WHERE username = p_username;
    PERFORM rectify.begin_request(u.id, u.token_epoch, 'test-' || p_username),
            set_config('role', 'rectify_api', true);
END
$$;

-- An org's id (as the owner: also for a caller who cannot read orgs).
CREATE FUNCTION t.org(p_code text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$ SELECT id FROM orgs WHERE code = p_code $$;

-- Runs one statement: 'rows=N', or the SQLSTATE it failed with (42501: a
-- policy's WITH CHECK, or no privilege). The failed statement is undone.
CREATE FUNCTION t.run(p_sql text) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE p_sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN 'rows=' || n;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- '{}' when p_sql gives p_want, else a one-line report (collected, so a
-- failing run names every case that failed, not only the first).
CREATE FUNCTION t.want(p_want text, p_sql text) RETURNS text[]
    LANGUAGE plpgsql
    AS $$
DECLARE
    got text := t.run(p_sql);
BEGIN
    RETURN CASE WHEN got = p_want THEN '{}'::text[]
                ELSE ARRAY[format('%s [as %s]: got %s, want %s', p_sql,
                                  current_setting('rectify.request_id'), got, p_want)] END;
END
$$;

CREATE FUNCTION t.done(p_errors text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF cardinality(p_errors) > 0 THEN
        RAISE EXCEPTION E'%\n', array_to_string(p_errors, E'\n');
    END IF;
END
$$;

-- The owner org codes of some rows (comma-separated), read as the owner (no RLS).
CREATE FUNCTION t.owner_of(p_table regclass, p_where text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
DECLARE
    c text;
BEGIN
    EXECUTE format('SELECT string_agg(o.code, '','' ORDER BY o.code) FROM %s x'
                   ' JOIN orgs o ON o.id = x.owner_org_id WHERE %s', p_table, p_where)
       INTO STRICT c;
    RETURN c;
END
$$;

-- ------------------------------------------------- the policies themselves
-- Every org-scoped table has row-level security, and each of its UPDATE (or
-- ALL) policies checks the new row as USING checks the old one. A table
-- added later with enable_scope() is checked here too.
DO $$
DECLARE
    bad text;
BEGIN
    ASSERT (SELECT count(*) FROM rectify.scoped_tables) >= 4, 'attachments, problems, tasks, complaints';
    SELECT string_agg(s.tbl::text, ', ') INTO bad
      FROM rectify.scoped_tables s JOIN pg_class c ON c.oid = s.tbl
     WHERE NOT c.relrowsecurity;
    ASSERT bad IS NULL, 'scoped tables without row-level security: ' || bad;
    SELECT string_agg(format('%s.%s: USING %s / WITH CHECK %s', s.tbl, p.polname,
                             pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)),
                      E'\n') INTO bad
      FROM rectify.scoped_tables s JOIN pg_policy p ON p.polrelid = s.tbl
     WHERE p.polcmd IN ('w', '*')
       AND p.polwithcheck IS NOT NULL                  -- without one, USING is the check
       AND pg_get_expr(p.polwithcheck, p.polrelid) IS DISTINCT FROM pg_get_expr(p.polqual, p.polrelid);
    ASSERT bad IS NULL, E'UPDATE policies whose WITH CHECK is not their USING:\n' || bad;
    -- attachments are immutable: nothing to move.
    ASSERT NOT has_any_column_privilege('rectify_api', 'attachments', 'UPDATE'), 'attachments: no UPDATE';
    ASSERT NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = 'attachments'::regclass
                                                 AND polcmd IN ('w', '*')), 'attachments: no UPDATE policy';
END
$$;

-- -------------------------------------------------------------------- tasks
-- The county unit updates T1 and T2 (both led by it): moving them to a
-- sibling county, to another prefecture's county or up to the province
-- leaves its scope; an update that keeps them its own passes.
BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE tasks SET owner_org_id = t.org('620103')$q$);
    e := e || t.want('42501', $q$UPDATE tasks SET owner_org_id = t.org('620702')$q$);
    e := e || t.want('42501', $q$UPDATE tasks SET owner_org_id = t.org('620000')$q$);
    e := e || t.want('42501', $q$UPDATE tasks SET owner_org_id = t.org('620103') WHERE code = 'T1'$q$);
    e := e || t.want('rows=2', $q$UPDATE tasks SET percent = 10, owner_org_id = t.org('620102')$q$);
    PERFORM t.done(e);
    ASSERT t.owner_of('tasks', 'true') = '620102,620102', 'T1 and T2 stay with the county';
END
$$;
ROLLBACK;

-- The prefecture unit: from one of its counties to another, or to itself,
-- passes; out of the prefecture is refused.
BEGIN;
SELECT t.act_as('prefecture') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE tasks SET owner_org_id = t.org('620702')$q$);
    e := e || t.want('42501', $q$UPDATE tasks SET owner_org_id = t.org('GS-EE')$q$);
    e := e || t.want('rows=2', $q$UPDATE tasks SET owner_org_id = t.org('620103')$q$);
    e := e || t.want('rows=2', $q$UPDATE tasks SET owner_org_id = t.org('620100')$q$);
    PERFORM t.done(e);
    ASSERT t.owner_of('tasks', 'true') = '620100,620100', 'T1 and T2 moved inside the prefecture';
END
$$;
ROLLBACK;

-- The co-operating org sees T2 (only) through co_org_ids: an update that
-- keeps it in the list passes (a progress report sets percent), taking it
-- out of the list is refused.
BEGIN;
SELECT t.act_as('coorg') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE tasks SET co_org_ids = '{}'$q$);
    e := e || t.want('42501', $q$UPDATE tasks SET co_org_ids = ARRAY[t.org('620103')]$q$);
    e := e || t.want('rows=1', $q$UPDATE tasks SET percent = 20$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;

-- The office (province-wide) reassigns tasks to any org, as PATCH /tasks and
-- the ledger import do.
BEGIN;
SELECT t.act_as('office') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('rows=2', $q$UPDATE tasks SET owner_org_id = t.org('620702'), co_org_ids = '{}'$q$);
    e := e || t.want('rows=1', $q$UPDATE tasks SET owner_org_id = t.org('GS-EE') WHERE code = 'T1'$q$);
    PERFORM t.done(e);
    ASSERT t.owner_of('tasks', 'true') = '620702,GS-EE', 'the office moved T1 and T2';
END
$$;
ROLLBACK;

-- --------------------------------------------------------------- complaints
-- A complaint is the caller's while its owner (the responsible org, else the
-- county) or its county is in the caller's subtree.
-- The county unit updates C1 and C2 (both on its territory): moving them to
-- another county is refused; assigning them elsewhere keeps them on the
-- county's territory, so in its scope.
BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE complaints SET county_org_id = t.org('620103')$q$);
    e := e || t.want('42501', $q$UPDATE complaints SET county_org_id = t.org('620702'),
                                                       responsible_org_id = t.org('620702')$q$);
    e := e || t.want('42501', $q$UPDATE complaints SET county_org_id = t.org('620103') WHERE handover_no = 'C1'$q$);
    e := e || t.want('rows=2', $q$UPDATE complaints SET address = '城关区'$q$);
    e := e || t.want('rows=2', $q$UPDATE complaints SET responsible_org_id = t.org('GS-NR')$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;

-- The department updates C2 only, as its responsible org: handing it to
-- another department or to the county leaves its scope; recording a result
-- does not.
BEGIN;
SELECT t.act_as('dept') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE complaints SET responsible_org_id = t.org('GS-NR')$q$);
    e := e || t.want('42501', $q$UPDATE complaints SET responsible_org_id = t.org('620102')$q$);
    e := e || t.want('rows=1', $q$UPDATE complaints SET result = '已查处'$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;

-- The prefecture unit and the prefecture's integration client (imports
-- upsert counties): between the prefecture's counties passes, out of the
-- prefecture is refused.
BEGIN;
SELECT t.act_as('prefecture') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE complaints SET county_org_id = t.org('620702')$q$);
    e := e || t.want('rows=2', $q$UPDATE complaints SET county_org_id = t.org('620103')$q$);
    e := e || t.want('rows=2', $q$UPDATE complaints SET responsible_org_id = t.org('620104')$q$);
    PERFORM t.done(e);
    ASSERT t.owner_of('complaints', 'true') = '620104,620104', 'C1 and C2 moved inside the prefecture';
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('integration') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE complaints SET county_org_id = t.org('620702')$q$);
    e := e || t.want('rows=2', $q$UPDATE complaints SET county_org_id = t.org('620103')$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;

-- The office assigns and reassigns anywhere.
BEGIN;
SELECT t.act_as('office') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('rows=2', $q$UPDATE complaints SET county_org_id = t.org('620702'),
                                                      responsible_org_id = t.org('GS-NR')$q$);
    e := e || t.want('rows=1', $q$UPDATE complaints SET responsible_org_id = t.org('620702') WHERE handover_no = 'C1'$q$);
    PERFORM t.done(e);
    ASSERT t.owner_of('complaints', 'true') = '620702,GS-NR', 'the office moved C1 and C2';
END
$$;
ROLLBACK;

-- ----------------------------------------------------------------- problems
-- Only the office and admin update problems (province-wide: every move is in
-- their scope); a unit updates none, in its scope or not.
BEGIN;
SELECT t.act_as('prefecture') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('rows=0', $q$UPDATE problems SET owner_org_id = t.org('620103')$q$);
    e := e || t.want('rows=0', $q$UPDATE problems SET owner_org_id = t.org('620702')$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('office') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('rows=2', $q$UPDATE problems SET owner_org_id = t.org('620702')$q$);
    e := e || t.want('rows=1', $q$UPDATE problems SET owner_org_id = t.org('GS-EE') WHERE code = 'P1'$q$);
    PERFORM t.done(e);
    ASSERT t.owner_of('problems', 'true') = '620702,GS-EE', 'the office moved P1 and P2';
END
$$;
ROLLBACK;

-- The role alone is not the scope: settings naming a role but no user
-- (scope root NULL; begin_request never sets them so) update no problem.
BEGIN;
SELECT set_config('role', 'rectify_api', true), set_config('rectify.user_id', '', true),
       set_config('rectify.org_id', '', true), set_config('rectify.org_path', '', true),
       set_config('rectify.roles', 'office', true), set_config('rectify.scope_key', '', true),
       set_config('rectify.request_id', 'test-no-user', true) \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('rows=0', $q$UPDATE problems SET owner_org_id = t.org('620702')$q$);
    e := e || t.want('rows=0', $q$UPDATE tasks SET owner_org_id = t.org('620702')$q$);
    e := e || t.want('rows=0', $q$UPDATE complaints SET county_org_id = t.org('620702')$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;

-- -------------------------------------------------------------- attachments
-- Immutable: no UPDATE at all, in scope or not.
BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('42501', $q$UPDATE attachments SET owner_org_id = t.org('620103')$q$);
    e := e || t.want('42501', $q$UPDATE attachments SET owner_org_id = t.org('620102')$q$);
    PERFORM t.done(e);
END
$$;
ROLLBACK;
