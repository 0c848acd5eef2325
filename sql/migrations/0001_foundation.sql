-- 0001_foundation.sql — extensions, the API role, request-context helpers,
-- the generic version/updated_at trigger.
--
-- How the service uses the database (read this before adding a table)
-- ---------------------------------------------------------------------
-- The service connects as the database OWNER.  Every API request runs in one
-- transaction that starts with
--
--   SELECT set_config('role',               'rectify_api', true),
--          set_config('rectify.user_id',    $1, true),  -- users.id as text, '' = anonymous
--          set_config('rectify.org_id',     $2, true),  -- orgs.id as text,  '' = anonymous
--          set_config('rectify.org_path',   $3, true),  -- orgs.path as text (ltree), '' = anonymous
--          set_config('rectify.roles',      $4, true),  -- 'unit,acceptor' (comma, no spaces), '' = none
--          set_config('rectify.request_id', $5, true);  -- the request id, written to audit_log
--
-- so the rest of the transaction runs as rectify_api (NOLOGIN, not the owner,
-- no BYPASSRLS) and row-level security applies.  All settings are
-- transaction-local (is_local = true): they vanish at COMMIT/ROLLBACK, so a
-- pooled connection never leaks one caller's identity into the next request.
-- Background jobs and migrations run as the owner, which bypasses RLS (the
-- tables do not use FORCE ROW LEVEL SECURITY on purpose).
--
-- Objects live in two schemas:
--   public   tables (orgs, users, audit_log, …) and the ltree / pg_trgm extensions
--   rectify  functions: request context, triggers, SECURITY DEFINER entry points
--
-- Checklist for a later migration that adds a business table:
--   1. constraints in the schema (NOT NULL, CHECK, FK, unique natural codes);
--   2. `version int NOT NULL DEFAULT 1`, `created_at`, `updated_at` and
--      CREATE TRIGGER … BEFORE UPDATE … EXECUTE FUNCTION rectify.touch_version();
--   3. SELECT rectify.enable_audit('the_table');             (0002)
--   4. if it is org-scoped: SELECT rectify.enable_scope('the_table');  (0003)
--   5. ALTER TABLE … ENABLE ROW LEVEL SECURITY; policies; and explicit GRANTs
--      to rectify_api (nothing is granted by default; grant columns, not
--      tables, when some columns must not be written through the API).
--
-- Migrations run inside a transaction opened by the migrator: no BEGIN/COMMIT
-- and no CREATE INDEX CONCURRENTLY in these files.

-- ltree: materialized org paths; pg_trgm: `q=` search.  Both are "trusted"
-- extensions, so a non-superuser database owner may create them.  gen_random_uuid()
-- and sha256() are built in (PG 13 / PG 11), so pgcrypto is not needed.
CREATE EXTENSION IF NOT EXISTS ltree WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- The API role is cluster-global and shared by every database of the cluster
-- (several test databases live side by side), so create it only if missing and
-- never drop it here.
-- Databases migrated concurrently (parallel tests) race to create the role or
-- the membership: the loser waits for the winner's commit and then fails with
-- a duplicate; that is caught and ignored.
DO $$
DECLARE
    r pg_roles%ROWTYPE;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rectify_api') THEN
        BEGIN
            CREATE ROLE rectify_api NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;                                   -- created concurrently
        END;
    END IF;
    SELECT * INTO STRICT r FROM pg_roles WHERE rolname = 'rectify_api';
    IF r.rolsuper OR r.rolbypassrls OR r.rolcanlogin THEN
        -- Row-level security would silently stop protecting anything.
        RAISE EXCEPTION 'role rectify_api exists but is SUPERUSER, BYPASSRLS or LOGIN'
            USING HINT = 'ALTER ROLE rectify_api NOSUPERUSER NOBYPASSRLS NOLOGIN';
    END IF;

    -- The owner must be a member to switch to it with set_config('role', …).
    -- A superuser (dev/test) needs no membership.  In production the owner has
    -- CREATEROLE, which in PostgreSQL 15 is enough to grant this membership.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'rectify_api', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT rectify_api TO %I', current_user);
        EXCEPTION WHEN unique_violation THEN
            NULL;                                   -- granted concurrently
        END;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS rectify;
COMMENT ON SCHEMA rectify IS
    'Functions of the rectify service: request context, triggers, SECURITY DEFINER entry points.';

GRANT USAGE ON SCHEMA rectify TO rectify_api;
GRANT USAGE ON SCHEMA public TO rectify_api;

-- ---------------------------------------------------------------------------
-- Request context.
--
-- These are plain LANGUAGE sql, STABLE, not STRICT, without SET clauses, so
-- the planner inlines them into policies and queries: in a policy such as
-- `owner_org_path <@ rectify.scope_root()` the right-hand side becomes a
-- stable expression evaluated once per scan and the GiST index on the path
-- can be used.  current_setting(…, true) returns NULL for a setting never set
-- in this session and '' after a transaction that set it locally has ended;
-- nullif(…, '') folds both into NULL.
-- ---------------------------------------------------------------------------

CREATE FUNCTION rectify.user_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('rectify.user_id', true), '')::bigint $$;
COMMENT ON FUNCTION rectify.user_id() IS 'users.id of the caller, NULL when anonymous.';

CREATE FUNCTION rectify.org_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('rectify.org_id', true), '')::bigint $$;
COMMENT ON FUNCTION rectify.org_id() IS 'orgs.id of the caller''s org, NULL when anonymous.';

CREATE FUNCTION rectify.org_path() RETURNS ltree
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('rectify.org_path', true), '')::ltree $$;
COMMENT ON FUNCTION rectify.org_path() IS 'orgs.path of the caller''s org, NULL when anonymous.';

CREATE FUNCTION rectify.roles() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(string_to_array(nullif(current_setting('rectify.roles', true), ''), ','),
                          '{}'::text[]) $$;
COMMENT ON FUNCTION rectify.roles() IS 'Roles of the caller (from rectify.roles, comma-separated), empty when anonymous.';

CREATE FUNCTION rectify.has_role(role text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(role = ANY (rectify.roles()), false) $$;

CREATE FUNCTION rectify.has_any_role(roles text[]) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(rectify.roles() && roles, false) $$;

-- Scope rules (who sees what):
--   admin, office (整改办), leader (领导小组), discipline (纪委监委)
--       see the whole province: office drives everything, the leading group
--       reads all and approves, the discipline commission needs every record
--       to pursue clues and accountability, admin administers.
--   unit, acceptor, inspector, integration, viewer
--       see the subtree of their own org.  A user of the province org
--       (620000) therefore sees the province, a county user its county.
--       `viewer` is additionally read-only; that is a write-policy matter of
--       each table (policies for INSERT/UPDATE name the roles that may write),
--       not a scope matter.  Acceptance orgs that must see a task outside
--       their subtree (谁验收谁负责) get an explicit extra policy term on that
--       table, e.g. `OR rectify.org_id() = ANY (acceptor_org_ids)`.
--   anonymous (user_id empty) sees nothing scoped.
CREATE FUNCTION rectify.sees_province() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT rectify.user_id() IS NOT NULL
                 AND rectify.has_any_role('{admin,office,leader,discipline}'::text[]) $$;
COMMENT ON FUNCTION rectify.sees_province() IS
    'True for admin, office, leader, discipline: they see every org''s rows.';

-- The root of the caller's visible tree: '' (the empty ltree, ancestor of
-- every path) for province-wide roles, the caller's org path otherwise, NULL
-- when anonymous.  `x <@ NULL` is NULL, i.e. not visible.
CREATE FUNCTION rectify.scope_root() RETURNS ltree
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN rectify.user_id() IS NULL THEN NULL
                      WHEN rectify.sees_province() THEN ''::ltree
                      ELSE rectify.org_path() END $$;

-- Written as a single `<@` so that, once inlined, the condition can use the
-- GiST index of the scope column.
CREATE FUNCTION rectify.in_scope(target_org_path ltree) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT target_org_path <@ rectify.scope_root() $$;
COMMENT ON FUNCTION rectify.in_scope(ltree) IS
    'True when a row owned by the org at target_org_path is visible to the caller (NULL, i.e. false, otherwise).';

-- ---------------------------------------------------------------------------
-- rectify.touch_version(): BEFORE UPDATE FOR EACH ROW on every mutable table.
--   version    := OLD.version + 1   (the ETag / If-Match counter; callers cannot set it)
--   updated_at := now()             (transaction time: one request, one timestamp)
--   created_at := OLD.created_at    (immutable)
-- Optional trigger arguments name columns whose change alone is not a new
-- version (users.last_login_at): if nothing else changed, the row keeps its
-- version and updated_at.  Without arguments every UPDATE bumps the version.
--
--   CREATE TRIGGER touch BEFORE UPDATE ON t
--       FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.touch_version() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR TG_LEVEL <> 'ROW' OR TG_WHEN <> 'BEFORE' THEN
        RAISE EXCEPTION 'rectify.touch_version() must be a BEFORE UPDATE FOR EACH ROW trigger';
    END IF;
    NEW.created_at := OLD.created_at;
    IF TG_NARGS > 0
       AND (to_jsonb(NEW) - TG_ARGV - 'version' - 'updated_at')
         = (to_jsonb(OLD) - TG_ARGV - 'version' - 'updated_at') THEN
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION rectify.touch_version() IS
    'BEFORE UPDATE row trigger: version + 1, updated_at = now(), created_at kept. Args: columns whose change alone does not bump.';
