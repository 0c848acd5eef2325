-- Jobs (0041): the schedule arithmetic (rectify.schedule_next), enqueue
-- idempotency, claim / fail / done as the runner calls them (as the owner).
\set ON_ERROR_STOP 1

-- ------------------------------------------------------------ schedule_next
DO $$
DECLARE
    anchor timestamptz := '2026-12-02 00:00:00+00';
BEGIN
    -- every: anchored, strictly after, never drifting
    ASSERT rectify.schedule_next('10 minutes', NULL, NULL, 'Asia/Shanghai', anchor, '2026-12-01 23:00+00') = anchor,
        'before the anchor: the anchor';
    ASSERT rectify.schedule_next('10 minutes', NULL, NULL, 'Asia/Shanghai', anchor, anchor) = anchor + interval '10 minutes',
        'at the anchor: one step on';
    ASSERT rectify.schedule_next('10 minutes', NULL, NULL, 'Asia/Shanghai', anchor, '2026-12-02 00:20+00') = '2026-12-02 00:30+00',
        'on an occurrence: the next one';
    ASSERT rectify.schedule_next('10 minutes', NULL, NULL, 'Asia/Shanghai', anchor, '2026-12-02 00:20:00.5+00') = '2026-12-02 00:30+00',
        'just after an occurrence';
    ASSERT rectify.schedule_next('1 day', NULL, NULL, 'Asia/Shanghai', anchor, '2027-03-05 12:00+00') = '2027-03-06 00:00+00',
        'after a long outage: the next, not the missed ones';
    -- daily at 03:30 Beijing time (UTC+8: 19:30 UTC the day before)
    ASSERT rectify.schedule_next(NULL, '03:30', NULL, 'Asia/Shanghai', anchor, '2026-12-02 03:29:59+08') = '2026-12-02 03:30+08',
        'later the same local day';
    ASSERT rectify.schedule_next(NULL, '03:30', NULL, 'Asia/Shanghai', anchor, '2026-12-02 03:30+08') = '2026-12-03 03:30+08',
        'at the time: tomorrow';
    ASSERT rectify.schedule_next(NULL, '03:30', NULL, 'Asia/Shanghai', anchor, '2026-12-01 20:00+00') = '2026-12-03 03:30+08',
        'the local day decides, not the UTC day (20:00 UTC is 04:00 next day in Shanghai)';
    ASSERT rectify.schedule_next(NULL, '23:30', NULL, 'Asia/Shanghai', anchor, '2026-12-31 23:45+08') = '2027-01-01 23:30+08',
        'across the year';
    -- monthly on the 25th at 09:00
    ASSERT rectify.schedule_next(NULL, '09:00', 25, 'Asia/Shanghai', anchor, '2026-12-24 23:00+08') = '2026-12-25 09:00+08',
        'this month';
    ASSERT rectify.schedule_next(NULL, '09:00', 25, 'Asia/Shanghai', anchor, '2026-12-25 09:00+08') = '2027-01-25 09:00+08',
        'at the time: next month, across the year';
    ASSERT rectify.schedule_next(NULL, '09:00', 28, 'Asia/Shanghai', anchor, '2027-02-01 00:00+08') = '2027-02-28 09:00+08',
        'February has a 28th';
    -- another zone with summer time
    ASSERT rectify.schedule_next(NULL, '02:30', NULL, 'Europe/Berlin', anchor, '2026-07-01 12:00+00') = '2026-07-02 00:30+00',
        'summer: UTC+2';
END
$$;

-- Schedules: next_run computed on insert; bad rules and zones refused.
DO $$
DECLARE
    nr timestamptz;
BEGIN
    INSERT INTO job_schedules (name, kind, at_time) VALUES ('t-daily', 'test.record', '03:30')
    RETURNING next_run INTO nr;
    ASSERT nr > now() AND nr <= now() + interval '1 day'
       AND to_char(nr AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') = '03:30', 'next 03:30 Beijing time';
    BEGIN
        INSERT INTO job_schedules (name, kind, at_time, time_zone) VALUES ('t-tz', 'test.record', '03:30', 'Mars/Olympus');
        ASSERT false, 'unknown zone accepted';
    EXCEPTION WHEN invalid_parameter_value THEN NULL;
    END;
    BEGIN
        INSERT INTO job_schedules (name, kind, every, at_time) VALUES ('t-both', 'test.record', '1 hour', '03:30');
        ASSERT false, 'two rules accepted';
    EXCEPTION WHEN check_violation THEN NULL;
    END;
    BEGIN
        INSERT INTO job_schedules (name, kind, every) VALUES ('t-month', 'test.record', '1 month');
        ASSERT false, 'a month interval accepted (no fixed length)';
    EXCEPTION WHEN check_violation THEN NULL;
    END;
    DELETE FROM job_schedules WHERE name = 't-daily';
END
$$;

-- ------------------------------------------------------------ enqueue, claim, fail, done
DO $$
DECLARE
    a bigint;
    c record;
    st text;
BEGIN
    UPDATE job_schedules SET enabled = false;
    a := rectify.job_enqueue('sql.test', 'one', '{"n": 1}');
    ASSERT rectify.job_enqueue('sql.test', 'one', '{"n": 2}') = a, 'same key: same job';
    ASSERT (SELECT payload FROM jobs WHERE id = a) = '{"n": 1}', 'the first payload stays';
    ASSERT rectify.job_enqueue('sql.test', NULL) <> rectify.job_enqueue('sql.test', NULL), 'NULL key: always new';
    DELETE FROM jobs WHERE kind = 'sql.test' AND id <> a;
    ASSERT NOT EXISTS (SELECT FROM rectify.job_claim('{other.kind}', 1000, 'w')), 'only our kinds';
    SELECT * INTO STRICT c FROM rectify.job_claim('{sql.test}', 1000, 'w1');
    ASSERT c.id = a AND c.attempt = 1 AND c.payload = '{"n": 1}', 'claimed';
    ASSERT NOT EXISTS (SELECT FROM rectify.job_claim('{sql.test}', 1000, 'w2')), 'leased: not claimed again';
    st := rectify.job_failed(a, c.lease_token, 'nope', 0);
    ASSERT st = 'queued', 'failed with attempts left: queued';
    ASSERT rectify.job_failed(a, c.lease_token, 'again', 0) IS NULL, 'the old lease is gone';
    SELECT * INTO STRICT c FROM rectify.job_claim('{sql.test}', 1000, 'w1');
    ASSERT c.attempt = 2, 'second attempt';
    ASSERT NOT rectify.job_done(a, gen_random_uuid()), 'a stranger cannot complete it';
    ASSERT rectify.job_done(a, c.lease_token), 'done';
    ASSERT (SELECT state || '/' || last_error FROM jobs WHERE id = a) = 'done/nope', 'done, error kept';
    -- A lapsed lease is taken over; on the last attempt the job dies instead.
    a := rectify.job_enqueue('sql.test', 'lapse', '{}', now(), 2);
    SELECT * INTO STRICT c FROM rectify.job_claim('{sql.test}', 1000, 'w1');
    UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = a;
    SELECT * INTO STRICT c FROM rectify.job_claim('{sql.test}', 1000, 'w2');
    ASSERT c.id = a AND c.attempt = 2, 'taken over';
    UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = a;
    ASSERT NOT EXISTS (SELECT FROM rectify.job_claim('{sql.test}', 1000, 'w3')), 'nothing to claim';
    ASSERT (SELECT state FROM jobs WHERE id = a) = 'dead'
       AND (SELECT last_error FROM jobs WHERE id = a) LIKE 'lease expired on the last attempt (worker w2%',
        'lapsed on the last attempt: dead';
    -- Schedules: one job per occurrence, keyed by it.
    INSERT INTO job_schedules (name, kind, every, anchor, next_run)
    VALUES ('t-every', 'sql.test', '1 hour', now() - interval '150 minutes', now() - interval '150 minutes');
    ASSERT rectify.job_schedules_run() = 1, 'one due schedule';
    ASSERT rectify.job_schedules_run() = 0, 'nothing due any more';
    ASSERT (SELECT count(*) FROM jobs WHERE key LIKE 'schedule:t-every@%') = 1, 'missed occurrences collapse';
    ASSERT (SELECT next_run FROM job_schedules WHERE name = 't-every')
           = (SELECT anchor FROM job_schedules WHERE name = 't-every') + interval '3 hours', 'next on the grid';
    UPDATE job_schedules SET next_run = anchor WHERE name = 't-every';
    ASSERT rectify.job_schedules_run() = 1, 'the same occurrence again...';
    ASSERT (SELECT count(*) FROM jobs WHERE key LIKE 'schedule:t-every@%') = 1, '... enqueues nothing new';
END
$$;
