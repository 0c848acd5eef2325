-- 0005_users.sql — users, their access rules, and the lookups used by sign-in
-- and by every authenticated request.
--
-- A user belongs to one org and has one or more roles.  Tokens carry the
-- user's token_epoch; the service compares it on every request
-- (rectify.principal_check / rectify.principal_load), so bumping the epoch
-- kills every token issued before.  The epoch is bumped by trigger when the
-- password, the roles or the org change, or the user is disabled.

CREATE TABLE users (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored lower-case (trigger), so the unique constraint is case-insensitive.
    username       text        NOT NULL
                               CONSTRAINT users_username_key UNIQUE
                               CONSTRAINT users_username_format CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{1,63}$'),
    display_name   text        NOT NULL
                               CONSTRAINT users_display_name_length CHECK (length(btrim(display_name)) BETWEEN 1 AND 100),
    org_id         bigint      NOT NULL REFERENCES orgs (id) ON DELETE RESTRICT,
    -- Sorted, without duplicates (trigger).
    roles          text[]      NOT NULL
                               CONSTRAINT users_roles_valid CHECK (
                                   cardinality(roles) > 0
                                   AND array_ndims(roles) = 1
                                   AND array_position(roles, NULL) IS NULL
                                   AND roles <@ '{admin,office,leader,unit,acceptor,inspector,discipline,integration,viewer}'::text[]),
    -- Argon2id string from libsodium crypto_pwhash_str ("$argon2id$v=19$m=…").
    -- NULL: the user signs in only through the provincial identity platform.
    password_hash  text        CONSTRAINT users_password_hash_format CHECK (password_hash LIKE '$argon2id$%'),
    -- Users are disabled, never deleted: audit entries, tasks and reports keep
    -- pointing at them.
    disabled       boolean     NOT NULL DEFAULT false,
    token_epoch    integer     NOT NULL DEFAULT 0 CHECK (token_epoch >= 0),
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
COMMENT ON TABLE users IS 'Accounts. Disable instead of delete. password_hash is never readable by rectify_api.';
COMMENT ON COLUMN users.token_epoch IS
    'Tokens carry it; bumped (never lowered) on password, roles or org change and on disable, which invalidates them.';
CREATE INDEX users_org_idx ON users (org_id);

CREATE FUNCTION rectify.users_normalize() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.username := lower(btrim(NEW.username));
    IF NEW.roles IS NOT NULL THEN       -- NULL stays NULL: a NOT NULL violation
        NEW.roles := ARRAY(SELECT DISTINCT r FROM unnest(NEW.roles) AS r ORDER BY r);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Never lower the epoch (that would resurrect old tokens); bump it when
        -- what a token asserts about the user stops being true.
        NEW.token_epoch := greatest(NEW.token_epoch, OLD.token_epoch);
        IF NEW.password_hash IS DISTINCT FROM OLD.password_hash
           OR NEW.roles IS DISTINCT FROM OLD.roles
           OR NEW.org_id IS DISTINCT FROM OLD.org_id
           OR (NEW.disabled AND NOT OLD.disabled) THEN
            NEW.token_epoch := greatest(NEW.token_epoch, OLD.token_epoch + 1);
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_normalize BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION rectify.users_normalize();
-- A sign-in (last_login_at) is not a new version of the user.
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version('last_login_at');
-- password_hash never reaches the audit log (only the fact that it changed);
-- sign-ins are not audit events (the access log records them).
SELECT rectify.enable_audit('users', redact_columns => '{password_hash}',
                                     ignore_columns => '{last_login_at}');

-- ---------------------------------------------------------------------------
-- Access rules:
--   admin   reads and changes every user;
--   office  reads every user, creates and changes users that are not admins
--           and cannot make anyone admin (WITH CHECK on the new row);
--   anyone  reads its own row.
-- No DELETE (disable instead).  password_hash is not readable through the API
-- at all: SELECT is granted per column, so the service must name its columns
-- (no `SELECT *` / `RETURNING *` on users as rectify_api).
-- Changing one's own password goes through rectify.set_own_password().
-- ---------------------------------------------------------------------------
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_read ON users FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL
           AND (rectify.has_any_role('{admin,office}'::text[]) OR id = rectify.user_id()));
CREATE POLICY users_insert ON users FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_role('admin')
                OR (rectify.has_role('office') AND NOT 'admin' = ANY (roles)));
CREATE POLICY users_update ON users FOR UPDATE TO rectify_api
    USING      (rectify.has_role('admin')
                OR (rectify.has_role('office') AND NOT 'admin' = ANY (roles)))
    WITH CHECK (rectify.has_role('admin')
                OR (rectify.has_role('office') AND NOT 'admin' = ANY (roles)));

GRANT SELECT (id, username, display_name, org_id, roles, disabled, token_epoch,
              version, created_at, updated_at, last_login_at) ON users TO rectify_api;
GRANT INSERT (username, display_name, org_id, roles, password_hash, disabled) ON users TO rectify_api;
-- token_epoch: `SET token_epoch = token_epoch + 1` signs a user out everywhere.
GRANT UPDATE (username, display_name, org_id, roles, password_hash, disabled, token_epoch)
    ON users TO rectify_api;

-- ---------------------------------------------------------------------------
-- Sign-in: find the account before any identity exists (RLS would hide it).
-- Returns zero or one row.  Disabled users are returned too, so that the
-- service can spend the same Argon2 time on them and answer identically.
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.auth_lookup(username text)
    RETURNS TABLE (id bigint, username text, display_name text,
                   org_id bigint, org_code text, org_path text,
                   roles text[], password_hash text, disabled boolean, token_epoch integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT u.id, u.username, u.display_name, u.org_id, o.code, o.path::text,
           u.roles, u.password_hash, u.disabled, u.token_epoch
      FROM users u JOIN orgs o ON o.id = u.org_id
     WHERE u.username = lower(btrim($1))
    $$;
REVOKE EXECUTE ON FUNCTION rectify.auth_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.auth_lookup(text) TO rectify_api;

-- Every authenticated request: is the token's user still valid?  One primary
-- key lookup.
CREATE FUNCTION rectify.principal_check(user_id bigint, epoch integer) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT EXISTS (SELECT 1 FROM users u
                    WHERE u.id = $1 AND u.token_epoch = $2 AND NOT u.disabled)
    $$;
REVOKE EXECUTE ON FUNCTION rectify.principal_check(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.principal_check(bigint, integer) TO rectify_api;

-- Same check, returning the user's current org and roles (zero rows when the
-- token is no longer valid).  Using this instead of org/roles claims means a
-- moved org's new path takes effect at once.  Since org or role changes bump
-- the epoch, claims and this row agree whenever the epoch matches — except
-- for the org path, which changes when an ancestor org moves.
CREATE FUNCTION rectify.principal_load(user_id bigint, epoch integer)
    RETURNS TABLE (id bigint, username text, display_name text,
                   org_id bigint, org_code text, org_path text, roles text[])
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT u.id, u.username, u.display_name, u.org_id, o.code, o.path::text, u.roles
      FROM users u JOIN orgs o ON o.id = u.org_id
     WHERE u.id = $1 AND u.token_epoch = $2 AND NOT u.disabled
    $$;
REVOKE EXECUTE ON FUNCTION rectify.principal_load(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.principal_load(bigint, integer) TO rectify_api;

-- The caller (rectify.user_id) sets its own password hash.  The service
-- verifies the old password first (auth_lookup gives the hash).  Returns the
-- new token_epoch — the caller's tokens are now dead; issue new ones in the
-- same transaction — or NULL when there is no such enabled user.
CREATE FUNCTION rectify.set_own_password(new_hash text) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    UPDATE users SET password_hash = $1
     WHERE id = rectify.user_id() AND NOT disabled
    RETURNING token_epoch
    $$;
REVOKE EXECUTE ON FUNCTION rectify.set_own_password(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.set_own_password(text) TO rectify_api;
