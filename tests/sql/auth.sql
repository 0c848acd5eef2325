-- Sign-in support: auth_lookup, principal_check/principal_load and token
-- epochs, refresh token rotation / reuse / revocation, login throttling.
-- All functions are called as rectify_api, as the service calls them.
\set ON_ERROR_STOP 1

INSERT INTO users (username, display_name, org_id, roles, password_hash)
VALUES ('li.si', '李四', (SELECT id FROM orgs WHERE code = '620102'), '{unit,acceptor}',
        '$argon2id$v=19$m=65536,t=2,p=1$U0FMVFNBTFQ$HASH'),
       ('wang.wu', '王五', (SELECT id FROM orgs WHERE code = 'GS-OFFICE'), '{office}', NULL);

-- Anonymous, as during sign-in.
CREATE FUNCTION pg_temp.anon() RETURNS void LANGUAGE sql AS $$
    SELECT set_config('role', 'rectify_api', true), set_config('rectify.user_id', '', true),
           set_config('rectify.org_id', '', true), set_config('rectify.org_path', '', true),
           set_config('rectify.roles', '', true), set_config('rectify.request_id', 'sign-in', true) $$;
CREATE FUNCTION pg_temp.h(s text) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(convert_to(s, 'UTF8')) $$;

-- ------------------------------------------------------------ auth_lookup
BEGIN;
SELECT pg_temp.anon() \g /dev/null
DO $$
DECLARE
    r record;
BEGIN
    SELECT * INTO STRICT r FROM rectify.auth_lookup(' Li.Si ');
    ASSERT r.username = 'li.si' AND r.display_name = '李四', 'found case-insensitively';
    ASSERT r.org_code = '620102' AND nlevel(r.org_path::ltree) = 3
       AND subpath(r.org_path::ltree, -1) = r.org_id::text::ltree, 'org code and path';
    ASSERT r.roles = '{acceptor,unit}' AND r.password_hash LIKE '$argon2id$%'
       AND NOT r.disabled AND r.token_epoch = 0, 'roles, hash, state';
    ASSERT NOT EXISTS (SELECT 1 FROM rectify.auth_lookup('nobody')), 'unknown user: no row';
    ASSERT (SELECT password_hash FROM rectify.auth_lookup('wang.wu')) IS NULL, 'external user';
    -- Anonymous sees no users directly.
    ASSERT (SELECT count(*) FROM users) = 0, 'RLS still hides users';
END
$$;
ROLLBACK;

-- ------------------------------------------- principal_check and epochs
DO $$
DECLARE
    uid bigint := (SELECT id FROM users WHERE username = 'li.si');
BEGIN
    PERFORM pg_temp.anon();
    ASSERT rectify.principal_check(uid, 0), 'valid at epoch 0';
    ASSERT NOT rectify.principal_check(uid, 1), 'wrong epoch';
    ASSERT NOT rectify.principal_check(-1, 0), 'unknown user';
    ASSERT (SELECT org_code FROM rectify.principal_load(uid, 0)) = '620102', 'principal_load';
    ASSERT NOT EXISTS (SELECT 1 FROM rectify.principal_load(uid, 1)), 'principal_load, wrong epoch';
    PERFORM set_config('role', 'none', true);
END
$$;

-- What bumps the epoch: password, roles, org, disabling.  Not: display name, enabling.
DO $$
DECLARE
    uid bigint := (SELECT id FROM users WHERE username = 'li.si');
    ep  int;
BEGIN
    UPDATE users SET display_name = '李四四' WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 0, 'display name: no bump';
    UPDATE users SET password_hash = '$argon2id$v=19$x' WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 1, 'password: bump';
    UPDATE users SET roles = '{unit}' WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 2, 'roles: bump';
    UPDATE users SET roles = '{unit,unit}' WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 2, 'same roles after normalization: no bump';
    UPDATE users SET org_id = (SELECT id FROM orgs WHERE code = '620103') WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 3, 'org: bump';
    UPDATE users SET disabled = true WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 4, 'disable: bump';
    ASSERT NOT rectify.principal_check(uid, 4), 'disabled user is not a principal';
    UPDATE users SET disabled = false WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 4, 'enable: no bump';
    ASSERT rectify.principal_check(uid, 4), 'enabled again';
    UPDATE users SET token_epoch = 0 WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 4, 'the epoch never goes down';
    UPDATE users SET token_epoch = token_epoch + 1 WHERE id = uid;
    ASSERT (SELECT token_epoch FROM users WHERE id = uid) = 5, 'explicit bump: sign out everywhere';
END
$$;

-- ---------------------------------------------------------- refresh tokens
DO $$
DECLARE
    uid  bigint := (SELECT id FROM users WHERE username = 'li.si');
    r    jsonb;
    fam  uuid;
BEGIN
    PERFORM pg_temp.anon();
    r := rectify.refresh_issue(uid, NULL, pg_temp.h('t1'), interval '30 days');
    ASSERT r ->> 'status' = 'ok', r::text;
    ASSERT r -> 'user' ->> 'username' = 'li.si' AND (r -> 'user' ->> 'id')::bigint = uid
       AND r -> 'user' -> 'roles' = '["unit"]' AND r -> 'user' ->> 'org_code' = '620103'
       AND (r -> 'user' ->> 'token_epoch')::int = 5, 'user object: ' || r::text;
    ASSERT (r ->> 'expires_at')::timestamptz > now() + interval '29 days', 'expiry';
    fam := (r ->> 'family_id')::uuid;

    -- t1 → t2 → t3
    r := rectify.refresh_rotate(pg_temp.h('t1'), pg_temp.h('t2'), interval '30 days');
    ASSERT r ->> 'status' = 'ok' AND (r ->> 'family_id')::uuid = fam, r::text;
    ASSERT r -> 'user' ->> 'username' = 'li.si', 'rotate returns the user';
    r := rectify.refresh_rotate(pg_temp.h('t2'), pg_temp.h('t3'), interval '30 days');
    ASSERT r ->> 'status' = 'ok', r::text;

    -- t1 again: reuse → the whole family is revoked, t3 dies too.
    r := rectify.refresh_rotate(pg_temp.h('t1'), pg_temp.h('t4'), interval '30 days');
    ASSERT r ->> 'status' = 'reused' AND (r ->> 'user_id')::bigint = uid
       AND (r ->> 'family_id')::uuid = fam, r::text;
    r := rectify.refresh_rotate(pg_temp.h('t3'), pg_temp.h('t5'), interval '30 days');
    ASSERT r ->> 'status' = 'invalid', 'family revoked after reuse: ' || r::text;
    -- Reuse of a token of a revoked family is still reported as reuse.
    r := rectify.refresh_rotate(pg_temp.h('t2'), pg_temp.h('t6'), interval '30 days');
    ASSERT r ->> 'status' = 'reused', r::text;

    ASSERT rectify.refresh_rotate(pg_temp.h('never'), pg_temp.h('t7'), interval '1 day') ->> 'status'
           = 'invalid', 'unknown token';

    -- Logout revokes the family.
    r := rectify.refresh_issue(uid, NULL, pg_temp.h('s1'), interval '1 day');
    ASSERT rectify.refresh_rotate(pg_temp.h('s1'), pg_temp.h('s2'), interval '1 day') ->> 'status' = 'ok';
    ASSERT rectify.refresh_revoke(pg_temp.h('s2')), 'revoke known token';
    ASSERT rectify.refresh_rotate(pg_temp.h('s2'), pg_temp.h('s3'), interval '1 day') ->> 'status'
           = 'invalid', 'revoked';
    ASSERT NOT rectify.refresh_revoke(pg_temp.h('unknown')), 'revoke unknown token';

    -- A family may be continued by its own user, not by another.
    r := rectify.refresh_issue(uid, NULL, pg_temp.h('c1'), interval '1 day');
    fam := (r ->> 'family_id')::uuid;
    r := rectify.refresh_issue(uid, fam, pg_temp.h('c2'), interval '1 day');
    ASSERT r ->> 'status' = 'ok' AND (r ->> 'family_id')::uuid = fam, r::text;
    ASSERT rectify.refresh_issue((SELECT id FROM users WHERE username = 'wang.wu'), fam,
                                 pg_temp.h('c3'), interval '1 day') ->> 'status' = 'invalid',
           'foreign family';

    -- Bad ttl is a parameter error.
    BEGIN
        PERFORM rectify.refresh_issue(uid, NULL, pg_temp.h('x'), interval '-1 day');
        RAISE EXCEPTION 'negative ttl accepted';
    EXCEPTION WHEN invalid_parameter_value THEN NULL;
    END;
    -- The token table itself is out of reach.
    BEGIN
        PERFORM count(*) FROM refresh_tokens;
        RAISE EXCEPTION 'refresh_tokens readable';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    PERFORM set_config('role', 'none', true);
END
$$;

-- Expired tokens fail; epoch changes and disabling end the family.
DO $$
DECLARE
    uid  bigint := (SELECT id FROM users WHERE username = 'li.si');
    r    jsonb;
BEGIN
    PERFORM rectify.refresh_issue(uid, NULL, pg_temp.h('e1'), interval '1 hour');
    UPDATE refresh_tokens SET issued_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'
     WHERE token_hash = pg_temp.h('e1');
    ASSERT rectify.refresh_rotate(pg_temp.h('e1'), pg_temp.h('e2'), interval '1 hour') ->> 'status'
           = 'invalid', 'expired';

    PERFORM rectify.refresh_issue(uid, NULL, pg_temp.h('p1'), interval '1 hour');
    UPDATE users SET password_hash = '$argon2id$v=19$changed' WHERE id = uid;     -- epoch bump
    ASSERT rectify.refresh_rotate(pg_temp.h('p1'), pg_temp.h('p2'), interval '1 hour') ->> 'status'
           = 'invalid', 'password changed since issue';
    ASSERT (SELECT revoked_at FROM refresh_tokens WHERE token_hash = pg_temp.h('p1')) IS NOT NULL,
           'family revoked on epoch mismatch';

    PERFORM rectify.refresh_issue(uid, NULL, pg_temp.h('d1'), interval '1 hour');
    UPDATE users SET disabled = true WHERE id = uid;
    ASSERT rectify.refresh_rotate(pg_temp.h('d1'), pg_temp.h('d2'), interval '1 hour') ->> 'status'
           = 'invalid', 'disabled user';
    ASSERT rectify.refresh_issue(uid, NULL, pg_temp.h('d3'), interval '1 hour') ->> 'status'
           = 'invalid', 'no tokens for disabled users';
    UPDATE users SET disabled = false WHERE id = uid;

    -- Housekeeping drops families that expired long ago.
    UPDATE refresh_tokens SET issued_at = now() - interval '40 days', expires_at = now() - interval '30 days';
    ASSERT rectify.refresh_purge() > 0, 'purge reports rows';
    ASSERT NOT EXISTS (SELECT 1 FROM refresh_tokens), 'purged';
END
$$;

-- -------------------------------------------------------------- throttling
DO $$
DECLARE
    keys  text[] := ARRAY['u:Li.Si', 'ip:192.0.2.7'];
    w     int;
    i     int;
BEGIN
    PERFORM pg_temp.anon();
    ASSERT rectify.login_throttle_check(keys) = 0, 'nothing recorded yet';
    FOR i IN 1 .. 4 LOOP
        ASSERT rectify.login_failed(keys) = 0, 'failure ' || i || ' does not lock';
    END LOOP;
    w := rectify.login_failed(keys);
    ASSERT w BETWEEN 55 AND 60, '5th failure locks for a minute: ' || w;
    w := rectify.login_throttle_check(ARRAY['u:li.si']);
    ASSERT w BETWEEN 55 AND 60, 'check sees the lock (normalized key): ' || w;
    ASSERT rectify.login_throttle_check(ARRAY['ip:192.0.2.7']) = 0, 'address not locked after 5';
    ASSERT rectify.login_throttle_check(ARRAY['u:other', 'ip:192.0.2.8']) = 0, 'other keys unaffected';
    BEGIN
        PERFORM rectify.login_throttle_check(ARRAY['user:li.si']);
        RAISE EXCEPTION 'unknown key kind accepted';
    EXCEPTION WHEN invalid_parameter_value THEN NULL;
    END;
    BEGIN
        PERFORM count(*) FROM login_attempts;
        RAISE EXCEPTION 'login_attempts readable';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    PERFORM set_config('role', 'none', true);
END
$$;

-- Backoff doubles after the lock expires, and is capped at 15 minutes.
DO $$
DECLARE
    w int;
BEGIN
    UPDATE login_attempts SET locked_until = clock_timestamp() - interval '1 second' WHERE key = 'u:li.si';
    ASSERT rectify.login_throttle_check(ARRAY['u:li.si']) = 0, 'lock expired';
    w := rectify.login_failed(ARRAY['u:li.si']);
    ASSERT w BETWEEN 115 AND 120, '6th failure: 2 minutes, got ' || w;
    UPDATE login_attempts SET failures = 30 WHERE key = 'u:li.si';
    w := rectify.login_failed(ARRAY['u:li.si']);
    ASSERT w BETWEEN 895 AND 900, 'capped at 15 minutes, got ' || w;

    -- 15 quiet minutes after the lock ends: a new run starts.
    UPDATE login_attempts SET window_start = clock_timestamp() - interval '1 hour',
                              last_failure_at = clock_timestamp() - interval '40 minutes',
                              locked_until = clock_timestamp() - interval '16 minutes'
     WHERE key = 'u:li.si';
    ASSERT rectify.login_failed(ARRAY['u:li.si']) = 0, 'new run';
    ASSERT (SELECT failures FROM login_attempts WHERE key = 'u:li.si') = 1, 'count restarted';

    -- But failures spaced by less than 15 minutes keep counting.
    UPDATE login_attempts SET failures = 4, last_failure_at = clock_timestamp() - interval '14 minutes',
                              window_start = clock_timestamp() - interval '50 minutes'
     WHERE key = 'u:li.si';
    ASSERT rectify.login_failed(ARRAY['u:li.si']) > 0, 'slow guessing still locks';
END
$$;

-- Address keys lock at 20; success clears the account key only.
DO $$
DECLARE
    i int;
    w int;
BEGIN
    PERFORM pg_temp.anon();
    FOR i IN 1 .. 19 LOOP
        ASSERT rectify.login_failed(ARRAY['ip:198.51.100.1']) = 0, 'address failure ' || i;
    END LOOP;
    w := rectify.login_failed(ARRAY['ip:198.51.100.1']);     -- (BETWEEN would call it twice)
    ASSERT w BETWEEN 55 AND 60, '20th address failure locks: ' || w;

    PERFORM rectify.login_failed(ARRAY['u:wang.wu', 'ip:203.0.113.9']);
    PERFORM rectify.login_succeeded(ARRAY['u:WANG.WU', 'ip:203.0.113.9'],
                                    (SELECT id FROM rectify.auth_lookup('wang.wu')));
    PERFORM set_config('role', 'none', true);
    ASSERT NOT EXISTS (SELECT 1 FROM login_attempts WHERE key = 'u:wang.wu'), 'account key cleared';
    ASSERT EXISTS (SELECT 1 FROM login_attempts WHERE key = 'ip:203.0.113.9'), 'address key kept';
    ASSERT (SELECT last_login_at FROM users WHERE username = 'wang.wu') IS NOT NULL, 'last_login_at';

    -- Housekeeping forgets idle keys; not callable by rectify_api.
    UPDATE login_attempts SET window_start = now() - interval '3 days',
                              last_failure_at = now() - interval '2 days', locked_until = NULL;
    ASSERT rectify.login_attempts_purge() > 0, 'purge reports rows';
    ASSERT NOT EXISTS (SELECT 1 FROM login_attempts), 'purged';
    PERFORM pg_temp.anon();
    BEGIN
        PERFORM rectify.login_attempts_purge();
        RAISE EXCEPTION 'rectify_api purged';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    PERFORM set_config('role', 'none', true);
END
$$;

DO $$ BEGIN ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text; END $$;
