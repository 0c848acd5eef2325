-- Row-level security: org scope on a business table built with the scope
-- pattern, orgs/users/audit_log access, privileges of rectify_api.
-- Identity is set exactly as the service does it (set_config(..., true) inside
-- a transaction), through the helper t.act_as().
\set ON_ERROR_STOP 1

-- ---------------------------------------------------------------- fixtures
CREATE SCHEMA t;
GRANT USAGE ON SCHEMA t TO rectify_api;

-- A scoped business table, declared the way later migrations will.
CREATE TABLE scope_demo (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_org_id    bigint NOT NULL REFERENCES orgs (id),
    owner_org_path  ltree  NOT NULL,
    label           text   NOT NULL
);
CREATE INDEX scope_demo_scope_gist ON scope_demo USING gist (owner_org_path);
SELECT rectify.enable_scope('scope_demo') \g /dev/null
ALTER TABLE scope_demo ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope_demo_read ON scope_demo FOR SELECT TO rectify_api
    USING (rectify.in_scope(owner_org_path));
CREATE POLICY scope_demo_insert ON scope_demo FOR INSERT TO rectify_api
    WITH CHECK (rectify.in_scope(owner_org_path) AND rectify.has_any_role('{office,unit}'));
GRANT SELECT ON scope_demo TO rectify_api;
GRANT INSERT (owner_org_id, owner_org_path, label) ON scope_demo TO rectify_api;

INSERT INTO scope_demo (owner_org_id, owner_org_path, label)
SELECT id, '', code FROM orgs
 WHERE code IN ('620000', '620100', '620102', '620103', '620500', 'GS-EE', 'CEEPI-4');

-- Users (inserted as the owner: bootstrapping bypasses RLS).
INSERT INTO users (username, display_name, org_id, roles, password_hash)
SELECT v.username, v.username, o.id, v.roles, '$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g'
  FROM (VALUES ('county',     '620102',    '{unit}'::text[]),
               ('prefecture', '620100',    '{unit,acceptor}'),
               ('office',     'GS-OFFICE', '{office}'),
               ('leader',     'GS-LG',     '{leader}'),
               ('discipline', 'GS-CDI',    '{discipline}'),
               ('viewer',     '620500',    '{viewer}'),
               ('inspector',  'CEEPI-4',   '{inspector}'),
               ('admin',      '620000',    '{admin}')) AS v(username, org_code, roles)
  JOIN orgs o ON o.code = v.org_code;

-- Become a user the way the service does at the start of a request.
CREATE FUNCTION t.act_as(p_username text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    u record;
BEGIN
    PERFORM set_config('role', 'none', true);          -- back to the owner to look the user up
    SELECT us.id, us.org_id, o.path, us.roles INTO STRICT u
      FROM users us JOIN orgs o ON o.id = us.org_id WHERE us.username = p_username;
    PERFORM set_config('role', 'rectify_api', true),
            set_config('rectify.user_id', u.id::text, true),
            set_config('rectify.org_id', u.org_id::text, true),
            set_config('rectify.org_path', u.path::text, true),
            set_config('rectify.roles', array_to_string(u.roles, ','), true),
            set_config('rectify.request_id', 'test-' || p_username, true);
END
$$;

CREATE FUNCTION t.act_anonymous() RETURNS void
    LANGUAGE sql
    AS $$
    SELECT set_config('role', 'rectify_api', true), set_config('rectify.user_id', '', true),
           set_config('rectify.org_id', '', true), set_config('rectify.org_path', '', true),
           set_config('rectify.roles', '', true), set_config('rectify.request_id', 'test-anon', true);
    $$;

-- Labels (org codes) of the scope_demo rows the current caller sees.
CREATE FUNCTION t.visible() RETURNS text[]
    LANGUAGE sql
    AS $$ SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM scope_demo $$;

-- ------------------------------------------------------- scope_demo scope
BEGIN;
SELECT t.act_anonymous() \g /dev/null
DO $$
BEGIN
    ASSERT current_user = 'rectify_api', 'runs as rectify_api';
    ASSERT t.visible() = '{}', 'anonymous sees no scoped rows';
    ASSERT (SELECT count(*) FROM orgs) = 0, 'anonymous sees no orgs';
    ASSERT (SELECT count(*) FROM users) = 0, 'anonymous sees no users';
    ASSERT NOT rectify.sees_province() AND rectify.scope_root() IS NULL, 'anonymous scope';
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$
BEGIN
    ASSERT t.visible() = '{620102}', 'county sees its own org only: ' || t.visible()::text;
    ASSERT rectify.in_scope((SELECT path FROM orgs WHERE code = '620102')), 'in_scope own org';
    ASSERT NOT rectify.in_scope((SELECT path FROM orgs WHERE code = '620100')), 'not in_scope parent';
    ASSERT (SELECT count(*) FROM orgs) >= 127, 'orgs are readable by every authenticated user';
    ASSERT (SELECT array_agg(username) FROM users) = '{county}', 'a unit user sees only itself';
END
$$;
-- Inserting for its own org works; the path is set by the trigger, not the client.
INSERT INTO scope_demo (owner_org_id, owner_org_path, label)
VALUES ((SELECT id FROM orgs WHERE code = '620102'), '999', 'mine');
DO $$
BEGIN
    ASSERT (SELECT owner_org_path FROM scope_demo WHERE label = 'mine')
         = (SELECT path FROM orgs WHERE code = '620102'), 'forged owner_org_path replaced';
    -- Outside its subtree, even with a forged in-scope path: rejected by WITH CHECK.
    BEGIN
        INSERT INTO scope_demo (owner_org_id, owner_org_path, label)
        VALUES ((SELECT id FROM orgs WHERE code = '620500'),
                (SELECT path FROM orgs WHERE code = '620102'), 'theirs');
        RAISE EXCEPTION 'insert outside scope accepted';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    ASSERT (SELECT count(*) FROM scope_demo) = 2, 'two rows in scope now';
END
$$;
ROLLBACK;

-- The policy is index-friendly: rectify.in_scope() inlines to `path <@ <stable expr>`.
BEGIN;
SELECT t.act_as('county') \g /dev/null
SET LOCAL enable_seqscan = off;
DO $$
DECLARE
    plan text := '';
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN SELECT * FROM scope_demo' LOOP
        plan := plan || line || E'\n';
    END LOOP;
    ASSERT plan LIKE '%scope_demo_scope_gist%', 'policy uses the GiST index: ' || plan;
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('prefecture') \g /dev/null
DO $$
BEGIN
    ASSERT t.visible() = '{620100,620102,620103}', 'prefecture sees its subtree: ' || t.visible()::text;
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('viewer') \g /dev/null
DO $$ BEGIN ASSERT t.visible() = '{620500}', 'viewer is scoped to its org: ' || t.visible()::text; END $$;
ROLLBACK;

BEGIN;
SELECT t.act_as('inspector') \g /dev/null
DO $$ BEGIN ASSERT t.visible() = '{CEEPI-4}', 'inspection team sees its own root: ' || t.visible()::text; END $$;
ROLLBACK;

-- Province-wide roles see everything.
DO $$
DECLARE
    who text;
BEGIN
    FOREACH who IN ARRAY ARRAY['office', 'leader', 'discipline', 'admin'] LOOP
        PERFORM t.act_as(who);
        ASSERT rectify.sees_province(), who || ' sees the province';
        ASSERT cardinality(t.visible()) = 7, who || ' sees all rows: ' || t.visible()::text;
    END LOOP;
    PERFORM set_config('role', 'none', true);
END
$$;

-- ------------------------------------------------------------------ orgs
BEGIN;
SELECT t.act_as('office') \g /dev/null
DO $$
BEGIN
    BEGIN
        INSERT INTO orgs (code, name, kind) VALUES ('T-NEW', 'x', 'other');
        RAISE EXCEPTION 'office created an org';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    UPDATE orgs SET name = 'x' WHERE code = '620100';
    ASSERT NOT FOUND, 'office cannot update orgs (no row visible to UPDATE)';
    BEGIN
        UPDATE orgs SET path = '1' WHERE code = '620100';
        RAISE EXCEPTION 'path is writable';
    EXCEPTION WHEN insufficient_privilege THEN NULL;    -- no column privilege
    END;
    BEGIN
        DELETE FROM orgs WHERE code = '620100';
        RAISE EXCEPTION 'org deleted';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('admin') \g /dev/null
INSERT INTO orgs (code, name, kind, parent_id)
VALUES ('T-NEW', '新单位', 'other', (SELECT id FROM orgs WHERE code = '620102'));
UPDATE orgs SET name = '城关区（改）' WHERE code = '620102';
DO $$
BEGIN
    ASSERT (SELECT path FROM orgs WHERE code = 'T-NEW')
         = (SELECT path FROM orgs WHERE code = '620102') || (SELECT id FROM orgs WHERE code = 'T-NEW')::text,
           'admin-created org gets its path';
END
$$;
ROLLBACK;

-- ----------------------------------------------------------------- users
BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$
BEGIN
    BEGIN
        PERFORM password_hash FROM users;
        RAISE EXCEPTION 'password_hash readable';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    UPDATE users SET roles = '{admin}' WHERE username = 'county';
    ASSERT NOT FOUND, 'a user cannot change its own roles';
    ASSERT rectify.set_own_password('$argon2id$v=19$new') = 1, 'own password set, epoch bumped';
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('office') \g /dev/null
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM users) = 8, 'office sees all users';
    BEGIN
        PERFORM password_hash FROM users;
        RAISE EXCEPTION 'password_hash readable by office';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    INSERT INTO users (username, display_name, org_id, roles)
    VALUES ('New.Unit', '新用户', (SELECT id FROM orgs WHERE code = '620103'), '{unit,unit}');
    ASSERT (SELECT roles FROM users WHERE username = 'new.unit') = '{unit}',
           'username lower-cased, roles de-duplicated';
    BEGIN
        INSERT INTO users (username, display_name, org_id, roles)
        VALUES ('evil', 'x', (SELECT id FROM orgs WHERE code = '620103'), '{admin}');
        RAISE EXCEPTION 'office created an admin';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    BEGIN
        UPDATE users SET roles = '{admin,unit}' WHERE username = 'county';
        RAISE EXCEPTION 'office made someone admin';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    UPDATE users SET disabled = true WHERE username = 'admin';
    ASSERT NOT FOUND, 'office cannot change an admin';
    UPDATE users SET disabled = true WHERE username = 'county';
    ASSERT FOUND, 'office disables a unit user';
    BEGIN
        DELETE FROM users WHERE username = 'county';
        RAISE EXCEPTION 'user deleted';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    BEGIN
        INSERT INTO users (username, display_name, org_id, roles)
        VALUES ('bad', 'x', (SELECT id FROM orgs WHERE code = '620103'), '{superhero}');
        RAISE EXCEPTION 'unknown role accepted';
    EXCEPTION WHEN check_violation THEN NULL;
    END;
    BEGIN
        INSERT INTO users (username, display_name, org_id, roles)
        VALUES ('NEW.UNIT', 'dup', (SELECT id FROM orgs WHERE code = '620103'), '{unit}');
        RAISE EXCEPTION 'case-insensitive duplicate accepted';
    EXCEPTION WHEN unique_violation THEN NULL;
    END;
END
$$;
ROLLBACK;

BEGIN;
SELECT t.act_as('admin') \g /dev/null
INSERT INTO users (username, display_name, org_id, roles)
VALUES ('admin2', 'Admin 2', (SELECT id FROM orgs WHERE code = '620000'), '{admin}');
ROLLBACK;

-- -------------------------------------------- audit_log and private tables
BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$ BEGIN ASSERT (SELECT count(*) FROM audit_log) = 0, 'unit users see no audit entries'; END $$;
ROLLBACK;

DO $$
DECLARE
    who text;
BEGIN
    FOREACH who IN ARRAY ARRAY['office', 'discipline', 'admin'] LOOP
        PERFORM t.act_as(who);
        ASSERT (SELECT count(*) FROM audit_log) > 0, who || ' reads the audit log';
        BEGIN
            INSERT INTO audit_log (id, table_name, action, after, prev_hash, hash)
            VALUES (1000000, 'x', 'insert', '{}', '\x00', sha256('\x00'));
            RAISE EXCEPTION '% inserted into audit_log', who;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
        BEGIN
            UPDATE audit_log SET after = '{}' WHERE id = 1;
            RAISE EXCEPTION '% updated audit_log', who;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
        BEGIN
            DELETE FROM audit_log WHERE id = 1;
            RAISE EXCEPTION '% deleted from audit_log', who;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
        BEGIN
            TRUNCATE audit_log;
            RAISE EXCEPTION '% truncated audit_log', who;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
        BEGIN
            PERFORM rectify.audit_append('x', '1', 'insert', NULL, '{}', '{}');
            RAISE EXCEPTION '% called audit_append', who;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
    END LOOP;
    PERFORM set_config('role', 'none', true);
END
$$;

DO $$
DECLARE
    tbl text;
BEGIN
    PERFORM t.act_as('admin');
    FOREACH tbl IN ARRAY ARRAY['audit_head', 'refresh_tokens', 'login_attempts', 'rectify.scoped_tables'] LOOP
        BEGIN
            EXECUTE format('SELECT count(*) FROM %s', tbl);
            RAISE EXCEPTION 'rectify_api can read %', tbl;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
    END LOOP;
    BEGIN
        PERFORM rectify.enable_audit('orgs');
        RAISE EXCEPTION 'rectify_api can call enable_audit';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    PERFORM set_config('role', 'none', true);
END
$$;

-- ---------------------------------- org moves carry scoped rows along
-- Move 七里河区 (620103) from 兰州市 to 天水市, as an admin through the API
-- role: its scope_demo row follows (the cascade runs as the owner).
BEGIN;
SELECT t.act_as('admin') \g /dev/null
UPDATE orgs SET parent_id = (SELECT id FROM orgs WHERE code = '620500') WHERE code = '620103';
COMMIT;
DO $$
BEGIN
    ASSERT (SELECT d.owner_org_path FROM scope_demo d WHERE d.label = '620103')
         = (SELECT path FROM orgs WHERE code = '620103'), 'scoped row re-pathed';
    ASSERT (SELECT path FROM orgs WHERE code = '620103')
           <@ (SELECT path FROM orgs WHERE code = '620500'), 'org moved';
END
$$;
BEGIN;
SELECT t.act_as('viewer') \g /dev/null
DO $$ BEGIN ASSERT t.visible() = '{620103,620500}', 'Tianshui now sees 七里河: ' || t.visible()::text; END $$;
ROLLBACK;
BEGIN;
SELECT t.act_as('prefecture') \g /dev/null
DO $$ BEGIN ASSERT t.visible() = '{620100,620102}', 'Lanzhou no longer does: ' || t.visible()::text; END $$;
ROLLBACK;

-- Everything above kept the audit chain intact.
DO $$ BEGIN ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text; END $$;
