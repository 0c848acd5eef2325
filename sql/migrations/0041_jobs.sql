-- 0041_jobs.sql — background jobs and recurring schedules (src/jobs/runner.c).
--
-- A job is a row: kind + key (unique together: enqueueing an existing key does
-- nothing, so enqueueing is idempotent), when it may run, a JSON payload, and
-- its state:
--
--   queued ──claim──▶ running ──done──▶ done
--     ▲                  │ failed, attempts left: queued again at now() + backoff
--     └──────────────────┤ failed on the last attempt, or its lease lapsed on it
--                        ▼
--                       dead ──POST /jobs/{id}/retry──▶ queued (attempts from 0)
--
-- Workers of any number of instances claim with FOR UPDATE SKIP LOCKED and
-- take a lease (lease_until, lease_token). The lease is renewed while the
-- handler runs; a lease that lapsed means its worker died, and the job is
-- claimable again (a new attempt). Every write of a worker names its
-- lease_token, so a worker that lost its lease can no longer complete the job.
--
-- Other modules enqueue with rectify.job_enqueue() inside their own request
-- transactions (granted to rectify_api): the job exists exactly when the
-- business change committed. Workers run as the owner (no row-level security).
--
-- Recurring work: a row of job_schedules. When its next_run is due a worker
-- enqueues one job keyed 'schedule:<name>@<occurrence in UTC>' and moves
-- next_run to the next occurrence after now (missed occurrences collapse into
-- one). Two instances cannot enqueue an occurrence twice: the schedule row is
-- claimed with SKIP LOCKED and the key is unique anyway.

CREATE TABLE jobs (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'
                                              AND length(kind) <= 64),
    key           text        NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    payload       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    state         text        NOT NULL DEFAULT 'queued'
                              CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  integer     NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    lease_until   timestamptz,
    lease_token   uuid,
    locked_by     text,       -- worker that holds (or last held) the lease: host:pid/n
    last_error    text        CHECK (length(last_error) <= 2000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,  -- of the latest attempt
    finished_at   timestamptz,  -- done or dead
    CONSTRAINT jobs_kind_key_key UNIQUE (kind, key),
    CONSTRAINT jobs_lease CHECK ((state = 'running') = (lease_until IS NOT NULL AND lease_token IS NOT NULL))
);
COMMENT ON TABLE jobs IS 'Background jobs (0041_jobs.sql): claimed with SKIP LOCKED and a lease.';
-- The claim walks the first two in order; GET /jobs?kind= and ?state= the
-- next two (newest first); the nightly purge the last.
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_kind_idx ON jobs (kind, id);
CREATE INDEX jobs_state_idx ON jobs (state, id);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('done', 'dead');

-- Only admin and office read jobs through the API; writes go through the
-- functions below.
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_read ON jobs FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL AND rectify.has_any_role('{admin,office}'::text[]));
GRANT SELECT ON jobs TO rectify_api;

-- Enqueue a job unless (kind, key) exists; returns the id of the new or the
-- existing job. p_key NULL = a fresh random key (no idempotency wanted).
-- Call it in the transaction of the change the job belongs to.
CREATE FUNCTION rectify.job_enqueue(p_kind text, p_key text, p_payload jsonb DEFAULT '{}',
                                    p_run_at timestamptz DEFAULT now(),
                                    p_max_attempts integer DEFAULT 5)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    new_id bigint;
    k text := coalesce(p_key, gen_random_uuid()::text);
BEGIN
    INSERT INTO jobs (kind, key, payload, run_at, max_attempts)
    VALUES (p_kind, k, coalesce(p_payload, '{}'), coalesce(p_run_at, now()),
            coalesce(p_max_attempts, 5))
    ON CONFLICT (kind, key) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        SELECT id INTO new_id FROM jobs WHERE kind = p_kind AND key = k;
    END IF;
    RETURN new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.job_enqueue(text, text, jsonb, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.job_enqueue(text, text, jsonb, timestamptz, integer) TO rectify_api;

-- --- the worker's side (run as the owner by src/jobs/runner.c) ---------------

-- Claims the oldest due job of one of p_kinds (the kinds this instance can
-- run), or a running one whose lease lapsed. A lapsed lease on the last
-- attempt makes the job dead instead (a job that kills its worker must not
-- loop forever). Returns no row when there is nothing to do.
CREATE FUNCTION rectify.job_claim(p_kinds text[], p_lease_ms integer, p_worker text)
    RETURNS TABLE (id bigint, kind text, payload text, attempt integer, max_attempts integer,
                   lease_token uuid)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    j jobs%ROWTYPE;
BEGIN
    LOOP
        -- Lapsed leases first (rare), then the due queue in run_at order: two
        -- queries, so each walks its partial index in order and nothing is
        -- sorted however long the backlog.
        SELECT * INTO j FROM jobs
         WHERE jobs.state = 'running' AND jobs.lease_until < now() AND jobs.kind = ANY (p_kinds)
         ORDER BY jobs.lease_until
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            SELECT * INTO j FROM jobs
             WHERE jobs.state = 'queued' AND jobs.run_at <= now() AND jobs.kind = ANY (p_kinds)
             ORDER BY jobs.run_at, jobs.id
             LIMIT 1
               FOR UPDATE SKIP LOCKED;
        END IF;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF j.state = 'running' AND j.attempts >= j.max_attempts THEN
            UPDATE jobs SET state = 'dead', lease_until = NULL, lease_token = NULL,
                            finished_at = now(), updated_at = now(),
                            last_error = left('lease expired on the last attempt (worker '
                                              || coalesce(j.locked_by, '?') || ' lost)', 2000)
             WHERE jobs.id = j.id;
            CONTINUE;
        END IF;
        RETURN QUERY
        UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1,
                        lease_until = now() + p_lease_ms * interval '1 millisecond',
                        lease_token = gen_random_uuid(), locked_by = p_worker,
                        started_at = now(), updated_at = now()
         WHERE jobs.id = j.id
        RETURNING jobs.id, jobs.kind, jobs.payload::text, jobs.attempts, jobs.max_attempts,
                  jobs.lease_token;
        RETURN;
    END LOOP;
END
$$;

-- The first statement of a handler's transaction (job_db_run): locks the job
-- row FOR KEY SHARE — claims (FOR UPDATE SKIP LOCKED) skip it, renewals and
-- completion do not wait for it — and refuses when the lease is no longer
-- ours, so a worker that lost its lease writes nothing.
CREATE FUNCTION rectify.job_hold(p_id bigint, p_token uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    PERFORM 1 FROM jobs
     WHERE id = p_id AND lease_token = p_token AND state = 'running'
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % no longer holds its lease', p_id
            USING ERRCODE = 'RX409', HINT = 'lease_lost';
    END IF;
END
$$;

-- Extends the leases of the jobs this instance is running; returns the ids
-- still held (a missing id lost its lease).
CREATE FUNCTION rectify.job_renew(p_ids bigint[], p_tokens uuid[], p_lease_ms integer)
    RETURNS SETOF bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    UPDATE jobs j SET lease_until = now() + p_lease_ms * interval '1 millisecond'
      FROM unnest(p_ids, p_tokens) AS h(id, token)
     WHERE j.id = h.id AND j.lease_token = h.token AND j.state = 'running'
    RETURNING j.id
    $$;

-- The attempt succeeded. False when the lease was lost meanwhile.
CREATE FUNCTION rectify.job_done(p_id bigint, p_token uuid) RETURNS boolean
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH d AS (
        UPDATE jobs SET state = 'done', lease_until = NULL, lease_token = NULL,
                        finished_at = now(), updated_at = now()
         WHERE id = p_id AND lease_token = p_token AND state = 'running'
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM d)
    $$;

-- The attempt failed: queued again after p_retry_ms, or dead when it was the
-- last. Returns the new state, NULL when the lease was lost meanwhile.
CREATE FUNCTION rectify.job_failed(p_id bigint, p_token uuid, p_error text, p_retry_ms bigint)
    RETURNS text
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                    run_at = CASE WHEN attempts >= max_attempts THEN run_at
                                  ELSE now() + p_retry_ms * interval '1 millisecond' END,
                    finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
                    lease_until = NULL, lease_token = NULL, updated_at = now(),
                    last_error = left(coalesce(nullif(p_error, ''), 'failed'), 2000)
     WHERE id = p_id AND lease_token = p_token AND state = 'running'
    RETURNING state
    $$;

REVOKE EXECUTE ON FUNCTION rectify.job_claim(text[], integer, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.job_hold(bigint, uuid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.job_renew(bigint[], uuid[], integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.job_done(bigint, uuid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rectify.job_failed(bigint, uuid, text, bigint) FROM PUBLIC;

-- --- recurring schedules --------------------------------------------------------

-- Exactly one of: `every` (a fixed interval, occurrences anchor + k·every),
-- or `at_time` (local time of day in time_zone: daily, or monthly on
-- day_of_month). Modules add their schedules in their migrations.
CREATE TABLE job_schedules (
    name          text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]*$' AND length(name) <= 64),
    kind          text        NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'
                                              AND length(kind) <= 64),
    payload       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    every         interval    CHECK (every >= interval '1 second'
                                     AND extract(month FROM every) = 0
                                     AND extract(year FROM every) = 0),
    at_time       time,
    day_of_month  integer     CHECK (day_of_month BETWEEN 1 AND 28),
    time_zone     text        NOT NULL DEFAULT 'Asia/Shanghai',
    anchor        timestamptz NOT NULL DEFAULT now(),
    next_run      timestamptz NOT NULL,
    max_attempts  integer     NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    enabled       boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_schedules_one_rule CHECK ((every IS NULL) <> (at_time IS NULL)),
    CONSTRAINT job_schedules_day_needs_time CHECK (day_of_month IS NULL OR at_time IS NOT NULL)
);
COMMENT ON TABLE job_schedules IS 'Recurring jobs (0041_jobs.sql); next_run moves on as occurrences are enqueued.';
CREATE INDEX job_schedules_due_idx ON job_schedules (next_run) WHERE enabled;
ALTER TABLE job_schedules ENABLE ROW LEVEL SECURITY;   -- no policy, no grant: owner only

-- The first occurrence strictly after p_after.
CREATE FUNCTION rectify.schedule_next(p_every interval, p_at time, p_day integer, p_tz text,
                                      p_anchor timestamptz, p_after timestamptz)
    RETURNS timestamptz
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    local_day date := (p_after AT TIME ZONE p_tz)::date;
    step double precision;
    candidate timestamptz;
BEGIN
    IF p_every IS NOT NULL THEN
        IF p_after < p_anchor THEN
            RETURN p_anchor;
        END IF;
        step := extract(epoch FROM p_every);
        RETURN p_anchor + p_every * (floor(extract(epoch FROM p_after - p_anchor) / step) + 1);
    END IF;
    IF p_day IS NULL THEN
        candidate := (local_day + p_at) AT TIME ZONE p_tz;
        IF candidate <= p_after THEN
            candidate := (local_day + 1 + p_at) AT TIME ZONE p_tz;
        END IF;
        RETURN candidate;
    END IF;
    candidate := ((date_trunc('month', local_day) + (p_day - 1) * interval '1 day')::date + p_at)
                 AT TIME ZONE p_tz;
    IF candidate <= p_after THEN
        candidate := ((date_trunc('month', local_day) + interval '1 month'
                       + (p_day - 1) * interval '1 day')::date + p_at) AT TIME ZONE p_tz;
    END IF;
    RETURN candidate;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.schedule_next(interval, time, integer, text, timestamptz, timestamptz) FROM PUBLIC;

-- New schedules (and changed rules) get their next_run computed; an unknown
-- time zone is refused here rather than at the first run.
CREATE FUNCTION rectify.job_schedules_prepare() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    PERFORM now() AT TIME ZONE NEW.time_zone;
    IF TG_OP = 'INSERT' AND NEW.next_run IS NULL
       OR TG_OP = 'UPDATE' AND (NEW.every, NEW.at_time, NEW.day_of_month, NEW.time_zone, NEW.anchor)
                      IS DISTINCT FROM (OLD.every, OLD.at_time, OLD.day_of_month, OLD.time_zone, OLD.anchor)
                      AND NEW.next_run IS NOT DISTINCT FROM OLD.next_run THEN
        NEW.next_run := rectify.schedule_next(NEW.every, NEW.at_time, NEW.day_of_month,
                                              NEW.time_zone, NEW.anchor, now());
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER job_schedules_prepare BEFORE INSERT OR UPDATE ON job_schedules
    FOR EACH ROW EXECUTE FUNCTION rectify.job_schedules_prepare();

-- Enqueues the due occurrence of every due schedule and moves next_run on;
-- returns how many jobs were enqueued. Run by each instance's runner.
CREATE FUNCTION rectify.job_schedules_run() RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    s job_schedules%ROWTYPE;
    n integer := 0;
BEGIN
    FOR s IN SELECT * FROM job_schedules WHERE enabled AND next_run <= now()
               ORDER BY next_run FOR UPDATE SKIP LOCKED LOOP
        PERFORM rectify.job_enqueue(
            s.kind,
            'schedule:' || s.name || '@'
                || to_char(s.next_run AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            s.payload || jsonb_build_object('schedule', s.name, 'occurrence', s.next_run),
            s.next_run, s.max_attempts);
        UPDATE job_schedules
           SET next_run = rectify.schedule_next(s.every, s.at_time, s.day_of_month, s.time_zone,
                                                s.anchor, greatest(s.next_run, now()))
         WHERE name = s.name;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.job_schedules_run() FROM PUBLIC;

-- For /metrics: the lag (seconds since the oldest due job could have run) and
-- counts by state. Cheap: the partial indexes answer it.
CREATE FUNCTION rectify.jobs_stats()
    RETURNS TABLE (lag_seconds double precision, queued_due bigint, running bigint, dead bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT coalesce(extract(epoch FROM now() - (SELECT min(run_at) FROM jobs
                                                 WHERE state = 'queued' AND run_at <= now())), 0),
           (SELECT count(*) FROM jobs WHERE state = 'queued' AND run_at <= now()),
           (SELECT count(*) FROM jobs WHERE state = 'running'),
           (SELECT count(*) FROM jobs WHERE state = 'dead')
    $$;
REVOKE EXECUTE ON FUNCTION rectify.jobs_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.jobs_stats() TO rectify_api;

-- POST /jobs/{id}/retry (admin, office): a dead job is queued again with a
-- fresh set of attempts. NULL when the caller cannot see the job (404);
-- RX409 when it is not dead. The retry is recorded in the audit trail (the
-- jobs table itself is not audited: workers change it all the time).
CREATE FUNCTION rectify.job_retry(p_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    j jobs%ROWTYPE;
BEGIN
    IF rectify.user_id() IS NULL OR NOT rectify.has_any_role('{admin,office}'::text[]) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO j FROM jobs WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF j.state <> 'dead' THEN
        RAISE EXCEPTION 'Only a dead job can be retried; this one is %.', j.state
            USING ERRCODE = 'RX409', HINT = 'job_not_dead';
    END IF;
    UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), finished_at = NULL,
                    updated_at = now()
     WHERE id = p_id;
    -- As the audit row trigger does it (0036): ask for the COMMIT flush, queue.
    PERFORM rectify.audit_request_flush(
        coalesce(nullif(current_setting('rectify.audit_queued', true), ''), '0')::bigint);
    PERFORM rectify.audit_append('jobs', p_id::text, 'update',
                                 jsonb_build_object('state', j.state, 'attempts', j.attempts,
                                                    'last_error', j.last_error),
                                 jsonb_build_object('state', 'queued', 'attempts', 0), '{}');
    RETURN p_id;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.job_retry(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.job_retry(bigint) TO rectify_api;

-- --- housekeeping: the daily maintenance job (kind maintenance.purge) -----------

-- Finished jobs are kept 30 days (done) and 90 days (dead) for inspection.
CREATE FUNCTION rectify.jobs_purge(p_done_keep interval DEFAULT interval '30 days',
                                   p_dead_keep interval DEFAULT interval '90 days')
    RETURNS bigint
    LANGUAGE sql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH gone AS (
        DELETE FROM jobs
         WHERE (state = 'done' AND finished_at < now() - p_done_keep)
            OR (state = 'dead' AND finished_at < now() - p_dead_keep)
        RETURNING 1)
    SELECT count(*) FROM gone
    $$;
REVOKE EXECUTE ON FUNCTION rectify.jobs_purge(interval, interval) FROM PUBLIC;

-- Idempotency keys are promised for 24 hours (0030); keep them two days.
CREATE FUNCTION rectify.idempotency_keys_purge(p_keep interval DEFAULT interval '2 days')
    RETURNS bigint
    LANGUAGE sql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - p_keep RETURNING 1)
    SELECT count(*) FROM gone
    $$;
REVOKE EXECUTE ON FUNCTION rectify.idempotency_keys_purge(interval) FROM PUBLIC;

-- Nightly at 03:30 Beijing time, when nobody signs in.
INSERT INTO job_schedules (name, kind, at_time, time_zone)
VALUES ('maintenance.purge', 'maintenance.purge', '03:30', 'Asia/Shanghai');
