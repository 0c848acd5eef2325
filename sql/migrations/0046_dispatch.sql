-- 0046_dispatch.sql — list-based dispatch (清单化调度) and supervision (督办)
-- with escalation rules: the plan's 四(二) 强化跟踪督办.
--
-- Names and meanings: ../shared/DESIGN.md section 1.  HTTP: src/api/dispatch.c,
-- src/api/supervision.c.
--
-- Dispatch rounds (调度)
-- -----------------------------------------------------------------------
-- The office opens a round over a campaign: a name, a period ('2026-11', or
-- a ten-day period '2026-11上旬' / '中旬' / '下旬'), a due time, what each
-- item must report (requirements) and a scope — all open tasks of the
-- campaign, the open tasks led by some orgs (their subtrees), or the open
-- tasks of some problems.  The scope is resolved when the round opens into a
-- FIXED list of items (dispatch_items, one per task, owned by the task's lead
-- org at that moment): tasks created later are not added.  A unit answers an
-- item with an ordinary progress report (task_reports) naming the round
-- (task_reports.round_id); the trigger rectify.dispatch_answer marks the
-- item.  The first answer counts for the board.  A closed round refuses
-- answers (409).  An item's state:
--   on_time   answered at or before the due time     按时报送
--   late      answered after the due time            逾期报送
--   pending   not answered, the round open and not yet due   待报送
--   missing   not answered, past due or closed      未报送
-- Recurring rounds: dispatch_schedules (monthly on a day); the function
-- rectify.dispatch_open_due() opens the rounds that are due, safe with any
-- number of callers (rows claimed FOR UPDATE SKIP LOCKED; one round per
-- schedule and period by a unique key).
--
-- Supervision (督办)
-- -----------------------------------------------------------------------
-- Kinds: reminder 催办, notice 通报 (document number, text, orgs it is
-- circulated to), interview 约谈 (interviewee, interviewer, date, minutes as
-- an attachment), listed 挂牌督办 (conditions for removal, 摘牌 date), onsite
-- 现场督办 (date, place).  Each concerns one org (owner_org_id, its subtree
-- answers) and some tasks and complaints, with a response deadline.
-- States (supervision_moves holds the valid moves and who makes them):
--   proposed   拟提请    made by an escalation rule, waiting for the office
--   issued     已下发    the office issued it (or a rule issued a reminder)
--   signed     已签收    the unit signed for it (签收)
--   responded  已反馈    the unit answered, with evidence (反馈)
--   closed     已办结    the office closed it (办结; for listed: 摘牌)
--   dismissed  不予提请  the office dismissed a proposal
-- Units never see proposed or dismissed rows (RLS).
--
-- Escalation as data: escalation_rules name a condition of
-- escalation_conditions, its parameters and the kind to produce.  A rule
-- producing a reminder issues it; any graver kind is proposed.  Conditions:
--   red_days          {"days": N}   a task red (预警红灯) for at least N days
--                                   (rectify.task_red_since)
--   missed_rounds     {"count": N, "window_days": W}  an org that did not
--                                   answer on time in at least N rounds due
--                                   in the last W days
--   red_after_notice  {"days": N}   a task still red N days after a notice
--                                   (通报) about it was issued
--   round_due_soon    {"hours": N}  an org with unanswered items of an open
--                                   round due within N hours (before the due time)
--   round_overdue     {"hours": N}  an org with unanswered items of an open
--                                   round due more than N hours ago (after it)
-- rectify.supervision_escalation_scan() applies every active rule once (a
-- daily job); one open supervision per rule and target at a time (a partial
-- unique key), so reruns and concurrent scans add nothing twice.

-- JSON ids of an array member ('[]' when absent): bigint[] or a 422.
CREATE FUNCTION rectify.dispatch_ids(p jsonb, p_field text) RETURNS bigint[]
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    RETURN ARRAY(SELECT x::bigint FROM jsonb_array_elements_text(coalesce(p -> p_field, '[]')) x);
END
$$;

-- ---------------------------------------------------------------------------
-- dispatch_schedules: recurring rounds (monthly on day_of_month).
-- ---------------------------------------------------------------------------
CREATE TABLE dispatch_schedules (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id    bigint      NOT NULL REFERENCES campaigns (id),
    name           text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    day_of_month   integer     NOT NULL CHECK (day_of_month BETWEEN 1 AND 28),
    due_days       integer     NOT NULL CHECK (due_days BETWEEN 1 AND 60),
    scope          jsonb       NOT NULL,
    requirements   text        NOT NULL CHECK (length(btrim(requirements)) BETWEEN 1 AND 5000),
    active         boolean     NOT NULL DEFAULT true,
    next_run_at    timestamptz NOT NULL,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dispatch_schedules IS 'Recurring dispatch rounds: opened by rectify.dispatch_open_due() (monthly).';
CREATE INDEX dispatch_schedules_due_idx ON dispatch_schedules (next_run_at) WHERE active;
CREATE TRIGGER dispatch_schedules_touch BEFORE UPDATE ON dispatch_schedules
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('dispatch_schedules');
ALTER TABLE dispatch_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY dispatch_schedules_read ON dispatch_schedules FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY dispatch_schedules_insert ON dispatch_schedules FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office}'::text[]));
GRANT SELECT ON dispatch_schedules TO rectify_api;
GRANT INSERT (campaign_id, name, day_of_month, due_days, scope, requirements, next_run_at)
    ON dispatch_schedules TO rectify_api;

-- ---------------------------------------------------------------------------
-- dispatch_rounds and dispatch_items.
-- ---------------------------------------------------------------------------
CREATE TABLE dispatch_rounds (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id    bigint      NOT NULL REFERENCES campaigns (id),
    name           text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    period         text        NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])(上旬|中旬|下旬)?$'),
    due_at         timestamptz NOT NULL,
    -- {"kind": "all_open" | "orgs" | "problems", "org_ids": [...], "problem_ids": [...]}
    scope          jsonb       NOT NULL CHECK (scope ->> 'kind' IN ('all_open', 'orgs', 'problems')),
    requirements   text        NOT NULL CHECK (length(btrim(requirements)) BETWEEN 1 AND 5000),
    status         text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    schedule_id    bigint      REFERENCES dispatch_schedules (id),
    opened_by      bigint      DEFAULT rectify.user_id(),
    closed_by      bigint,
    closed_at      timestamptz,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dispatch_rounds_name_key UNIQUE (campaign_id, period, name),
    CONSTRAINT dispatch_rounds_schedule_key UNIQUE (schedule_id, period),
    CONSTRAINT dispatch_rounds_closed CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
COMMENT ON TABLE dispatch_rounds IS 'Dispatch rounds (调度): a call on responsible orgs to report on a fixed list of tasks by a due time.';
CREATE INDEX dispatch_rounds_campaign_idx ON dispatch_rounds (campaign_id, id);
CREATE TRIGGER dispatch_rounds_touch BEFORE UPDATE ON dispatch_rounds
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('dispatch_rounds');
ALTER TABLE dispatch_rounds ENABLE ROW LEVEL SECURITY;
CREATE POLICY dispatch_rounds_read ON dispatch_rounds FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY dispatch_rounds_insert ON dispatch_rounds FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office}'::text[]));
CREATE POLICY dispatch_rounds_update ON dispatch_rounds FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{office}'::text[]))
    WITH CHECK (rectify.has_any_role('{office}'::text[]));
GRANT SELECT ON dispatch_rounds TO rectify_api;
GRANT INSERT (campaign_id, name, period, due_at, scope, requirements, schedule_id) ON dispatch_rounds TO rectify_api;
GRANT UPDATE (status, closed_by, closed_at) ON dispatch_rounds TO rectify_api;

CREATE TABLE dispatch_items (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id        bigint      NOT NULL REFERENCES dispatch_rounds (id),
    task_id         bigint      NOT NULL REFERENCES tasks (id),
    owner_org_id    bigint      NOT NULL REFERENCES orgs (id),   -- the task's lead org when the round opened
    owner_org_path  ltree       NOT NULL,
    report_id       bigint      REFERENCES task_reports (id),    -- the first answer
    reported_at     timestamptz,
    answers         integer     NOT NULL DEFAULT 0 CHECK (answers >= 0),
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dispatch_items_task_key UNIQUE (round_id, task_id),
    CONSTRAINT dispatch_items_answered CHECK ((report_id IS NULL) = (reported_at IS NULL))
);
COMMENT ON TABLE dispatch_items IS 'The fixed list of a dispatch round: one task each, owed by its lead org.';
CREATE INDEX dispatch_items_round_idx ON dispatch_items (round_id, owner_org_id, id);
CREATE INDEX dispatch_items_scope_gist ON dispatch_items USING gist (owner_org_path);
CREATE INDEX dispatch_items_open_idx ON dispatch_items (owner_org_id) WHERE report_id IS NULL;
CREATE TRIGGER dispatch_items_touch BEFORE UPDATE ON dispatch_items
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_scope('dispatch_items');
SELECT rectify.enable_audit('dispatch_items');
ALTER TABLE dispatch_items ENABLE ROW LEVEL SECURITY;
-- Visible to the lead org's subtree and to whoever sees the task (co-operating orgs).
CREATE POLICY dispatch_items_read ON dispatch_items FOR SELECT TO rectify_api
    USING (rectify.in_scope(owner_org_path) OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY dispatch_items_insert ON dispatch_items FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office}'::text[]));
GRANT SELECT ON dispatch_items TO rectify_api;
GRANT INSERT (round_id, task_id, owner_org_id) ON dispatch_items TO rectify_api;

-- The state of an item (see the top).
CREATE FUNCTION rectify.dispatch_item_state(p_reported_at timestamptz, p_due_at timestamptz,
                                            p_round_status text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN p_reported_at IS NOT NULL AND p_reported_at <= p_due_at THEN 'on_time'
                      WHEN p_reported_at IS NOT NULL THEN 'late'
                      WHEN p_round_status = 'open' AND now() <= p_due_at THEN 'pending'
                      ELSE 'missing' END $$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_item_state(timestamptz, timestamptz, text) TO rectify_api;

-- Progress reports answer rounds.
ALTER TABLE task_reports ADD COLUMN round_id bigint REFERENCES dispatch_rounds (id);
GRANT INSERT (round_id) ON task_reports TO rectify_api;
CREATE INDEX task_reports_round_idx ON task_reports (round_id) WHERE round_id IS NOT NULL;

-- A report naming a round answers the task's item of that round.  Locks the
-- round (FOR SHARE) so that an answer and the round's closing serialize:
-- an answer is never counted in a round that closed before it.
CREATE FUNCTION rectify.dispatch_answer() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    st text;
BEGIN
    SELECT status INTO st FROM dispatch_rounds WHERE id = NEW.round_id FOR SHARE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(422, 'validation_failed', 'No such dispatch round.',
                                      'round_id', 'names no dispatch round');
    END IF;
    IF st <> 'open' THEN
        PERFORM rectify.fail(409, 'round_closed',
                                      'The dispatch round is closed; it takes no more answers.');
    END IF;
    UPDATE dispatch_items
       SET report_id = coalesce(report_id, NEW.id),
           reported_at = coalesce(reported_at, NEW.created_at),
           answers = answers + 1
     WHERE round_id = NEW.round_id AND task_id = NEW.task_id;
    IF NOT FOUND THEN
        PERFORM rectify.fail(422, 'validation_failed',
                                      'The task is not an item of this dispatch round.',
                                      'round_id', 'the round has no item for this task');
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.dispatch_answer() FROM PUBLIC;
CREATE TRIGGER task_reports_dispatch AFTER INSERT ON task_reports
    FOR EACH ROW WHEN (NEW.round_id IS NOT NULL) EXECUTE FUNCTION rectify.dispatch_answer();

-- The round as the API shows it; counts over the items the caller sees.
CREATE FUNCTION rectify.dispatch_round_json(r dispatch_rounds) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object(
        'id', r.id, 'campaign_id', r.campaign_id, 'name', r.name, 'period', r.period,
        'due_at', r.due_at, 'scope', r.scope, 'requirements', r.requirements, 'status', r.status,
        'schedule_id', r.schedule_id, 'opened_by', r.opened_by, 'closed_at', r.closed_at,
        'counts', (SELECT json_build_object(
                       'items', count(*),
                       'on_time', count(*) FILTER (WHERE s = 'on_time'),
                       'late', count(*) FILTER (WHERE s = 'late'),
                       'pending', count(*) FILTER (WHERE s = 'pending'),
                       'missing', count(*) FILTER (WHERE s = 'missing'))
                     FROM (SELECT rectify.dispatch_item_state(i.reported_at, r.due_at, r.status) AS s
                             FROM dispatch_items i WHERE i.round_id = r.id) x),
        'version', r.version, 'created_at', r.created_at, 'updated_at', r.updated_at)
    $$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_round_json(dispatch_rounds) TO rectify_api;

-- Checks a scope document and returns the open tasks it selects.
CREATE FUNCTION rectify.dispatch_scope_tasks(p_campaign bigint, p_scope jsonb, p_pointer text)
    RETURNS TABLE (task_id bigint, org_id bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    kind text := p_scope ->> 'kind';
    orgs_ bigint[] := rectify.dispatch_ids(p_scope, 'org_ids');
    probs bigint[] := rectify.dispatch_ids(p_scope, 'problem_ids');
BEGIN
    IF kind = 'orgs' AND (cardinality(orgs_) = 0 OR EXISTS (SELECT 1 FROM unnest(orgs_) x
            WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = x))) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'An organisation of the scope does not exist.',
                                      p_pointer || '/org_ids', 'must name existing organisations');
    END IF;
    IF kind = 'problems' AND (cardinality(probs) = 0 OR EXISTS (SELECT 1 FROM unnest(probs) x
            WHERE NOT EXISTS (SELECT 1 FROM problems p WHERE p.id = x AND p.campaign_id = p_campaign))) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A problem of the scope is not a problem of the campaign.',
                                      p_pointer || '/problem_ids', 'must name problems of the campaign');
    END IF;
    RETURN QUERY
        SELECT t.id, t.owner_org_id FROM tasks t
         WHERE t.campaign_id = p_campaign AND t.status IN ('pending', 'in_progress')
           AND (kind = 'all_open'
                OR (kind = 'orgs' AND t.owner_org_path <@ ARRAY(SELECT o.path FROM orgs o WHERE o.id = ANY (orgs_)))
                OR (kind = 'problems' AND t.problem_id = ANY (probs)))
         ORDER BY t.id;
END
$$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_scope_tasks(bigint, jsonb, text) TO rectify_api;

-- Opens a round and its items; NULL when the scope selects no open task and
-- p_empty_ok (the scheduler skips such a month), else a 422.
CREATE FUNCTION rectify.dispatch_round_insert(p_campaign bigint, p_name text, p_period text,
                                              p_due timestamptz, p_scope jsonb, p_req text,
                                              p_schedule bigint, p_empty_ok boolean)
    RETURNS dispatch_rounds
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    r dispatch_rounds;
    tids bigint[];
    oids bigint[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = p_campaign) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'No such campaign.', 'campaign_id', 'does not exist');
    END IF;
    SELECT array_agg(x.task_id ORDER BY x.task_id), array_agg(x.org_id ORDER BY x.task_id) INTO tids, oids
      FROM rectify.dispatch_scope_tasks(p_campaign, p_scope, 'scope') x;
    IF tids IS NULL THEN
        IF p_empty_ok THEN
            RETURN NULL;
        END IF;
        PERFORM rectify.fail(422, 'empty_scope', 'The scope selects no open task of the campaign.',
                                      'scope', 'selects no pending or in-progress task');
    END IF;
    INSERT INTO dispatch_rounds (campaign_id, name, period, due_at, scope, requirements, schedule_id)
    VALUES (p_campaign, p_name, p_period, p_due, p_scope, p_req, p_schedule)
    ON CONFLICT ON CONSTRAINT dispatch_rounds_schedule_key DO NOTHING
    RETURNING * INTO r;
    IF r.id IS NULL THEN
        RETURN NULL;               -- the schedule's round of this period exists
    END IF;
    INSERT INTO dispatch_items (round_id, task_id, owner_org_id)
    SELECT r.id, u.t, u.o FROM unnest(tids, oids) AS u(t, o);
    RETURN r;
END
$$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_round_insert(bigint, text, text, timestamptz, jsonb, text, bigint, boolean)
    TO rectify_api;

-- POST /dispatch-rounds.  The body is validated by the service (types,
-- lengths, enums); cross-field rules and references here.
CREATE FUNCTION rectify.dispatch_round_open(p jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    r dispatch_rounds;
    due timestamptz := (p ->> 'due_at')::timestamptz;
BEGIN
    IF due <= now() THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The due time has passed.', 'due_at', 'must be in the future');
    END IF;
    r := rectify.dispatch_round_insert((p ->> 'campaign_id')::bigint, p ->> 'name', p ->> 'period', due,
                                       p -> 'scope', p ->> 'requirements', NULL, false);
    RETURN QUERY SELECT r.version, rectify.dispatch_round_json(r), '/api/v1/dispatch-rounds/' || r.id;
END
$$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_round_open(jsonb) TO rectify_api;

-- Workflow of a round: one action, close (open → closed).
CREATE FUNCTION rectify.dispatch_round_transition(p_id bigint, p_version integer, p jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur dispatch_rounds;
BEGIN
    SELECT * INTO cur FROM dispatch_rounds r WHERE r.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such dispatch round.');
    END IF;
    PERFORM rectify.check_version(cur.version, p_version);
    IF p ->> 'action' = 'close' AND cur.status <> 'open' THEN
        PERFORM rectify.fail(409, 'invalid_transition', 'The dispatch round is already closed.');
    END IF;
    UPDATE dispatch_rounds r SET status = 'closed', closed_at = now(), closed_by = rectify.user_id()
     WHERE r.id = p_id RETURNING * INTO cur;
    RETURN QUERY SELECT cur.version, rectify.dispatch_round_json(cur);
END
$$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_round_transition(bigint, integer, jsonb) TO rectify_api;

-- The first run of a schedule: day_of_month at 09:00 Asia/Shanghai, this
-- month when still ahead, else next month.
CREATE FUNCTION rectify.dispatch_next_run(p_day integer, p_after timestamptz) RETURNS timestamptz
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN m > p_after THEN m ELSE m + interval '1 month' END
      FROM (SELECT ((date_trunc('month', p_after AT TIME ZONE 'Asia/Shanghai')
                     + make_interval(days => p_day - 1, hours => 9)) AT TIME ZONE 'Asia/Shanghai') AS m) x
    $$;

-- POST /dispatch-schedules.
CREATE FUNCTION rectify.dispatch_schedule_create(p jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    s dispatch_schedules;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = (p ->> 'campaign_id')::bigint) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'No such campaign.', 'campaign_id', 'does not exist');
    END IF;
    PERFORM 1 FROM rectify.dispatch_scope_tasks((p ->> 'campaign_id')::bigint, p -> 'scope', 'scope') LIMIT 1;
    INSERT INTO dispatch_schedules (campaign_id, name, day_of_month, due_days, scope, requirements, next_run_at)
    VALUES ((p ->> 'campaign_id')::bigint, p ->> 'name', (p ->> 'day_of_month')::integer,
            (p ->> 'due_days')::integer, p -> 'scope', p ->> 'requirements',
            coalesce((p ->> 'first_run_at')::timestamptz,
                     rectify.dispatch_next_run((p ->> 'day_of_month')::integer, now())))
    RETURNING * INTO s;
    RETURN QUERY SELECT s.version, rectify.dispatch_schedule_json(s), '/api/v1/dispatch-schedules/' || s.id;
END
$$;

CREATE FUNCTION rectify.dispatch_schedule_json(s dispatch_schedules) RETURNS json
    LANGUAGE sql STABLE
    AS $$ SELECT json_build_object('id', s.id, 'campaign_id', s.campaign_id, 'name', s.name,
                                   'day_of_month', s.day_of_month, 'due_days', s.due_days,
                                   'scope', s.scope, 'requirements', s.requirements,
                                   'active', s.active, 'next_run_at', s.next_run_at,
                                   'version', s.version, 'created_at', s.created_at) $$;
GRANT EXECUTE ON FUNCTION rectify.dispatch_schedule_json(dispatch_schedules) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.dispatch_schedule_create(jsonb) TO rectify_api;

-- Opens the rounds of every schedule that is due (the jobs runner's
-- recurring job, or the office through POST /dispatch-schedules/open-due).
-- Safe with several instances: each schedule row is claimed with FOR UPDATE
-- SKIP LOCKED, and a schedule has one round per period (unique key).  A
-- schedule late by several months opens only the current period's round
-- and moves on.  Returns the number of rounds opened.
CREATE FUNCTION rectify.dispatch_open_due() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    s dispatch_schedules;
    r dispatch_rounds;
    opened integer := 0;
BEGIN
    FOR s IN SELECT * FROM dispatch_schedules
              WHERE active AND next_run_at <= now()
              ORDER BY id FOR UPDATE SKIP LOCKED LOOP
        r := rectify.dispatch_round_insert(
                 s.campaign_id, s.name, to_char(s.next_run_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'),
                 s.next_run_at + make_interval(days => s.due_days), s.scope, s.requirements, s.id, true);
        IF r.id IS NOT NULL THEN
            opened := opened + 1;
        END IF;
        UPDATE dispatch_schedules SET next_run_at = rectify.dispatch_next_run(s.day_of_month, greatest(now(), s.next_run_at))
         WHERE id = s.id;
    END LOOP;
    RETURN opened;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.dispatch_open_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.dispatch_open_due() TO rectify_api;   -- the route needs dispatch.write
-- On the jobs runner (0041): every 10 minutes (src/jobs/dispatch_jobs.c).
INSERT INTO job_schedules (name, kind, every) VALUES ('dispatch.open_due', 'dispatch.open_due', interval '10 minutes');

-- ---------------------------------------------------------------------------
-- Supervision.
-- ---------------------------------------------------------------------------
CREATE TABLE supervision_states (
    status  text     PRIMARY KEY,
    ord     smallint NOT NULL UNIQUE,
    label   text     NOT NULL
);
INSERT INTO supervision_states VALUES
    ('proposed', 1, '拟提请'), ('issued', 2, '已下发'), ('signed', 3, '已签收'),
    ('responded', 4, '已反馈'), ('closed', 5, '已办结'), ('dismissed', 6, '不予提请');
GRANT SELECT ON supervision_states TO rectify_api;

-- The workflow: action × from → to, and who acts (office: supervision.write
-- roles; unit: a unit user of the concerned org's subtree).
CREATE TABLE supervision_moves (
    action       text NOT NULL,
    from_status  text NOT NULL REFERENCES supervision_states (status),
    to_status    text NOT NULL REFERENCES supervision_states (status),
    actor        text NOT NULL CHECK (actor IN ('office', 'unit')),
    PRIMARY KEY (action, from_status)
);
COMMENT ON TABLE supervision_moves IS 'Valid supervision transitions and who makes them (see the top of 0046_dispatch.sql).';
INSERT INTO supervision_moves VALUES
    ('confirm', 'proposed', 'issued', 'office'),
    ('dismiss', 'proposed', 'dismissed', 'office'),
    ('sign', 'issued', 'signed', 'unit'),
    ('respond', 'signed', 'responded', 'unit'),
    ('close', 'issued', 'closed', 'office'),
    ('close', 'signed', 'closed', 'office'),
    ('close', 'responded', 'closed', 'office');
GRANT SELECT ON supervision_moves TO rectify_api;

CREATE TABLE escalation_conditions (
    code         text   PRIMARY KEY,
    params       text[] NOT NULL,      -- required parameters, positive integers
    label        text   NOT NULL,
    description  text   NOT NULL
);
INSERT INTO escalation_conditions VALUES
    ('red_days', '{days}', '红灯预警持续天数', 'A task has been red for at least days days.'),
    ('missed_rounds', '{count,window_days}', '未按时报送调度次数',
     'An org did not answer on time in at least count rounds due in the last window_days days.'),
    ('red_after_notice', '{days}', '通报后仍红灯',
     'A task is still red days days after a notice about it was issued.'),
    ('round_due_soon', '{hours}', '调度截止前未报送',
     'An org has unanswered items in an open round due within hours hours.'),
    ('round_overdue', '{hours}', '调度逾期未报送',
     'An org still has unanswered items in an open round due more than hours hours ago.');
GRANT SELECT ON escalation_conditions TO rectify_api;

CREATE TABLE escalation_rules (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    condition      text        NOT NULL REFERENCES escalation_conditions (code),
    params         jsonb       NOT NULL CHECK (jsonb_typeof(params) = 'object'),
    kind           text        NOT NULL CHECK (kind IN ('reminder', 'notice', 'interview', 'listed', 'onsite')),
    response_days  integer     NOT NULL DEFAULT 7 CHECK (response_days BETWEEN 1 AND 90),
    active         boolean     NOT NULL DEFAULT true,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE escalation_rules IS 'Escalation as data: condition + parameters → a supervision kind (reminders issued, others proposed).';
CREATE TRIGGER escalation_rules_touch BEFORE UPDATE ON escalation_rules
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('escalation_rules');

-- A rule's condition must be known and its parameters exactly the
-- condition's, each a whole number 1..3650.
CREATE FUNCTION rectify.escalation_rules_check() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    need text[];
BEGIN
    SELECT params INTO need FROM escalation_conditions WHERE code = NEW.condition;
    IF NOT FOUND THEN
        PERFORM rectify.fail(422, 'unknown_condition',
                                      format('Unknown escalation condition "%s".', NEW.condition),
                                      'condition', 'must be one of ' || (SELECT string_agg(code, ', ' ORDER BY code) FROM escalation_conditions));
    END IF;
    IF (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(NEW.params) k)
         IS DISTINCT FROM (SELECT array_agg(k ORDER BY k) FROM unnest(need) k)
       OR EXISTS (SELECT 1 FROM jsonb_each(NEW.params) e
                   WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text !~ '^[0-9]+$'
                      OR e.value::text::numeric NOT BETWEEN 1 AND 3650) THEN
        PERFORM rectify.fail(422, 'validation_failed',
                                      format('The condition %s takes the parameters %s, whole numbers 1..3650.',
                                             NEW.condition, array_to_string(need, ', ')),
                                      'params', 'must be exactly ' || array_to_string(need, ', '));
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER escalation_rules_check BEFORE INSERT OR UPDATE ON escalation_rules
    FOR EACH ROW EXECUTE FUNCTION rectify.escalation_rules_check();

ALTER TABLE escalation_rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY escalation_rules_read ON escalation_rules FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY escalation_rules_insert ON escalation_rules FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office,leader}'::text[]));
CREATE POLICY escalation_rules_update ON escalation_rules FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{office,leader}'::text[]))
    WITH CHECK (rectify.has_any_role('{office,leader}'::text[]));
GRANT SELECT ON escalation_rules TO rectify_api;
GRANT INSERT (name, condition, params, kind, response_days, active) ON escalation_rules TO rectify_api;
GRANT UPDATE (name, condition, params, kind, response_days, active) ON escalation_rules TO rectify_api;

-- The plan's examples, active from the start.
INSERT INTO escalation_rules (name, condition, params, kind, response_days) VALUES
    ('红灯预警满7日自动催办', 'red_days', '{"days": 7}', 'reminder', 7),
    ('两次未按时报送调度提请通报', 'missed_rounds', '{"count": 2, "window_days": 90}', 'notice', 15),
    ('通报后30日仍红灯提请约谈', 'red_after_notice', '{"days": 30}', 'interview', 15),
    ('调度截止前24小时提醒报送', 'round_due_soon', '{"hours": 24}', 'reminder', 1),
    ('调度逾期24小时催报', 'round_overdue', '{"hours": 24}', 'reminder', 3);

CREATE TABLE supervisions (
    id                     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                   text        NOT NULL CHECK (kind IN ('reminder', 'notice', 'interview', 'listed', 'onsite')),
    status                 text        NOT NULL DEFAULT 'issued' REFERENCES supervision_states (status),
    owner_org_id           bigint      NOT NULL REFERENCES orgs (id),      -- the org concerned (API: org_id)
    owner_org_path         ltree       NOT NULL,
    task_ids               bigint[]    NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(task_ids, 500)),
    complaint_ids          bigint[]    NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(complaint_ids, 500)),
    title                  text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    content                text        CHECK (length(content) <= 20000),
    response_due           date,
    -- notice 通报
    doc_number             text        CHECK (length(btrim(doc_number)) BETWEEN 1 AND 100),
    circulated_org_ids     bigint[]    NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(circulated_org_ids, 200)),
    -- interview 约谈
    interviewee            text        CHECK (length(btrim(interviewee)) BETWEEN 1 AND 500),
    interviewer            text        CHECK (length(btrim(interviewer)) BETWEEN 1 AND 500),
    interview_date         date,
    minutes_attachment_id  bigint      REFERENCES attachments (id),
    -- listed 挂牌督办
    removal_conditions     text        CHECK (length(btrim(removal_conditions)) BETWEEN 1 AND 5000),
    delisted_on            date,                                          -- 摘牌
    -- onsite 现场督办
    onsite_date            date,
    onsite_place           text        CHECK (length(btrim(onsite_place)) BETWEEN 1 AND 500),
    -- the unit's answer
    signed_at              timestamptz,
    signed_by              bigint,
    response               text        CHECK (length(response) <= 20000),
    response_attachment_ids bigint[]   NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(response_attachment_ids, 50)),
    responded_at           timestamptz,
    responded_by           bigint,
    -- the office's decisions
    issued_at              timestamptz,
    issued_by              bigint,
    closed_at              timestamptz,
    closed_by              bigint,
    close_comment          text        CHECK (length(close_comment) <= 2000),
    -- escalation: the rule that made it and its target key (one open per key)
    rule_id                bigint      REFERENCES escalation_rules (id),
    escalation_key         text,
    reason                 text        CHECK (length(reason) <= 2000),
    created_by             bigint      DEFAULT rectify.user_id(),
    version                integer     NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT supervisions_issued CHECK (status IN ('proposed', 'dismissed') OR issued_at IS NOT NULL),
    CONSTRAINT supervisions_notice CHECK (kind <> 'notice' OR status IN ('proposed', 'dismissed') OR doc_number IS NOT NULL),
    CONSTRAINT supervisions_interview CHECK (kind <> 'interview' OR status IN ('proposed', 'dismissed')
                                             OR (interviewee IS NOT NULL AND interviewer IS NOT NULL AND interview_date IS NOT NULL)),
    CONSTRAINT supervisions_listed CHECK (kind <> 'listed' OR status IN ('proposed', 'dismissed') OR removal_conditions IS NOT NULL),
    CONSTRAINT supervisions_delisted CHECK (delisted_on IS NULL OR (kind = 'listed' AND status = 'closed'))
);
COMMENT ON TABLE supervisions IS 'Supervision (督办): reminders, notices, interviews, listed and on-site supervision of an org.';
CREATE INDEX supervisions_scope_gist ON supervisions USING gist (owner_org_path);
CREATE INDEX supervisions_tasks_gin ON supervisions USING gin (task_ids);
CREATE INDEX supervisions_circulated_gin ON supervisions USING gin (circulated_org_ids);
CREATE INDEX supervisions_open_idx ON supervisions (response_due) WHERE status IN ('issued', 'signed');
CREATE UNIQUE INDEX supervisions_escalation_key ON supervisions (escalation_key)
    WHERE escalation_key IS NOT NULL AND status <> 'closed';
CREATE TRIGGER supervisions_touch BEFORE UPDATE ON supervisions
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
CREATE TRIGGER supervisions_org_ids BEFORE INSERT OR UPDATE OF circulated_org_ids ON supervisions
    FOR EACH ROW EXECUTE FUNCTION rectify.check_org_ids('circulated_org_ids');
SELECT rectify.enable_scope('supervisions');
SELECT rectify.enable_audit('supervisions');
ALTER TABLE supervisions ENABLE ROW LEVEL SECURITY;
-- The concerned org's subtree and the orgs a notice is circulated to; never
-- a proposal (the office's business until it is confirmed).
CREATE POLICY supervisions_read ON supervisions FOR SELECT TO rectify_api
    USING (rectify.sees_province()
           OR (status NOT IN ('proposed', 'dismissed')
               AND (rectify.in_scope(owner_org_path) OR circulated_org_ids @> ARRAY[rectify.org_id()])));
CREATE POLICY supervisions_insert ON supervisions FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office,leader}'::text[]));
CREATE POLICY supervisions_update ON supervisions FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{office,leader}'::text[])
           OR (rectify.has_role('unit') AND owner_org_path <@ rectify.org_path()))
    WITH CHECK (rectify.has_any_role('{office,leader}'::text[])
                OR (rectify.has_role('unit') AND owner_org_path <@ rectify.org_path()));
GRANT SELECT ON supervisions TO rectify_api;
GRANT INSERT (kind, status, owner_org_id, task_ids, complaint_ids, title, content, response_due, doc_number,
              circulated_org_ids, interviewee, interviewer, interview_date, minutes_attachment_id,
              removal_conditions, onsite_date, onsite_place, issued_at, issued_by) ON supervisions TO rectify_api;
GRANT UPDATE (status, response_due, doc_number, circulated_org_ids, interviewee, interviewer, interview_date,
              minutes_attachment_id, removal_conditions, delisted_on, onsite_date, onsite_place, signed_at,
              signed_by, response, response_attachment_ids, responded_at, responded_by, issued_at, issued_by,
              closed_at, closed_by, close_comment) ON supervisions TO rectify_api;

-- Evidence on supervision is readable by whoever sees the supervision: the
-- unit reads the interview minutes the office uploaded, the office the
-- unit's evidence.  Keeps the terms of 0019 (report links) and 0044
-- (acceptance links).
CREATE INDEX supervisions_minutes_idx ON supervisions (minutes_attachment_id) WHERE minutes_attachment_id IS NOT NULL;
CREATE INDEX supervisions_evidence_gin ON supervisions USING gin (response_attachment_ids);
CREATE OR REPLACE FUNCTION rectify.attachment_linked_visible(p_id bigint) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM report_attachments l WHERE l.attachment_id = p_id)
              OR EXISTS (SELECT 1 FROM acceptance_attachments l WHERE l.attachment_id = p_id)
              OR EXISTS (SELECT 1 FROM supervisions s WHERE s.minutes_attachment_id = p_id)
              OR EXISTS (SELECT 1 FROM supervisions s WHERE s.response_attachment_ids @> ARRAY[p_id]) $$;

-- The history of a supervision (append-only; written by the transition function).
CREATE TABLE supervision_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supervision_id  bigint      NOT NULL REFERENCES supervisions (id),
    action          text        NOT NULL,
    from_status     text        REFERENCES supervision_states (status),
    to_status       text        NOT NULL REFERENCES supervision_states (status),
    comment         text        CHECK (length(comment) <= 2000),
    user_id         bigint      DEFAULT rectify.user_id(),
    org_id          bigint      DEFAULT rectify.org_id(),
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX supervision_events_idx ON supervision_events (supervision_id, id);
SELECT rectify.enable_audit('supervision_events');
ALTER TABLE supervision_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY supervision_events_read ON supervision_events FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM supervisions s WHERE s.id = supervision_id));
CREATE POLICY supervision_events_insert ON supervision_events FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM supervisions s WHERE s.id = supervision_id)
                AND user_id = rectify.user_id());
GRANT SELECT ON supervision_events TO rectify_api;
GRANT INSERT (supervision_id, action, from_status, to_status, comment) ON supervision_events TO rectify_api;

CREATE FUNCTION rectify.supervision_json(s supervisions) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object(
        'id', s.id, 'kind', s.kind, 'status', s.status,
        'org', (SELECT json_build_object('id', o.id, 'code', o.code, 'name', o.name) FROM orgs o WHERE o.id = s.owner_org_id),
        'task_ids', s.task_ids, 'complaint_ids', s.complaint_ids, 'title', s.title, 'content', s.content,
        'response_due', s.response_due,
        'overdue', s.status IN ('issued', 'signed') AND s.response_due < current_date,
        'doc_number', s.doc_number, 'circulated_org_ids', s.circulated_org_ids,
        'interviewee', s.interviewee, 'interviewer', s.interviewer, 'interview_date', s.interview_date,
        'minutes_attachment_id', s.minutes_attachment_id,
        'removal_conditions', s.removal_conditions, 'delisted_on', s.delisted_on,
        'onsite_date', s.onsite_date, 'onsite_place', s.onsite_place,
        'signed_at', s.signed_at, 'response', s.response, 'response_attachment_ids', s.response_attachment_ids,
        'responded_at', s.responded_at, 'issued_at', s.issued_at, 'closed_at', s.closed_at,
        'close_comment', s.close_comment, 'rule_id', s.rule_id, 'reason', s.reason,
        'history', (SELECT coalesce(json_agg(json_build_object('action', e.action, 'from_status', e.from_status,
                                                               'to_status', e.to_status, 'comment', e.comment,
                                                               'user_id', e.user_id, 'org_id', e.org_id, 'at', e.at)
                                             ORDER BY e.id), '[]')
                      FROM supervision_events e WHERE e.supervision_id = s.id),
        'version', s.version, 'created_at', s.created_at, 'updated_at', s.updated_at)
    $$;
GRANT EXECUTE ON FUNCTION rectify.supervision_json(supervisions) TO rectify_api;

-- Every id of p_ids names a visible row of p_table, else a 422 at p_field.
CREATE FUNCTION rectify.supervision_refs(p_ids bigint[], p_table regclass, p_field text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s WHERE id = ANY ($1)', p_table) INTO n USING p_ids;
    IF n <> cardinality(p_ids) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A referenced record does not exist.',
                                      p_field, 'names a record that does not exist');
    END IF;
END
$$;

-- The kind's own required details (issued rows; the table's CHECKs are
-- the backstop, this names the field).
CREATE FUNCTION rectify.supervision_require(s supervisions) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF s.kind = 'notice' AND s.doc_number IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A notice needs its document number.', 'doc_number', 'is required for a notice');
    ELSIF s.kind = 'interview' AND s.interviewee IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'An interview names who is interviewed.', 'interviewee', 'is required for an interview');
    ELSIF s.kind = 'interview' AND s.interviewer IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'An interview names who interviews.', 'interviewer', 'is required for an interview');
    ELSIF s.kind = 'interview' AND s.interview_date IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'An interview has a date.', 'interview_date', 'is required for an interview');
    ELSIF s.kind = 'listed' AND s.removal_conditions IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'Listed supervision states its conditions for removal.', 'removal_conditions', 'is required for listed supervision');
    END IF;
END
$$;

-- POST /supervisions: issued at once.
CREATE FUNCTION rectify.supervision_create(p jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    s supervisions;
BEGIN
    s := jsonb_populate_record(NULL::supervisions, p - 'org_id' - 'status' - 'id');
    s.owner_org_id := (p ->> 'org_id')::bigint;
    s.task_ids := coalesce(s.task_ids, '{}');
    s.complaint_ids := coalesce(s.complaint_ids, '{}');
    s.circulated_org_ids := coalesce(s.circulated_org_ids, '{}');
    IF NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = s.owner_org_id) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'No such organisation.', 'org_id', 'does not exist');
    END IF;
    PERFORM rectify.supervision_refs(s.task_ids, 'tasks', 'task_ids');
    PERFORM rectify.supervision_refs(s.complaint_ids, 'complaints', 'complaint_ids');
    PERFORM rectify.supervision_refs(s.circulated_org_ids, 'orgs', 'circulated_org_ids');
    IF s.minutes_attachment_id IS NOT NULL THEN
        PERFORM rectify.supervision_refs(ARRAY[s.minutes_attachment_id], 'attachments', 'minutes_attachment_id');
    END IF;
    PERFORM rectify.supervision_require(s);
    INSERT INTO supervisions (kind, status, owner_org_id, task_ids, complaint_ids, title, content, response_due,
                              doc_number, circulated_org_ids, interviewee, interviewer, interview_date,
                              minutes_attachment_id, removal_conditions, onsite_date, onsite_place,
                              issued_at, issued_by)
    VALUES (s.kind, 'issued', s.owner_org_id, s.task_ids, s.complaint_ids, s.title, s.content, s.response_due,
            s.doc_number, s.circulated_org_ids, s.interviewee, s.interviewer, s.interview_date,
            s.minutes_attachment_id, s.removal_conditions, s.onsite_date, s.onsite_place, now(), rectify.user_id())
    RETURNING * INTO s;
    INSERT INTO supervision_events (supervision_id, action, from_status, to_status)
    VALUES (s.id, 'issue', NULL, 'issued');
    RETURN QUERY SELECT s.version, rectify.supervision_json(s), '/api/v1/supervisions/' || s.id;
END
$$;
GRANT EXECUTE ON FUNCTION rectify.supervision_create(jsonb) TO rectify_api;

-- POST /supervisions/{id}/transitions.  Body: {"action", "comment"?, and per
-- action: confirm — the kind's details; respond — response,
-- attachment_ids; close — delisted_on (listed)}.
CREATE FUNCTION rectify.supervision_transition(p_id bigint, p_version integer, p jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur supervisions;
    mv supervision_moves;
    act text := p ->> 'action';
    att bigint[];
BEGIN
    SELECT * INTO cur FROM supervisions s WHERE s.id = p_id;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such supervision.');
    END IF;
    SELECT * INTO mv FROM supervision_moves m WHERE m.action = act AND m.from_status = cur.status;
    IF NOT FOUND THEN
        PERFORM rectify.fail(409, 'invalid_transition',
                                      format('A %s supervision cannot be %s.', cur.status,
                                             CASE act WHEN 'confirm' THEN 'confirmed' WHEN 'dismiss' THEN 'dismissed'
                                                      WHEN 'sign' THEN 'signed for' WHEN 'respond' THEN 'answered'
                                                      ELSE 'closed' END));
    END IF;
    IF mv.actor = 'office' AND NOT rectify.has_any_role('{office,leader}'::text[]) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the rectification office decides on supervision.');
    END IF;
    IF mv.actor = 'unit' AND NOT (rectify.has_role('unit') AND cur.owner_org_path <@ rectify.org_path()) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the organisation concerned signs for and answers supervision.');
    END IF;
    PERFORM rectify.check_version(cur.version, p_version);
    IF act = 'confirm' THEN
        cur.doc_number := coalesce(p ->> 'doc_number', cur.doc_number);
        cur.interviewee := coalesce(p ->> 'interviewee', cur.interviewee);
        cur.interviewer := coalesce(p ->> 'interviewer', cur.interviewer);
        cur.interview_date := coalesce((p ->> 'interview_date')::date, cur.interview_date);
        cur.removal_conditions := coalesce(p ->> 'removal_conditions', cur.removal_conditions);
        cur.response_due := coalesce((p ->> 'response_due')::date, cur.response_due);
        IF p ? 'circulated_org_ids' THEN
            cur.circulated_org_ids := rectify.dispatch_ids(p, 'circulated_org_ids');
            PERFORM rectify.supervision_refs(cur.circulated_org_ids, 'orgs', 'circulated_org_ids');
        END IF;
        PERFORM rectify.supervision_require(cur);
        cur.issued_at := now();
        cur.issued_by := rectify.user_id();
    ELSIF act = 'sign' THEN
        cur.signed_at := now();
        cur.signed_by := rectify.user_id();
    ELSIF act = 'respond' THEN
        att := rectify.dispatch_ids(p, 'attachment_ids');
        PERFORM rectify.supervision_refs(att, 'attachments', 'attachment_ids');
        cur.response := p ->> 'response';
        cur.response_attachment_ids := att;
        cur.responded_at := now();
        cur.responded_by := rectify.user_id();
    ELSIF act IN ('close', 'dismiss') THEN
        cur.closed_at := now();
        cur.closed_by := rectify.user_id();
        cur.close_comment := p ->> 'comment';
        IF act = 'close' AND cur.kind = 'listed' THEN
            cur.delisted_on := coalesce((p ->> 'delisted_on')::date, current_date);
        END IF;
    END IF;
    UPDATE supervisions s SET status = mv.to_status, doc_number = cur.doc_number, interviewee = cur.interviewee,
           interviewer = cur.interviewer, interview_date = cur.interview_date,
           removal_conditions = cur.removal_conditions, response_due = cur.response_due,
           circulated_org_ids = cur.circulated_org_ids, issued_at = cur.issued_at, issued_by = cur.issued_by,
           signed_at = cur.signed_at, signed_by = cur.signed_by, response = cur.response,
           response_attachment_ids = cur.response_attachment_ids, responded_at = cur.responded_at,
           responded_by = cur.responded_by, closed_at = cur.closed_at, closed_by = cur.closed_by,
           close_comment = cur.close_comment, delisted_on = cur.delisted_on
     WHERE s.id = p_id AND s.version = p_version
    RETURNING * INTO cur;
    IF NOT FOUND THEN           -- changed since we read it
        PERFORM rectify.fail(412, 'precondition_failed', 'The supervision changed meanwhile; re-read and retry.');
    END IF;
    INSERT INTO supervision_events (supervision_id, action, from_status, to_status, comment)
    VALUES (p_id, act, mv.from_status, mv.to_status, p ->> 'comment');
    RETURN QUERY SELECT cur.version, rectify.supervision_json(cur);
END
$$;
GRANT EXECUTE ON FUNCTION rectify.supervision_transition(bigint, integer, jsonb) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Escalation.
-- ---------------------------------------------------------------------------

-- Since when an open task has been red (NULL when it is not red): the
-- earlier of the two red rules of rectify.task_warning — no report for
-- report_interval_days (red from the day the interval ran out) and overdue
-- (red from the start of the day after the effective deadline, in the
-- session's time zone like current_date in rectify.task_overdue).
CREATE FUNCTION rectify.task_red_since(p_status text, p_kind text, p_deadline date, p_started timestamptz,
                                       p_last_report timestamptz, p_report_days integer)
    RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_status NOT IN ('pending', 'in_progress') THEN NULL ELSE
           least(CASE WHEN coalesce(p_last_report, p_started) < now() - make_interval(days => p_report_days)
                      THEN coalesce(p_last_report, p_started) + make_interval(days => p_report_days) END,
                 CASE WHEN p_kind = 'date' AND p_deadline < current_date
                      THEN (p_deadline + 1)::timestamptz END) END
    $$;
GRANT EXECUTE ON FUNCTION rectify.task_red_since(text, text, date, timestamptz, timestamptz, integer) TO rectify_api;

-- What the active rules call for now, one row per rule and target (without
-- writing anything): the scan's input, and readable on its own in tests.
CREATE FUNCTION rectify.escalation_candidates()
    RETURNS TABLE (rule_id bigint, kind text, org_id bigint, task_ids bigint[], escalation_key text,
                   reason text, response_days integer)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH s AS (SELECT report_interval_days AS d FROM ledger_settings),
    red AS (SELECT t.id, t.owner_org_id, t.code,
                   rectify.task_red_since(t.status, t.deadline_kind, t.effective_deadline,
                                          coalesce(t.started_at, t.created_at), t.last_reported_at, s.d) AS since
              FROM tasks t, s WHERE t.status IN ('pending', 'in_progress'))
    SELECT r.id, r.kind, red.owner_org_id, ARRAY[red.id], 'r' || r.id || ':t' || red.id,
           format('任务%s红灯预警已%s天', red.code, extract(day FROM now() - red.since)::int), r.response_days
      FROM escalation_rules r JOIN red ON red.since <= now() - make_interval(days => (r.params ->> 'days')::int)
     WHERE r.active AND r.condition = 'red_days'
    UNION ALL
    SELECT r.id, r.kind, m.org, m.tasks, 'r' || r.id || ':o' || m.org,
           format('近%s天内%s次调度未按时报送', r.params ->> 'window_days', m.n), r.response_days
      FROM escalation_rules r,
           LATERAL (SELECT i.owner_org_id AS org, count(DISTINCT i.round_id) AS n,
                           array_agg(DISTINCT i.task_id ORDER BY i.task_id) AS tasks
                      FROM dispatch_items i JOIN dispatch_rounds d ON d.id = i.round_id
                     WHERE d.due_at < now()
                       AND d.due_at >= now() - make_interval(days => (r.params ->> 'window_days')::int)
                       AND (i.reported_at IS NULL OR i.reported_at > d.due_at)
                     GROUP BY i.owner_org_id) m
     WHERE r.active AND r.condition = 'missed_rounds' AND m.n >= (r.params ->> 'count')::int
    UNION ALL
    SELECT r.id, r.kind, red.owner_org_id, ARRAY[red.id], 'r' || r.id || ':t' || red.id,
           format('任务%s通报后%s天仍为红灯', red.code, r.params ->> 'days'), r.response_days
      FROM escalation_rules r JOIN red ON red.since IS NOT NULL
     WHERE r.active AND r.condition = 'red_after_notice'
       AND EXISTS (SELECT 1 FROM supervisions n
                    WHERE n.kind = 'notice' AND n.task_ids @> ARRAY[red.id]
                      AND n.status IN ('issued', 'signed', 'responded', 'closed')
                      AND n.issued_at <= now() - make_interval(days => (r.params ->> 'days')::int))
    UNION ALL
    SELECT r.id, r.kind, i.owner_org_id, array_agg(i.task_id ORDER BY i.task_id),
           'r' || r.id || ':o' || i.owner_org_id || ':d' || d.id,
           format(CASE WHEN r.condition = 'round_due_soon' THEN '调度“%s”（%s）将于%s截止，尚有%s项未报送'
                       ELSE '调度“%s”（%s）已于%s截止，尚有%s项未报送' END,
                  d.name, d.period, to_char(d.due_at, 'YYYY-MM-DD HH24:MI'), count(*)),
           r.response_days
      FROM escalation_rules r
      JOIN dispatch_rounds d ON d.status = 'open'
           AND CASE WHEN r.condition = 'round_due_soon'
                    THEN d.due_at > now() AND d.due_at <= now() + make_interval(hours => (r.params ->> 'hours')::int)
                    ELSE d.due_at <= now() - make_interval(hours => (r.params ->> 'hours')::int) END
      JOIN dispatch_items i ON i.round_id = d.id AND i.report_id IS NULL
     WHERE r.active AND r.condition IN ('round_due_soon', 'round_overdue')
     GROUP BY r.id, r.kind, r.condition, r.response_days, i.owner_org_id, d.id, d.name, d.period, d.due_at
    $$;
REVOKE EXECUTE ON FUNCTION rectify.escalation_candidates() FROM PUBLIC;

-- The daily scan: reminders issued, graver kinds proposed.  One scan at a
-- time (transaction advisory lock); the partial unique key on
-- escalation_key keeps one open supervision per rule and target (a
-- dismissed proposal stays, so it is not proposed again).
-- Returns {"issued": N, "proposed": M}.
CREATE FUNCTION rectify.supervision_escalation_scan() RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    issued integer;
    proposed integer;
BEGIN
    PERFORM pg_advisory_xact_lock(5927674194174148609 + 46);      -- 'RCTF' << 32 | 1, + this migration
    WITH ins AS (
        INSERT INTO supervisions (kind, status, owner_org_id, task_ids, title, response_due, rule_id,
                                  escalation_key, reason, issued_at, created_by)
        SELECT c.kind, CASE WHEN c.kind = 'reminder' THEN 'issued' ELSE 'proposed' END, c.org_id, c.task_ids,
               CASE c.kind WHEN 'reminder' THEN '催办：' WHEN 'notice' THEN '拟通报：'
                           WHEN 'interview' THEN '拟约谈：' WHEN 'listed' THEN '拟挂牌督办：'
                           ELSE '拟现场督办：' END || c.reason,
               current_date + c.response_days, c.rule_id, c.escalation_key, c.reason,
               CASE WHEN c.kind = 'reminder' THEN now() END, rectify.user_id()
          FROM rectify.escalation_candidates() c
         -- already open: skipped here through the partial unique index (cheap);
         -- ON CONFLICT still settles a race with a concurrent writer
         WHERE NOT EXISTS (SELECT 1 FROM supervisions s WHERE s.escalation_key = c.escalation_key
                              AND s.escalation_key IS NOT NULL AND s.status <> 'closed')
        ON CONFLICT (escalation_key) WHERE escalation_key IS NOT NULL AND status <> 'closed' DO NOTHING
        RETURNING id, status),
    ev AS (INSERT INTO supervision_events (supervision_id, action, from_status, to_status, comment, user_id, org_id)
           SELECT id, CASE WHEN status = 'issued' THEN 'issue' ELSE 'propose' END, NULL, status,
                  'escalation scan', rectify.user_id(), rectify.org_id() FROM ins)
    SELECT count(*) FILTER (WHERE status = 'issued'), count(*) FILTER (WHERE status = 'proposed')
      INTO issued, proposed FROM ins;
    RETURN json_build_object('issued', issued, 'proposed', proposed);
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.supervision_escalation_scan() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.supervision_escalation_scan() TO rectify_api;   -- the route needs supervision.write
-- The daily scan on the jobs runner (0041), before the working day starts.
INSERT INTO job_schedules (name, kind, at_time) VALUES ('supervision.escalation_scan', 'supervision.escalation_scan', time '06:00');

-- POST/PATCH /escalation-rules.
CREATE FUNCTION rectify.escalation_rule_json(r escalation_rules) RETURNS json
    LANGUAGE sql STABLE
    AS $$ SELECT json_build_object('id', r.id, 'name', r.name, 'condition', r.condition, 'params', r.params,
                                   'kind', r.kind, 'action', CASE WHEN r.kind = 'reminder' THEN 'issue' ELSE 'propose' END,
                                   'response_days', r.response_days, 'active', r.active, 'version', r.version,
                                   'created_at', r.created_at, 'updated_at', r.updated_at) $$;
GRANT EXECUTE ON FUNCTION rectify.escalation_rule_json(escalation_rules) TO rectify_api;

CREATE FUNCTION rectify.escalation_rule_create(p jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    r escalation_rules;
BEGIN
    INSERT INTO escalation_rules (name, condition, params, kind, response_days, active)
    VALUES (p ->> 'name', p ->> 'condition', p -> 'params', p ->> 'kind',
            coalesce((p ->> 'response_days')::int, 7), coalesce((p ->> 'active')::boolean, true))
    RETURNING * INTO r;
    RETURN QUERY SELECT r.version, rectify.escalation_rule_json(r), '/api/v1/escalation-rules/' || r.id;
END
$$;
GRANT EXECUTE ON FUNCTION rectify.escalation_rule_create(jsonb) TO rectify_api;

CREATE FUNCTION rectify.escalation_rule_patch(p_id bigint, p_version integer, p jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur escalation_rules;
BEGIN
    SELECT * INTO cur FROM escalation_rules r WHERE r.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such escalation rule.');
    END IF;
    PERFORM rectify.check_version(cur.version, p_version);
    cur := jsonb_populate_record(cur, p - 'id' - 'version' - 'created_at' - 'updated_at');
    UPDATE escalation_rules r SET name = cur.name, condition = cur.condition, params = cur.params,
           kind = cur.kind, response_days = cur.response_days, active = cur.active
     WHERE r.id = p_id RETURNING * INTO cur;
    RETURN QUERY SELECT cur.version, rectify.escalation_rule_json(cur);
END
$$;
GRANT EXECUTE ON FUNCTION rectify.escalation_rule_patch(bigint, integer, jsonb) TO rectify_api;
