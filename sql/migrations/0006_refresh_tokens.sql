-- 0006_refresh_tokens.sql — rotating refresh tokens with reuse detection.
--
-- The service hands out an opaque random refresh token and stores only its
-- SHA-256 (computed by the service; 32 bytes, passed as bytea).  Each use
-- rotates it: the old token is marked rotated and a new one joins the same
-- family.  Presenting a rotated token again means two parties hold the chain
-- (theft, or a client that retried a refresh whose answer it lost): the whole
-- family is revoked and the user must sign in again.  Strict on purpose.
--
-- A token also records the user's token_epoch at issue; a password, role or
-- org change or disabling the user bumps the epoch and so ends every family.
--
-- The table is reachable only through the SECURITY DEFINER functions below
-- (rectify_api has no privileges on it).  They return a jsonb object:
--   {"status": "ok", "family_id": "…", "expires_at": "…", "user": {…}}
--   {"status": "reused", "user_id": N, "family_id": "…"}   -- family now revoked
--   {"status": "invalid"}                                   -- unknown, expired, revoked
-- where "user" is
--   {"id", "username", "display_name", "org_id", "org_code", "org_path",
--    "roles", "token_epoch"}.
-- IMPORTANT: "reused" (and "invalid" after an epoch mismatch) revoke rows;
-- the service must COMMIT the transaction, not roll it back, for that to stick.

CREATE TABLE refresh_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id    uuid        NOT NULL,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea       NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE
                             CONSTRAINT refresh_tokens_hash_sha256 CHECK (length(token_hash) = 32),
    token_epoch  integer     NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz,
    replaced_by  bigint      REFERENCES refresh_tokens (id),
    CONSTRAINT refresh_tokens_lifetime CHECK (expires_at > issued_at),
    CONSTRAINT refresh_tokens_rotation CHECK ((rotated_at IS NULL) = (replaced_by IS NULL))
);
COMMENT ON TABLE refresh_tokens IS
    'SHA-256 of refresh tokens, grouped in rotation families; used only via rectify.refresh_* functions.';
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_replaced_by_idx ON refresh_tokens (replaced_by);

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;   -- no policy, no grant: invisible to rectify_api

-- The "user" object of the answers, for an enabled user (NULL otherwise).
CREATE FUNCTION rectify.principal_json(p_user_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT jsonb_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name,
                              'org_id', u.org_id, 'org_code', o.code, 'org_path', o.path::text,
                              'roles', to_jsonb(u.roles), 'token_epoch', u.token_epoch)
      FROM users u JOIN orgs o ON o.id = u.org_id
     WHERE u.id = p_user_id AND NOT u.disabled
    $$;
REVOKE EXECUTE ON FUNCTION rectify.principal_json(bigint) FROM PUBLIC;

CREATE FUNCTION rectify.refresh_check_ttl(p_ttl interval) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF p_ttl IS NULL OR p_ttl <= interval '0' OR p_ttl > interval '366 days' THEN
        RAISE EXCEPTION 'refresh token ttl must be between 0 and 366 days, got %', p_ttl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Issue a token after a successful sign-in.  p_family NULL starts a new
-- family (a new session); an existing family of the same user may be
-- continued (e.g. after set_own_password bumped the epoch).
CREATE FUNCTION rectify.refresh_issue(p_user_id bigint, p_family uuid, p_token_hash bytea, p_ttl interval)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    u    jsonb;
    fam  uuid := coalesce(p_family, gen_random_uuid());
    exp  timestamptz;
BEGIN
    PERFORM rectify.refresh_check_ttl(p_ttl);
    u := rectify.principal_json(p_user_id);
    IF u IS NULL THEN
        RETURN jsonb_build_object('status', 'invalid');
    END IF;
    IF p_family IS NOT NULL AND EXISTS (
           SELECT 1 FROM refresh_tokens
            WHERE family_id = p_family AND (user_id <> p_user_id OR revoked_at IS NOT NULL)) THEN
        RETURN jsonb_build_object('status', 'invalid');
    END IF;
    INSERT INTO refresh_tokens (family_id, user_id, token_hash, token_epoch, expires_at)
    VALUES (fam, p_user_id, p_token_hash, (u ->> 'token_epoch')::integer, now() + p_ttl)
    RETURNING expires_at INTO exp;
    RETURN jsonb_build_object('status', 'ok', 'family_id', fam, 'expires_at', exp, 'user', u);
END
$$;

-- Exchange a refresh token for a new one.
CREATE FUNCTION rectify.refresh_rotate(p_old_hash bytea, p_new_hash bytea, p_ttl interval)
    RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t       refresh_tokens%ROWTYPE;
    u       jsonb;
    new_id  bigint;
    exp     timestamptz;
BEGIN
    PERFORM rectify.refresh_check_ttl(p_ttl);
    -- The row lock makes concurrent rotations of one token queue; the second
    -- one then sees rotated_at and is treated as reuse.
    SELECT * INTO t FROM refresh_tokens WHERE token_hash = p_old_hash FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'invalid');
    END IF;

    IF t.rotated_at IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = now()
         WHERE family_id = t.family_id AND revoked_at IS NULL;
        RETURN jsonb_build_object('status', 'reused', 'user_id', t.user_id, 'family_id', t.family_id);
    END IF;
    IF t.revoked_at IS NOT NULL OR t.expires_at <= now() THEN
        RETURN jsonb_build_object('status', 'invalid');
    END IF;

    u := rectify.principal_json(t.user_id);
    IF u IS NULL OR (u ->> 'token_epoch')::integer <> t.token_epoch THEN
        -- Disabled, or password/roles/org changed since issue: the session ends.
        UPDATE refresh_tokens SET revoked_at = now()
         WHERE family_id = t.family_id AND revoked_at IS NULL;
        RETURN jsonb_build_object('status', 'invalid');
    END IF;

    INSERT INTO refresh_tokens (family_id, user_id, token_hash, token_epoch, expires_at)
    VALUES (t.family_id, t.user_id, p_new_hash, t.token_epoch, now() + p_ttl)
    RETURNING id, expires_at INTO new_id, exp;
    UPDATE refresh_tokens SET rotated_at = now(), replaced_by = new_id WHERE id = t.id;
    RETURN jsonb_build_object('status', 'ok', 'family_id', t.family_id, 'expires_at', exp, 'user', u);
END
$$;

-- Sign out: revoke the family the token belongs to.  True when the token was
-- known (whether or not it was still valid), false otherwise.
CREATE FUNCTION rectify.refresh_revoke(p_token_hash bytea) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    fam uuid;
BEGIN
    SELECT family_id INTO fam FROM refresh_tokens WHERE token_hash = p_token_hash;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = fam AND revoked_at IS NULL;
    RETURN true;
END
$$;

-- Housekeeping (a job, as the owner): drop families whose every token
-- expired more than p_keep ago.  Revoked families are kept until then so
-- that reuse of their tokens is still recognised.
CREATE FUNCTION rectify.refresh_purge(p_keep interval DEFAULT interval '7 days') RETURNS bigint
    LANGUAGE sql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH dead AS (
        SELECT family_id FROM refresh_tokens
         GROUP BY family_id
        HAVING max(expires_at) < now() - p_keep
    ), gone AS (
        DELETE FROM refresh_tokens WHERE family_id IN (SELECT family_id FROM dead) RETURNING 1
    )
    SELECT count(*) FROM gone
    $$;

REVOKE EXECUTE ON FUNCTION rectify.refresh_check_ttl(interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.refresh_issue(bigint, uuid, bytea, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.refresh_rotate(bytea, bytea, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.refresh_revoke(bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.refresh_purge(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.refresh_issue(bigint, uuid, bytea, interval) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.refresh_rotate(bytea, bytea, interval) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.refresh_revoke(bytea) TO rectify_api;
