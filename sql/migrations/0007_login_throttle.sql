-- 0007_login_throttle.sql — sign-in throttling.
--
-- Keys (the service builds them; the database normalizes 'u:' keys to lower case):
--   'u:<username>'   per account (also for names that do not exist, so the
--                    answer does not reveal which accounts exist)
--   'ip:<address>'   per client address
--
-- Policy:
--   * A key's failures form a run; the run ends, and the count starts again,
--     after 15 minutes without a failure (not counting time spent locked).
--   * From the 5th failure in a run of a 'u:' key (20th for 'ip:') the key is
--     locked for 1 minute, doubling with every further failure:
--     1, 2, 4, 8 minutes, then capped at 15 minutes.
--   * A success clears the 'u:' keys it is given, never the 'ip:' key (one
--     valid account must not reset an address that is guessing others).
--
-- Flow in the service, per sign-in:
--   wait := rectify.login_throttle_check(ARRAY['u:'||name, 'ip:'||addr]);
--   wait > 0 → 429 with Retry-After: wait (do not verify the password,
--              do not call login_failed);
--   bad password / unknown user / disabled → rectify.login_failed(keys)
--              (returns the wait now in effect, usable as Retry-After);
--   success → rectify.login_succeeded(keys, user_id)  (also sets last_login_at).
-- Concurrent attempts can all pass the check before their failures are
-- counted; Argon2's cost bounds that burst.

CREATE TABLE login_attempts (
    key              text        PRIMARY KEY
                                 CONSTRAINT login_attempts_key_format CHECK (key ~ '^(u|ip):.' AND length(key) <= 300),
    window_start     timestamptz NOT NULL,          -- first failure of the current run
    last_failure_at  timestamptz NOT NULL,
    failures         integer     NOT NULL CHECK (failures > 0),
    locked_until     timestamptz,
    CHECK (last_failure_at >= window_start)
);
COMMENT ON TABLE login_attempts IS 'Sign-in failure counters per account and per address; used only via rectify.login_* functions.';
ALTER TABLE login_attempts ENABLE ROW LEVEL SECURITY;   -- no policy, no grant

-- Normalize a key; reject unknown kinds (a typo would silently disable throttling).
CREATE FUNCTION rectify.login_key(k text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF k LIKE 'u:_%' THEN
        RETURN 'u:' || lower(btrim(substr(k, 3)));
    ELSIF k LIKE 'ip:_%' THEN
        RETURN k;
    END IF;
    RAISE EXCEPTION 'login throttle key must start with u: or ip:, got %', k
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- Failures in a run before a key locks.
CREATE FUNCTION rectify.login_threshold(k text) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN k LIKE 'ip:%' THEN 20 ELSE 5 END $$;

-- Seconds to wait before the next attempt (0 = allowed): the longest lock
-- among the keys.
CREATE FUNCTION rectify.login_throttle_check(keys text[]) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER      -- clock_timestamp()
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT coalesce(max(ceil(extract(epoch FROM a.locked_until - clock_timestamp()))), 0)::integer
      FROM login_attempts a
     WHERE a.key IN (SELECT rectify.login_key(k) FROM unnest(keys) AS k)
       AND a.locked_until > clock_timestamp()
    $$;

-- Record a failed attempt for every key; returns the wait now in effect.
CREATE FUNCTION rectify.login_failed(keys text[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    k      text;
    a      login_attempts%ROWTYPE;
    t      timestamptz := clock_timestamp();
    quiet  constant interval := interval '15 minutes';
    cap    constant interval := interval '15 minutes';
    lim    integer;
BEGIN
    FOR k IN SELECT DISTINCT rectify.login_key(x) FROM unnest(keys) AS x ORDER BY 1 LOOP
        lim := rectify.login_threshold(k);
        INSERT INTO login_attempts (key, window_start, last_failure_at, failures)
        VALUES (k, t, t, 1)
        ON CONFLICT (key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT * INTO a FROM login_attempts WHERE key = k FOR UPDATE;
            IF t >= greatest(a.last_failure_at, a.locked_until) + quiet THEN
                a.window_start := t;                -- a new run
                a.failures := 1;
            ELSE
                a.failures := a.failures + 1;
            END IF;
            a.last_failure_at := t;
        ELSE
            a := ROW(k, t, t, 1, NULL);
        END IF;
        IF a.failures >= lim THEN
            -- 2^(failures-lim) minutes, computed in a way that cannot overflow.
            a.locked_until := t + least(cap, interval '1 minute' * power(2, least(a.failures - lim, 10)));
        ELSE
            a.locked_until := NULL;
        END IF;
        UPDATE login_attempts
           SET window_start = a.window_start, last_failure_at = a.last_failure_at,
               failures = a.failures, locked_until = a.locked_until
         WHERE key = k;
    END LOOP;
    RETURN rectify.login_throttle_check(keys);
END
$$;

-- A successful sign-in: clear the account keys, stamp last_login_at.
CREATE FUNCTION rectify.login_succeeded(keys text[], p_user_id bigint DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    DELETE FROM login_attempts
     WHERE key IN (SELECT rectify.login_key(k) FROM unnest(keys) AS k)
       AND key LIKE 'u:%';
    IF p_user_id IS NOT NULL THEN
        UPDATE users SET last_login_at = now() WHERE id = p_user_id;
    END IF;
END
$$;

-- Housekeeping (a job, as the owner): forget keys idle for p_keep.
CREATE FUNCTION rectify.login_attempts_purge(p_keep interval DEFAULT interval '1 day') RETURNS bigint
    LANGUAGE sql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH gone AS (
        DELETE FROM login_attempts
         WHERE greatest(last_failure_at, locked_until) < now() - p_keep
        RETURNING 1
    )
    SELECT count(*) FROM gone
    $$;

REVOKE EXECUTE ON FUNCTION rectify.login_throttle_check(text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.login_failed(text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.login_succeeded(text[], bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.login_attempts_purge(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.login_throttle_check(text[]) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.login_failed(text[]) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.login_succeeded(text[], bigint) TO rectify_api;
