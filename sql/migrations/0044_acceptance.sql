-- 0044_acceptance.sql — acceptance and closing (验收销号, plan 四(三)):
-- request with self-assessment and evidence, on-site check (现场核查),
-- one opinion per acceptance org (谁验收谁负责), the leading group's
-- approval (同意销号), public announcement in batches (公示) with objections
-- (异议), closing when the period ends (销号), spot checks of closed tasks
-- (抽查核验) that re-open them (重新纳入整改).
--
-- The task states of 0011 are kept; this migration gives the acceptance
-- states their moves and fixes what each one means:
--   acceptance_requested  申请验收  a request is on file; waiting for the on-site check
--   acceptance_review     验收中    the check is recorded; the acceptance orgs give opinions,
--                                  then (all agreed) the leading group decides
--   approved              验收通过  the leading group approved closing (同意销号);
--                                  waiting to be announced
--   announced             公示中    in a published announcement, its period running
--   closed                已销号    the period ended without an upheld objection
-- The finer stage of an open request (awaiting_check, awaiting_opinions,
-- awaiting_approval) is acceptance_requests.status, mirrored in
-- tasks.acceptance_stage for lists.
--
-- Every step is a PL/pgSQL function rectify.<thing>_<verb>(…) RETURNS TABLE
-- (version, json[, location]) (the handler protocol, 0040): SECURITY INVOKER
-- so that row-level security applies, every domain outcome raised with
-- rectify.fail / rectify.check_version.  The steps that carry If-Match
-- name the TASK's version: every step updates the task row (status or
-- acceptance_stage), so one ETag covers the task and its dossier.
-- Exceptions (SECURITY DEFINER, owner): the public side (anonymous callers
-- see no row under RLS) and the closing scan (a background job).

-- ---------------------------------------------------------------------------
-- The new moves of the task state machine (src/workflow/task_workflow.c has
-- the same moves with their actions and roles).  Back to in_progress from
-- acceptance_review (rejected, returned), announced (objection upheld) and
-- closed (spot check failed) exist since 0011.
-- ---------------------------------------------------------------------------
INSERT INTO task_status_transitions VALUES
    ('acceptance_requested', 'acceptance_review'),   -- record_check
    ('acceptance_review', 'approved'),               -- approve (同意销号)
    ('approved', 'announced'),                       -- announce
    ('announced', 'closed');                         -- close (the scan)

-- A re-opening for an upheld objection is a reason of its own.
ALTER TABLE task_transitions DROP CONSTRAINT task_transitions_reason_check;
ALTER TABLE task_transitions ADD CONSTRAINT task_transitions_reason_check
    CHECK (reason IN ('rebound', 'faked', 'spot_check_failed', 'objection_upheld'));

ALTER TABLE tasks
    ADD COLUMN acceptance_stage text
        CHECK (acceptance_stage IN ('awaiting_check', 'awaiting_opinions', 'awaiting_approval')),
    ADD COLUMN closed_at timestamptz,
    ADD CONSTRAINT tasks_acceptance_stage
        CHECK (acceptance_stage IS NULL OR status IN ('acceptance_requested', 'acceptance_review'));
-- closed_at is kept by the trigger below, not a CHECK: maintenance scripts
-- (and tests) move rows with triggers off (session_replication_role).
COMMENT ON COLUMN tasks.acceptance_stage IS 'Stage of the open acceptance request (acceptance_requests.status), NULL when none.';
COMMENT ON COLUMN tasks.closed_at IS 'When the task was closed (销号); cleared when it is re-opened.';
GRANT UPDATE (acceptance_stage, closed_at) ON tasks TO rectify_api;

-- Seeded or older closed tasks get a closing date: their last update.
UPDATE tasks SET closed_at = updated_at WHERE status = 'closed' AND closed_at IS NULL;

-- Leaving closed clears closed_at; reaching acceptance_requested needs an
-- open request (made by rectify.acceptance_request with its evidence): the
-- plain transition `request_acceptance` cannot skip the evidence.
CREATE FUNCTION rectify.tasks_acceptance_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN            -- seeded and imported rows
        IF NEW.status = 'closed' AND NEW.closed_at IS NULL THEN
            NEW.closed_at := now();
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.status = 'acceptance_requested'
           AND NOT EXISTS (SELECT 1 FROM acceptance_requests q
                            WHERE q.task_id = NEW.id AND q.status = 'awaiting_check') THEN
            PERFORM rectify.fail(422, 'evidence_required', format('A request for acceptance needs a self-assessment and evidence: POST /api/v1/tasks/%s/acceptance/requests.', NEW.id));
        END IF;
        IF OLD.status = 'closed' THEN
            NEW.closed_at := NULL;
        END IF;
        IF NEW.status NOT IN ('acceptance_requested', 'acceptance_review') THEN
            NEW.acceptance_stage := NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- ---------------------------------------------------------------------------
-- Settings: the default announcement period in working days.
-- ---------------------------------------------------------------------------
CREATE TABLE acceptance_settings (
    singleton                   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    announcement_working_days   integer     NOT NULL DEFAULT 5 CHECK (announcement_working_days BETWEEN 1 AND 60),
    version                     integer     NOT NULL DEFAULT 1,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acceptance_settings IS 'Acceptance settings (one row): default announcement period in working days.';
INSERT INTO acceptance_settings DEFAULT VALUES;     -- before the audit: seeds are not changes
CREATE TRIGGER acceptance_settings_touch BEFORE UPDATE ON acceptance_settings
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('acceptance_settings');
GRANT SELECT ON acceptance_settings TO rectify_api;

-- ---------------------------------------------------------------------------
-- Working-day calendar (工作日历), kept by the office: only the exceptions
-- to "Monday–Friday work" — public holidays (working = false) and make-up
-- working days on a weekend (调休上班, working = true).
-- ---------------------------------------------------------------------------
CREATE TABLE work_calendar (
    day         date        PRIMARY KEY,
    working     boolean     NOT NULL,
    note        text        NOT NULL CHECK (length(btrim(note)) BETWEEN 1 AND 200),
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- a holiday on a weekend or a make-up day on a weekday would change nothing
    CONSTRAINT work_calendar_exception CHECK (working = (extract(isodow FROM day) >= 6))
);
COMMENT ON TABLE work_calendar IS 'Exceptions to Monday-Friday working days: public holidays and make-up working days (kept by the office).';
CREATE TRIGGER work_calendar_touch BEFORE UPDATE ON work_calendar
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
ALTER TABLE work_calendar ENABLE ROW LEVEL SECURITY;
CREATE POLICY work_calendar_read ON work_calendar FOR SELECT TO rectify_api USING (true);
CREATE POLICY work_calendar_write ON work_calendar FOR ALL TO rectify_api
    USING (rectify.has_any_role('{office}'::text[]))
    WITH CHECK (rectify.has_any_role('{office}'::text[]));
GRANT SELECT, DELETE ON work_calendar TO rectify_api;
GRANT INSERT (day, working, note), UPDATE (working, note) ON work_calendar TO rectify_api;

-- 2026: the State Council's arrangement (国务院办公厅关于2026年部分节假日安排的通知).
INSERT INTO work_calendar (day, working, note)
SELECT d::date, false, n FROM (VALUES
    ('2026-01-01', '2026-01-02', '元旦'),
    ('2026-02-16', '2026-02-20', '春节'), ('2026-02-23', '2026-02-23', '春节'),
    ('2026-04-06', '2026-04-06', '清明节'),
    ('2026-05-01', '2026-05-01', '劳动节'), ('2026-05-04', '2026-05-05', '劳动节'),
    ('2026-06-19', '2026-06-19', '端午节'),
    ('2026-09-25', '2026-09-25', '中秋节'),
    ('2026-10-01', '2026-10-02', '国庆节'), ('2026-10-05', '2026-10-07', '国庆节'))
    AS h(a, b, n), generate_series(a::date, b::date, '1 day') AS d
WHERE extract(isodow FROM d) < 6;
INSERT INTO work_calendar (day, working, note) VALUES
    ('2026-01-04', true, '元旦调休上班'),
    ('2026-02-14', true, '春节调休上班'), ('2026-02-28', true, '春节调休上班'),
    ('2026-05-09', true, '劳动节调休上班'),
    ('2026-09-20', true, '国庆节调休上班'), ('2026-10-10', true, '国庆节调休上班');
-- 2027: the statutory holidays on weekdays (法定节假日) by the lunar calendar;
-- make-up days are announced by the State Council each November and must
-- be entered by the office (note says so).
INSERT INTO work_calendar (day, working, note)
SELECT d::date, false, n || '（法定假日；调休安排以国务院通知为准）' FROM (VALUES
    ('2027-01-01', '2027-01-01', '元旦'),
    ('2027-02-05', '2027-02-08', '春节'),
    ('2027-04-05', '2027-04-05', '清明节'),
    ('2027-05-03', '2027-05-03', '劳动节'),
    ('2027-06-09', '2027-06-09', '端午节'),
    ('2027-09-15', '2027-09-15', '中秋节'),
    ('2027-10-01', '2027-10-01', '国庆节'), ('2027-10-04', '2027-10-05', '国庆节'))
    AS h(a, b, n), generate_series(a::date, b::date, '1 day') AS d
WHERE extract(isodow FROM d) < 6;

-- Audited from here on (the seeds above are not changes); the office's
-- edits are.
SELECT rectify.enable_audit('work_calendar');

CREATE FUNCTION rectify.is_working_day(p_day date) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT coalesce((SELECT c.working FROM work_calendar c WHERE c.day = p_day),
                          extract(isodow FROM p_day) < 6) $$;

-- The last day of a period of p_days working days starting on p_start (or
-- on the first working day after it).  Bounded: 60 working days fit in a year.
CREATE FUNCTION rectify.working_days_end(p_start date, p_days integer) RETURNS date
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT d FROM (SELECT d::date, row_number() OVER (ORDER BY d) AS n
                     FROM generate_series(p_start, p_start + 400, '1 day') AS d
                    WHERE rectify.is_working_day(d::date)) w
     WHERE n = p_days
$$;
GRANT EXECUTE ON FUNCTION rectify.is_working_day(date), rectify.working_days_end(date, integer) TO rectify_api;

-- ---------------------------------------------------------------------------
-- acceptance_requests: one round of acceptance of a task (验收销号申请).  A
-- rejected or returned round stays; a new round starts with a new request.
--   awaiting_check     the on-site check is not recorded yet
--   awaiting_opinions  checked; some acceptance org has not given an opinion
--   awaiting_approval  every acceptance org agreed; the leading group decides
--   rejected           an acceptance org disagreed (验收不通过): task back to in_progress
--   returned           the leading group returned it (退回): task back to in_progress
--   approved           the leading group approved closing (同意销号)
-- ---------------------------------------------------------------------------
CREATE TABLE acceptance_requests (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id            bigint      NOT NULL REFERENCES tasks (id),
    round              integer     NOT NULL CHECK (round >= 1),
    self_assessment    text        NOT NULL CHECK (length(btrim(self_assessment)) BETWEEN 1 AND 20000),
    -- one line per measure of the task, in the task's order (自评: 措施落实情况)
    measure_results    text[]      NOT NULL DEFAULT '{}'
                                   CHECK (coalesce(array_ndims(measure_results), 1) = 1
                                          AND cardinality(measure_results) <= 50
                                          AND array_position(measure_results, NULL) IS NULL),
    target_met         text        CHECK (length(target_met) <= 5000),   -- 目标完成情况
    acceptance_org_ids bigint[]    NOT NULL,    -- the task's acceptance orgs when requested
    status             text        NOT NULL DEFAULT 'awaiting_check'
                                   CHECK (status IN ('awaiting_check', 'awaiting_opinions',
                                                     'awaiting_approval', 'rejected', 'returned',
                                                     'approved')),
    requested_by       bigint      DEFAULT rectify.user_id(),
    requested_org_id   bigint      DEFAULT rectify.org_id(),
    decided_by         bigint,                  -- the leader (approved, returned)
    decision_comment   text        CHECK (length(decision_comment) <= 5000),
    decided_at         timestamptz,
    version            integer     NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, round),
    CONSTRAINT acceptance_requests_decided
        CHECK ((status IN ('rejected', 'returned', 'approved')) = (decided_at IS NOT NULL))
);
COMMENT ON TABLE acceptance_requests IS 'Rounds of acceptance (验收销号申请) of tasks, with their outcome.';
CREATE UNIQUE INDEX acceptance_requests_one_open ON acceptance_requests (task_id)
    WHERE status IN ('awaiting_check', 'awaiting_opinions', 'awaiting_approval');
CREATE TRIGGER acceptance_requests_touch BEFORE UPDATE ON acceptance_requests
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('acceptance_requests');
ALTER TABLE acceptance_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY acceptance_requests_read ON acceptance_requests FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY acceptance_requests_insert ON acceptance_requests FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id)
                AND requested_by = rectify.user_id()
                AND rectify.has_any_role('{office,unit}'::text[]));
CREATE POLICY acceptance_requests_update ON acceptance_requests FOR UPDATE TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id))
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
GRANT SELECT ON acceptance_requests TO rectify_api;
GRANT INSERT (task_id, round, self_assessment, measure_results, target_met, acceptance_org_ids)
    ON acceptance_requests TO rectify_api;
GRANT UPDATE (status, decided_by, decision_comment, decided_at) ON acceptance_requests TO rectify_api;

CREATE TRIGGER tasks_acceptance_guard BEFORE INSERT OR UPDATE OF status ON tasks
    FOR EACH ROW EXECUTE FUNCTION rectify.tasks_acceptance_guard();

-- ---------------------------------------------------------------------------
-- acceptance_checks: the on-site check of a round (现场核查).  With several
-- acceptance orgs the office organises one joint check; with one, that org
-- checks itself.  inspection_id links the check to the inspection of kind
-- acceptance_check once the inspections table exists (inspection issue):
-- a plain bigint for now, its foreign key is added by that migration.
-- ---------------------------------------------------------------------------
CREATE TABLE acceptance_checks (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id     bigint      NOT NULL UNIQUE REFERENCES acceptance_requests (id),
    task_id        bigint      NOT NULL REFERENCES tasks (id),
    check_date     date        NOT NULL,
    joint          boolean     NOT NULL,            -- organised by the office for several orgs
    team           text[]      NOT NULL CHECK (cardinality(team) BETWEEN 1 AND 50
                                               AND array_position(team, NULL) IS NULL
                                               AND coalesce(array_ndims(team), 1) = 1),
    findings       text        NOT NULL CHECK (length(btrim(findings)) BETWEEN 1 AND 20000),
    inspection_id  bigint,                          -- future FK → inspections (kind acceptance_check)
    recorded_by    bigint      DEFAULT rectify.user_id(),
    org_id         bigint      DEFAULT rectify.org_id(),
    created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acceptance_checks IS 'On-site checks (现场核查) of acceptance rounds; inspection_id will reference inspections.';
COMMENT ON COLUMN acceptance_checks.inspection_id IS 'The inspection of kind acceptance_check (FK added with the inspections table).';
SELECT rectify.enable_audit('acceptance_checks');
ALTER TABLE acceptance_checks ENABLE ROW LEVEL SECURITY;
CREATE POLICY acceptance_checks_read ON acceptance_checks FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY acceptance_checks_insert ON acceptance_checks FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id)
                AND recorded_by = rectify.user_id()
                AND rectify.has_any_role('{office,acceptor}'::text[]));
GRANT SELECT ON acceptance_checks TO rectify_api;
GRANT INSERT (request_id, task_id, check_date, joint, team, findings) ON acceptance_checks TO rectify_api;

-- ---------------------------------------------------------------------------
-- acceptance_opinions: 谁验收谁负责 — one opinion per acceptance org and
-- round, by an acceptor of that org.  A correction is a new row naming the
-- one it supersedes (both kept); an opinion is superseded at most once.
-- ---------------------------------------------------------------------------
CREATE TABLE acceptance_opinions (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id     bigint      NOT NULL REFERENCES acceptance_requests (id),
    task_id        bigint      NOT NULL REFERENCES tasks (id),
    org_id         bigint      NOT NULL REFERENCES orgs (id) DEFAULT rectify.org_id(),
    decision       text        NOT NULL CHECK (decision IN ('agree', 'disagree')),
    reasons        text        NOT NULL CHECK (length(btrim(reasons)) BETWEEN 1 AND 20000),
    supersedes_id  bigint      UNIQUE REFERENCES acceptance_opinions (id),
    user_id        bigint      DEFAULT rectify.user_id(),
    created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE acceptance_opinions IS 'Acceptance opinions (验收意见), one per acceptance org and round; corrections supersede.';
CREATE UNIQUE INDEX acceptance_opinions_one_per_org ON acceptance_opinions (request_id, org_id)
    WHERE supersedes_id IS NULL;
CREATE INDEX acceptance_opinions_task_idx ON acceptance_opinions (task_id, id);
SELECT rectify.enable_audit('acceptance_opinions');
ALTER TABLE acceptance_opinions ENABLE ROW LEVEL SECURITY;
CREATE POLICY acceptance_opinions_read ON acceptance_opinions FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY acceptance_opinions_insert ON acceptance_opinions FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id AND org_id = ANY (t.acceptance_org_ids))
                AND user_id = rectify.user_id() AND org_id = rectify.org_id()
                AND rectify.has_role('acceptor'));
GRANT SELECT ON acceptance_opinions TO rectify_api;
GRANT INSERT (request_id, task_id, decision, reasons, supersedes_id) ON acceptance_opinions TO rectify_api;

-- ---------------------------------------------------------------------------
-- Announcements (公示): a batch of approved tasks published by the office,
-- with a period.  announcement_items is the public snapshot of each task
-- (code, title, lead org, what was done — never personal data): the public
-- side reads only these two tables.
-- ---------------------------------------------------------------------------
CREATE TABLE announcements (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title          text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    body           text        NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 20000),
    period_start   date        NOT NULL,
    period_end     date        NOT NULL,
    working_days   integer     NOT NULL CHECK (working_days BETWEEN 1 AND 60),
    status         text        NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'finished')),
    published_by   bigint      DEFAULT rectify.user_id(),
    published_at   timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (period_end >= period_start),
    CHECK ((status = 'finished') = (finished_at IS NOT NULL))
);
COMMENT ON TABLE announcements IS 'Public announcements (公示) of tasks to be closed, in batches.';
CREATE INDEX announcements_open_idx ON announcements (period_end, id) WHERE status = 'published';
CREATE TRIGGER announcements_touch BEFORE UPDATE ON announcements
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('announcements');
ALTER TABLE announcements ENABLE ROW LEVEL SECURITY;
CREATE POLICY announcements_read ON announcements FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY announcements_insert ON announcements FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_role('office') AND published_by = rectify.user_id());
CREATE POLICY announcements_update ON announcements FOR UPDATE TO rectify_api
    USING (rectify.has_role('office')) WITH CHECK (rectify.has_role('office'));
GRANT SELECT ON announcements TO rectify_api;
GRANT INSERT (title, body, period_start, period_end, working_days) ON announcements TO rectify_api;
GRANT UPDATE (status, finished_at) ON announcements TO rectify_api;

--   announced  in the running period       closed  closed when the period ended
--   reopened   an objection was upheld (the task went back to in_progress)
CREATE TABLE announcement_items (
    announcement_id  bigint      NOT NULL REFERENCES announcements (id),
    task_id          bigint      NOT NULL REFERENCES tasks (id),
    position         smallint    NOT NULL CHECK (position BETWEEN 1 AND 500),
    task_code        text        NOT NULL,
    task_title       text        NOT NULL,
    lead_org_name    text        NOT NULL,
    summary          text        NOT NULL CHECK (length(btrim(summary)) BETWEEN 1 AND 5000),
    status           text        NOT NULL DEFAULT 'announced'
                                 CHECK (status IN ('announced', 'closed', 'reopened')),
    closed_at        timestamptz,
    id               text        GENERATED ALWAYS AS (announcement_id || ':' || task_id) STORED,
    PRIMARY KEY (announcement_id, task_id),
    UNIQUE (announcement_id, position)
);
COMMENT ON TABLE announcement_items IS 'Tasks of an announcement: the public snapshot and the outcome per task.';
CREATE UNIQUE INDEX announcement_items_one_running ON announcement_items (task_id) WHERE status = 'announced';
CREATE INDEX announcement_items_task_idx ON announcement_items (task_id);
SELECT rectify.enable_audit('announcement_items');
ALTER TABLE announcement_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY announcement_items_read ON announcement_items FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY announcement_items_insert ON announcement_items FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_role('office') AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY announcement_items_update ON announcement_items FOR UPDATE TO rectify_api
    USING (rectify.has_role('office')) WITH CHECK (rectify.has_role('office'));
GRANT SELECT ON announcement_items TO rectify_api;
GRANT INSERT (announcement_id, task_id, position, task_code, task_title, lead_org_name, summary)
    ON announcement_items TO rectify_api;
GRANT UPDATE (status, closed_at) ON announcement_items TO rectify_api;

-- Objections (异议) from the public.  The optional contact is sealed by the
-- service like complainants' data (include/rectify/pii.h, associated data
-- "rectify-pii:v1:objection:<ref>:contact"); only its masked form is shown.
--   received  waiting for the office    upheld / dismissed  decided, with reasons
CREATE TABLE objections (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref              uuid        NOT NULL UNIQUE,      -- the receipt number given to the objector
    announcement_id  bigint      NOT NULL,
    task_id          bigint      NOT NULL,
    text             text        NOT NULL CHECK (length(btrim(text)) BETWEEN 1 AND 5000),
    contact_enc      bytea       CHECK (length(contact_enc) BETWEEN 41 AND 1000),
    contact_masked   text        CHECK (length(contact_masked) <= 200),
    key_id           smallint    NOT NULL DEFAULT 1,  -- the PII key that sealed it (as complainants.key_id)
    client_addr      text        NOT NULL,             -- for throttling and abuse handling
    status           text        NOT NULL DEFAULT 'received'
                                 CHECK (status IN ('received', 'upheld', 'dismissed')),
    decision_reasons text        CHECK (length(decision_reasons) <= 5000),
    decided_by       bigint,
    decided_at       timestamptz,
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (announcement_id, task_id) REFERENCES announcement_items (announcement_id, task_id),
    CHECK ((status = 'received') = (decided_at IS NULL)),
    CHECK ((contact_enc IS NULL) = (contact_masked IS NULL))
);
COMMENT ON TABLE objections IS 'Objections (异议) of the public to announced tasks; contact sealed by the service.';
CREATE INDEX objections_item_idx ON objections (announcement_id, task_id, id);
CREATE INDEX objections_task_idx ON objections (task_id, id);
CREATE TRIGGER objections_touch BEFORE UPDATE ON objections
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('objections', redact_columns => '{contact_enc,client_addr}');
ALTER TABLE objections ENABLE ROW LEVEL SECURITY;
CREATE POLICY objections_read ON objections FOR SELECT TO rectify_api
    USING (rectify.sees_province() OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY objections_decide ON objections FOR UPDATE TO rectify_api
    USING (rectify.has_role('office'))
    WITH CHECK (rectify.has_role('office') AND decided_by = rectify.user_id());
GRANT SELECT (id, ref, announcement_id, task_id, text, contact_masked, status, decision_reasons,
              decided_by, decided_at, version, created_at, updated_at) ON objections TO rectify_api;
GRANT UPDATE (status, decision_reasons, decided_by, decided_at) ON objections TO rectify_api;

-- Throttle of anonymous writes per client address: a fixed window.
CREATE TABLE public_throttle (
    key           text        PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 300),
    window_start  timestamptz NOT NULL,
    hits          integer     NOT NULL CHECK (hits > 0)
);
COMMENT ON TABLE public_throttle IS 'Hits per key (kind:address) in the current window; used by rectify.public_throttle_hit.';
ALTER TABLE public_throttle ENABLE ROW LEVEL SECURITY;   -- no policy, no grant

-- Counts one hit of p_key; returns the seconds to wait (0 = allowed): at
-- most p_max hits per p_window.
CREATE FUNCTION rectify.public_throttle_hit(p_key text, p_max integer, p_window interval)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t public_throttle%ROWTYPE;
BEGIN
    INSERT INTO public_throttle AS p (key, window_start, hits) VALUES (p_key, now(), 1)
    ON CONFLICT (key) DO UPDATE
        SET window_start = CASE WHEN p.window_start + p_window <= now() THEN now() ELSE p.window_start END,
            hits = CASE WHEN p.window_start + p_window <= now() THEN 1 ELSE p.hits + 1 END
    RETURNING * INTO t;
    IF t.hits <= p_max THEN
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil(extract(epoch FROM t.window_start + p_window - now())))::integer;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.public_throttle_hit(text, integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.public_throttle_hit(text, integer, interval) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Spot checks (抽查核验) of closed tasks.  A draw is reproducible: the tasks
-- closed at draw time that the caller sees (an inspector of a prefecture
-- draws within it; the office province-wide), per prefecture of the lead org (provincial bodies
-- form one group), ordered by md5(seed || ':' || task id), the first
-- ceil(percent % of the group) taken; or tasks picked by hand.
--   result: pending | consolidated 整改成效巩固 | rebounded 问题反弹 | faked 弄虚作假
-- A rebounded or faked result re-opens the task; faked flags it for an
-- accountability lead (clues issue).
-- ---------------------------------------------------------------------------
CREATE TABLE spot_checks (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title          text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    method         text        NOT NULL CHECK (method IN ('percent', 'manual')),
    percent        integer     CHECK (percent BETWEEN 1 AND 100),
    prefecture_org_ids bigint[],                   -- percent: only these prefectures (NULL = all)
    seed           bigint      NOT NULL,
    candidates     integer     NOT NULL CHECK (candidates >= 0),   -- closed tasks in the frame
    created_by     bigint      DEFAULT rectify.user_id(),
    org_id         bigint      DEFAULT rectify.org_id(),
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((method = 'percent') = (percent IS NOT NULL))
);
COMMENT ON TABLE spot_checks IS 'Spot checks (抽查核验) of closed tasks: the draw (seed, frame) and its items.';
CREATE TRIGGER spot_checks_touch BEFORE UPDATE ON spot_checks
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('spot_checks');
ALTER TABLE spot_checks ENABLE ROW LEVEL SECURITY;
CREATE POLICY spot_checks_read ON spot_checks FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY spot_checks_insert ON spot_checks FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office,inspector}'::text[]) AND created_by = rectify.user_id());
GRANT SELECT ON spot_checks TO rectify_api;
GRANT INSERT (title, method, percent, prefecture_org_ids, seed, candidates) ON spot_checks TO rectify_api;

CREATE TABLE spot_check_items (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spot_check_id  bigint      NOT NULL REFERENCES spot_checks (id),
    task_id        bigint      NOT NULL REFERENCES tasks (id),
    result         text        NOT NULL DEFAULT 'pending'
                               CHECK (result IN ('pending', 'consolidated', 'rebounded', 'faked')),
    findings       text        CHECK (length(findings) <= 20000),
    accountability boolean     GENERATED ALWAYS AS (result = 'faked') STORED,  -- for a clue
    checked_by     bigint,
    checked_at     timestamptz,
    version        integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (spot_check_id, task_id),
    CHECK ((result = 'pending') = (checked_at IS NULL)),
    CHECK (result = 'pending' OR findings IS NOT NULL)
);
COMMENT ON TABLE spot_check_items IS 'Tasks drawn in a spot check and their results.';
CREATE INDEX spot_check_items_task_idx ON spot_check_items (task_id, id);
CREATE TRIGGER spot_check_items_touch BEFORE UPDATE ON spot_check_items
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('spot_check_items');
ALTER TABLE spot_check_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY spot_check_items_read ON spot_check_items FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY spot_check_items_insert ON spot_check_items FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{office,inspector}'::text[]));
CREATE POLICY spot_check_items_update ON spot_check_items FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{office,inspector}'::text[]))
    WITH CHECK (rectify.has_any_role('{office,inspector}'::text[]) AND checked_by = rectify.user_id());
GRANT SELECT ON spot_check_items TO rectify_api;
GRANT INSERT (spot_check_id, task_id) ON spot_check_items TO rectify_api;
GRANT UPDATE (result, findings, checked_by, checked_at) ON spot_check_items TO rectify_api;

-- ---------------------------------------------------------------------------
-- Evidence (佐证材料) of every step: one link table.  kind names the row
-- (request, check, opinion, spot_check item).  The caller must see the
-- attachment (RLS on attachments) to link it; whoever sees the task sees
-- its acceptance evidence (term of rectify.attachment_linked_visible).
-- ---------------------------------------------------------------------------
CREATE TABLE acceptance_attachments (
    kind           text     NOT NULL CHECK (kind IN ('request', 'check', 'opinion', 'spot_check')),
    ref_id         bigint   NOT NULL,
    task_id        bigint   NOT NULL REFERENCES tasks (id),
    attachment_id  bigint   NOT NULL REFERENCES attachments (id),
    position       smallint NOT NULL CHECK (position BETWEEN 1 AND 20),
    id             text     GENERATED ALWAYS AS (kind || ':' || ref_id || ':' || attachment_id) STORED,
    PRIMARY KEY (kind, ref_id, attachment_id),
    UNIQUE (kind, ref_id, position)
);
COMMENT ON TABLE acceptance_attachments IS 'Evidence of acceptance requests, checks, opinions and spot-check results.';
CREATE INDEX acceptance_attachments_attachment_idx ON acceptance_attachments (attachment_id);
CREATE INDEX acceptance_attachments_task_idx ON acceptance_attachments (task_id);
SELECT rectify.enable_audit('acceptance_attachments');
ALTER TABLE acceptance_attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY acceptance_attachments_read ON acceptance_attachments FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY acceptance_attachments_insert ON acceptance_attachments FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id)
                AND EXISTS (SELECT 1 FROM attachments a WHERE a.id = attachment_id));
GRANT SELECT ON acceptance_attachments TO rectify_api;
GRANT INSERT (kind, ref_id, task_id, attachment_id, position) ON acceptance_attachments TO rectify_api;

-- Keeps the term of 0019 (report_attachments).
CREATE OR REPLACE FUNCTION rectify.attachment_linked_visible(p_id bigint) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM report_attachments l WHERE l.attachment_id = p_id)
              OR EXISTS (SELECT 1 FROM acceptance_attachments l WHERE l.attachment_id = p_id) $$;

-- Links p_ids (in order) to one row; every id must be an attachment the
-- caller sees (422 invalid_reference naming the field otherwise).
CREATE FUNCTION rectify.acceptance_link(p_kind text, p_ref bigint, p_task bigint, p_ids bigint[],
                                        p_field text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_ids) AS i(id)
                WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.id = i.id)) THEN
        PERFORM rectify.fail(422, 'invalid_reference', format('An attachment in %s does not exist or is not yours to use (upload it first: POST /api/v1/attachments).', p_field), p_field, 'names an attachment that does not exist or that you cannot see');
    END IF;
    INSERT INTO acceptance_attachments (kind, ref_id, task_id, attachment_id, position)
    SELECT p_kind, p_ref, p_task, i.id, i.n FROM unnest(p_ids) WITH ORDINALITY AS i(id, n);
END
$$;

-- ---------------------------------------------------------------------------
-- JSON of the dossier (GET /api/v1/tasks/{id}/acceptance), read under RLS.
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.acceptance_files(p_kind text, p_ref bigint) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT coalesce(json_agg(json_build_object('id', a.id, 'filename', a.filename,
                                               'content_type', a.content_type,
                                               'size_bytes', a.size_bytes) ORDER BY l.position), '[]')
      FROM acceptance_attachments l JOIN attachments a ON a.id = l.attachment_id
     WHERE l.kind = p_kind AND l.ref_id = p_ref
$$;

CREATE FUNCTION rectify.org_ref(p_id bigint) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT json_build_object('id', o.id, 'code', o.code, 'name', o.name) FROM orgs o WHERE o.id = p_id $$;

CREATE FUNCTION rectify.acceptance_dossier_json(p_task bigint) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object(
      'task', json_build_object('id', t.id, 'code', t.code, 'title', t.title, 'status', t.status,
              'acceptance_stage', t.acceptance_stage, 'lead_org', rectify.org_ref(t.owner_org_id),
              'acceptance_orgs', (SELECT coalesce(json_agg(rectify.org_ref(o) ORDER BY n), '[]')
                                    FROM unnest(t.acceptance_org_ids) WITH ORDINALITY AS x(o, n)),
              'reopened', t.reopened, 'reopen_count', t.reopen_count, 'closed_at', t.closed_at,
              'version', t.version),
      'rejected_count', (SELECT count(*) FROM acceptance_requests q WHERE q.task_id = t.id AND q.status = 'rejected'),
      'returned_count', (SELECT count(*) FROM acceptance_requests q WHERE q.task_id = t.id AND q.status = 'returned'),
      'requests', (SELECT coalesce(json_agg(json_build_object(
           'id', q.id, 'round', q.round, 'status', q.status,
           'self_assessment', q.self_assessment, 'measure_results', q.measure_results,
           'target_met', q.target_met, 'requested_by', q.requested_by,
           'requested_org', rectify.org_ref(q.requested_org_id), 'created_at', q.created_at,
           'evidence', rectify.acceptance_files('request', q.id),
           'check', (SELECT json_build_object('id', c.id, 'check_date', c.check_date, 'joint', c.joint,
                       'team', c.team, 'findings', c.findings, 'inspection_id', c.inspection_id,
                       'recorded_by', c.recorded_by, 'org', rectify.org_ref(c.org_id),
                       'created_at', c.created_at, 'evidence', rectify.acceptance_files('check', c.id))
                       FROM acceptance_checks c WHERE c.request_id = q.id),
           'opinions', (SELECT coalesce(json_agg(json_build_object('id', o.id,
                       'org', rectify.org_ref(o.org_id), 'decision', o.decision, 'reasons', o.reasons,
                       'supersedes_id', o.supersedes_id,
                       'current', NOT EXISTS (SELECT 1 FROM acceptance_opinions s WHERE s.supersedes_id = o.id),
                       'user_id', o.user_id, 'created_at', o.created_at,
                       'evidence', rectify.acceptance_files('opinion', o.id)) ORDER BY o.id), '[]')
                       FROM acceptance_opinions o WHERE o.request_id = q.id),
           'missing_opinions', (SELECT coalesce(json_agg(rectify.org_ref(a) ORDER BY n), '[]')
                       FROM unnest(q.acceptance_org_ids) WITH ORDINALITY AS x(a, n)
                      WHERE NOT EXISTS (SELECT 1 FROM acceptance_opinions o
                                         WHERE o.request_id = q.id AND o.org_id = x.a)),
           'decision', CASE WHEN q.status IN ('approved', 'returned') THEN json_build_object(
                       'decision', CASE q.status WHEN 'approved' THEN 'approve' ELSE 'return' END,
                       'comment', q.decision_comment, 'decided_by', q.decided_by,
                       'decided_at', q.decided_at) END,
           'decided_at', q.decided_at) ORDER BY q.round), '[]')
         FROM acceptance_requests q WHERE q.task_id = t.id),
      'announcements', (SELECT coalesce(json_agg(json_build_object(
           'announcement_id', a.id, 'title', a.title, 'period_start', a.period_start,
           'period_end', a.period_end, 'status', i.status, 'summary', i.summary,
           'closed_at', i.closed_at,
           'objections', (SELECT coalesce(json_agg(json_build_object('id', b.id, 'ref', b.ref,
                       'text', b.text, 'contact', b.contact_masked, 'status', b.status,
                       'decision_reasons', b.decision_reasons, 'decided_at', b.decided_at,
                       'created_at', b.created_at, 'version', b.version) ORDER BY b.id), '[]')
                       FROM objections b WHERE b.announcement_id = a.id AND b.task_id = t.id))
           ORDER BY a.id), '[]')
         FROM announcement_items i JOIN announcements a ON a.id = i.announcement_id
        WHERE i.task_id = t.id),
      'spot_checks', (SELECT coalesce(json_agg(json_build_object(
           'spot_check_id', s.id, 'item_id', si.id, 'title', s.title, 'result', si.result,
           'findings', si.findings, 'accountability', si.accountability, 'checked_at', si.checked_at,
           'evidence', rectify.acceptance_files('spot_check', si.id), 'version', si.version)
           ORDER BY si.id), '[]')
         FROM spot_check_items si JOIN spot_checks s ON s.id = si.spot_check_id
        WHERE si.task_id = t.id),
      'history', (SELECT coalesce(json_agg(json_build_object('action', h.action,
           'from_status', h.from_status, 'to_status', h.to_status, 'reason', h.reason,
           'comment', h.comment, 'user_id', h.user_id, 'at', h.at) ORDER BY h.id), '[]')
         FROM task_transitions h WHERE h.task_id = t.id))
      FROM tasks t WHERE t.id = p_task
$$;

CREATE FUNCTION rectify.acceptance_dossier(p_task bigint)
    RETURNS TABLE (version integer, json json)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT t.version, rectify.acceptance_dossier_json(t.id) FROM tasks t WHERE t.id = p_task $$;

-- ---------------------------------------------------------------------------
-- Shared steps of the write functions.
-- ---------------------------------------------------------------------------
-- The task, locked, under RLS; 404 when invisible, 412 when stale.
CREATE FUNCTION rectify.acceptance_task_lock(p_task bigint, p_version integer) RETURNS tasks
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t tasks;
BEGIN
    SELECT * INTO t FROM tasks WHERE id = p_task FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such task.');
    END IF;
    PERFORM rectify.check_version(t.version, p_version);
    RETURN t;
END
$$;

-- 409 naming the state and the step that comes next.
CREATE FUNCTION rectify.acceptance_wrong_state(t tasks, p_action text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    PERFORM rectify.fail(409, 'invalid_transition', format('The action %s is not possible while the task is %s; next: %s.', p_action, t.status,
        CASE WHEN t.status IN ('pending', 'in_progress') THEN 'finish the rectification (complete)'
             WHEN t.status = 'completed' THEN 'request acceptance'
             WHEN t.acceptance_stage = 'awaiting_check' THEN 'record the on-site check'
             WHEN t.acceptance_stage = 'awaiting_opinions' THEN 'the opinions of the acceptance organisations'
             WHEN t.acceptance_stage = 'awaiting_approval' THEN 'the leading group''s approval'
             WHEN t.status = 'approved' THEN 'publish it in an announcement'
             WHEN t.status = 'announced' THEN 'the end of the announcement period'
             ELSE 'spot checks' END));
END
$$;

CREATE FUNCTION rectify.task_move(p_task bigint, p_action text, p_from text, p_to text,
                                  p_reason text, p_comment text)
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    INSERT INTO task_transitions (task_id, action, from_status, to_status, reason, comment)
    VALUES (p_task, p_action, p_from, p_to, p_reason, left(p_comment, 2000))
$$;

CREATE FUNCTION rectify.jsonb_bigints(p jsonb) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(array_agg(e::bigint ORDER BY n), '{}')
            FROM jsonb_array_elements_text(coalesce(p, '[]')) WITH ORDINALITY AS x(e, n) $$;
CREATE FUNCTION rectify.jsonb_texts(p jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(array_agg(e ORDER BY n), '{}')
            FROM jsonb_array_elements_text(coalesce(p, '[]')) WITH ORDINALITY AS x(e, n) $$;

-- Re-opening after a failed spot check: inspectors have no UPDATE on tasks
-- under row-level security, so this step runs as the owner.  The caller
-- (rectify.spot_check_result) has locked the task it sees and checked the
-- role; the history row still names the caller.
CREATE FUNCTION rectify.task_reopen_checked(p_task bigint, p_reason text, p_comment text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    UPDATE tasks SET status = 'in_progress', reopened = true, reopen_count = reopen_count + 1
     WHERE id = p_task AND status = 'closed';
    IF NOT FOUND THEN
        PERFORM rectify.fail(409, 'task_not_closed', 'The task is no longer closed.');
    END IF;
    INSERT INTO task_transitions (task_id, action, from_status, to_status, reason, comment)
    VALUES (p_task, 'reopen', 'closed', 'in_progress', p_reason, left(p_comment, 2000));
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.task_reopen_checked(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.task_reopen_checked(bigint, text, text) TO rectify_api;

-- ---------------------------------------------------------------------------
-- 1. Request (申请验收销号): the lead unit (its subtree) or the office.
--    Body (validated by the service): self_assessment, measure_results?,
--    target_met?, evidence (attachment ids, at least one).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.acceptance_request(p_task bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    t tasks;
    q acceptance_requests;
    results text[] := rectify.jsonb_texts(p_body->'measure_results');
BEGIN
    t := rectify.acceptance_task_lock(p_task, p_version);
    IF NOT (rectify.has_role('office')
            OR (rectify.has_role('unit') AND rectify.in_scope(t.owner_org_path))) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the lead organisation (or the office) asks for acceptance.');
    END IF;
    IF t.status <> 'completed' THEN
        PERFORM rectify.acceptance_wrong_state(t, 'request_acceptance');
    END IF;
    IF EXISTS (SELECT 1 FROM task_extensions e WHERE e.task_id = t.id AND e.status = 'requested') THEN
        PERFORM rectify.fail(409, 'extension_pending', 'A deadline extension of the task is waiting for a decision; acceptance can be requested after it.');
    END IF;
    IF cardinality(t.acceptance_org_ids) = 0 THEN
        PERFORM rectify.fail(422, 'no_acceptance_org', 'The task names no acceptance organisation (acceptance_org_ids); the office must name them first.');
    END IF;
    IF cardinality(results) NOT IN (0, cardinality(t.measures)) THEN
        PERFORM rectify.fail(422, 'validation_failed', format('measure_results needs one entry per measure of the task (%s).', cardinality(t.measures)), 'measure_results', 'must have one entry per measure of the task');
    END IF;
    INSERT INTO acceptance_requests (task_id, round, self_assessment, measure_results, target_met,
                                     acceptance_org_ids)
    VALUES (t.id, 1 + coalesce((SELECT max(x.round) FROM acceptance_requests x WHERE x.task_id = t.id), 0),
            p_body->>'self_assessment', results, p_body->>'target_met', t.acceptance_org_ids)
    RETURNING * INTO q;
    PERFORM rectify.acceptance_link('request', q.id, t.id, rectify.jsonb_bigints(p_body->'evidence'), 'evidence');
    UPDATE tasks SET status = 'acceptance_requested', acceptance_stage = 'awaiting_check' WHERE id = t.id;
    PERFORM rectify.task_move(t.id, 'request_acceptance', t.status, 'acceptance_requested', NULL,
                              'round ' || q.round);
    RETURN QUERY SELECT d.version, d.json, '/api/v1/tasks/' || t.id || '/acceptance'
                   FROM rectify.acceptance_dossier(t.id) d;
END
$$;

-- ---------------------------------------------------------------------------
-- 2. On-site check (现场核查).  Several acceptance orgs: the office records
--    the joint check; one: an acceptor of that org (or the office).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.acceptance_check(p_task bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    t tasks;
    q acceptance_requests;
    c acceptance_checks;
BEGIN
    t := rectify.acceptance_task_lock(p_task, p_version);
    SELECT * INTO q FROM acceptance_requests x WHERE x.task_id = t.id AND x.status = 'awaiting_check';
    IF NOT rectify.has_role('office') THEN
        IF cardinality(t.acceptance_org_ids) > 1 THEN
            PERFORM rectify.fail(403, 'forbidden', 'The task has several acceptance organisations: the office organises the joint on-site check.');
        ELSIF NOT (rectify.has_role('acceptor') AND rectify.org_id() = ANY (t.acceptance_org_ids)) THEN
            PERFORM rectify.fail(403, 'forbidden', 'Only the acceptance organisation of the task (or the office) records its on-site check.');
        END IF;
    END IF;
    IF t.status <> 'acceptance_requested' OR q.id IS NULL THEN
        PERFORM rectify.acceptance_wrong_state(t, 'record_check');
    END IF;
    IF (p_body->>'check_date')::date > current_date THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The on-site check cannot be in the future.', 'check_date', 'must not be after today');
    END IF;
    INSERT INTO acceptance_checks (request_id, task_id, check_date, joint, team, findings)
    VALUES (q.id, t.id, (p_body->>'check_date')::date, cardinality(t.acceptance_org_ids) > 1,
            rectify.jsonb_texts(p_body->'team'), p_body->>'findings')
    RETURNING * INTO c;
    PERFORM rectify.acceptance_link('check', c.id, t.id, rectify.jsonb_bigints(p_body->'evidence'), 'evidence');
    UPDATE acceptance_requests SET status = 'awaiting_opinions' WHERE id = q.id;
    UPDATE tasks SET status = 'acceptance_review', acceptance_stage = 'awaiting_opinions' WHERE id = t.id;
    PERFORM rectify.task_move(t.id, 'record_check', t.status, 'acceptance_review', NULL, NULL);
    RETURN QUERY SELECT d.version, d.json FROM rectify.acceptance_dossier(t.id) d;
END
$$;

-- ---------------------------------------------------------------------------
-- 3. Opinion (验收意见) of the caller's org.  corrects: the id of the org's
--    current opinion it replaces.  Any current disagreement rejects the
--    round (task back to in_progress); all agreeing → awaiting_approval.
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.acceptance_opinion(p_task bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    t tasks;
    q acceptance_requests;
    o acceptance_opinions;
    prev bigint;
    corrects bigint := (p_body->>'corrects')::bigint;
    disagree text;
    missing integer;
BEGIN
    t := rectify.acceptance_task_lock(p_task, p_version);
    IF NOT (rectify.has_role('acceptor') AND rectify.org_id() = ANY (t.acceptance_org_ids)) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only an acceptor of an acceptance organisation named on the task gives that organisation''s opinion (谁验收谁负责).');
    END IF;
    SELECT * INTO q FROM acceptance_requests x
     WHERE x.task_id = t.id AND x.status IN ('awaiting_opinions', 'awaiting_approval');
    IF q.id IS NULL THEN
        PERFORM rectify.acceptance_wrong_state(t, 'give_opinion');
    END IF;
    -- the org's current opinion in this round
    SELECT x.id INTO prev FROM acceptance_opinions x
     WHERE x.request_id = q.id AND x.org_id = rectify.org_id()
       AND NOT EXISTS (SELECT 1 FROM acceptance_opinions s WHERE s.supersedes_id = x.id);
    IF corrects IS NULL AND prev IS NOT NULL THEN
        PERFORM rectify.fail(409, 'opinion_exists', format('Your organisation has given its opinion (%s) in this round; a correction names it in corrects.', prev));
    END IF;
    IF corrects IS NOT NULL AND corrects IS DISTINCT FROM prev THEN
        PERFORM rectify.fail(422, 'validation_failed', format('corrects must name your organisation''s current opinion in this round (%s).', coalesce(prev::text, 'none yet')), 'corrects', 'must be your organisation''s current opinion');
    END IF;
    INSERT INTO acceptance_opinions (request_id, task_id, decision, reasons, supersedes_id)
    VALUES (q.id, t.id, p_body->>'decision', p_body->>'reasons', corrects)
    RETURNING * INTO o;
    PERFORM rectify.acceptance_link('opinion', o.id, t.id, rectify.jsonb_bigints(p_body->'evidence'), 'evidence');
    -- the outcome from the current opinions
    SELECT string_agg(og.name || '：' || x.reasons, '；' ORDER BY x.id) INTO disagree
      FROM acceptance_opinions x JOIN orgs og ON og.id = x.org_id
     WHERE x.request_id = q.id AND x.decision = 'disagree'
       AND NOT EXISTS (SELECT 1 FROM acceptance_opinions s WHERE s.supersedes_id = x.id);
    SELECT count(*) INTO missing FROM unnest(q.acceptance_org_ids) AS a(id)
     WHERE NOT EXISTS (SELECT 1 FROM acceptance_opinions x WHERE x.request_id = q.id AND x.org_id = a.id);
    IF disagree IS NOT NULL THEN
        UPDATE acceptance_requests SET status = 'rejected', decided_at = now() WHERE id = q.id;
        UPDATE tasks SET status = 'in_progress' WHERE id = t.id;
        PERFORM rectify.task_move(t.id, 'reject_acceptance', t.status, 'in_progress', NULL,
                                  '验收不通过：' || disagree);
    ELSIF missing = 0 THEN
        UPDATE acceptance_requests SET status = 'awaiting_approval' WHERE id = q.id AND status <> 'awaiting_approval';
        UPDATE tasks SET acceptance_stage = 'awaiting_approval' WHERE id = t.id;
    ELSE
        UPDATE tasks SET acceptance_stage = 'awaiting_opinions' WHERE id = t.id;   -- a new version
    END IF;
    RETURN QUERY SELECT d.version, d.json FROM rectify.acceptance_dossier(t.id) d;
END
$$;

-- ---------------------------------------------------------------------------
-- 4. The leading group's decision: approve (同意销号) or return (退回).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.acceptance_decide(p_task bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    t tasks;
    q acceptance_requests;
    d text := p_body->>'decision';
    missing text;
BEGIN
    t := rectify.acceptance_task_lock(p_task, p_version);
    IF NOT rectify.has_role('leader') THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the leading group approves closing.');
    END IF;
    SELECT * INTO q FROM acceptance_requests x
     WHERE x.task_id = t.id AND x.status IN ('awaiting_check', 'awaiting_opinions', 'awaiting_approval');
    IF q.status = 'awaiting_opinions' THEN
        SELECT string_agg(o.name, '、' ORDER BY n) INTO missing
          FROM unnest(q.acceptance_org_ids) WITH ORDINALITY AS a(id, n) JOIN orgs o ON o.id = a.id
         WHERE NOT EXISTS (SELECT 1 FROM acceptance_opinions x WHERE x.request_id = q.id AND x.org_id = a.id);
        PERFORM rectify.fail(409, 'opinions_missing', format('Not every acceptance organisation has given its opinion: waiting for %s.', missing));
    END IF;
    IF q.status IS DISTINCT FROM 'awaiting_approval' THEN
        PERFORM rectify.acceptance_wrong_state(t, d);
    END IF;
    UPDATE acceptance_requests SET status = CASE d WHEN 'approve' THEN 'approved' ELSE 'returned' END,
           decided_by = rectify.user_id(), decision_comment = p_body->>'comment', decided_at = now()
     WHERE id = q.id;
    IF d = 'approve' THEN
        UPDATE tasks SET status = 'approved' WHERE id = t.id;
        PERFORM rectify.task_move(t.id, 'approve', t.status, 'approved', NULL, p_body->>'comment');
    ELSE
        UPDATE tasks SET status = 'in_progress' WHERE id = t.id;
        PERFORM rectify.task_move(t.id, 'return_acceptance', t.status, 'in_progress', NULL, p_body->>'comment');
    END IF;
    RETURN QUERY SELECT x.version, x.json FROM rectify.acceptance_dossier(t.id) x;
END
$$;

-- ---------------------------------------------------------------------------
-- 5. Announcements.  JSON of one (office view: items and objections masked).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.announcement_json(p_id bigint, p_public boolean) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT (json_build_object('id', a.id, 'title', a.title, 'body', a.body,
        'period_start', a.period_start, 'period_end', a.period_end, 'working_days', a.working_days,
        'open_for_objections', current_date BETWEEN a.period_start AND a.period_end AND a.status = 'published',
        'status', a.status, 'published_at', a.published_at, 'finished_at', a.finished_at,
        'items', (SELECT coalesce(json_agg(json_build_object('task_id', i.task_id, 'code', i.task_code,
                    'title', i.task_title, 'lead_org', i.lead_org_name, 'summary', i.summary,
                    'status', i.status, 'closed_at', i.closed_at,
                    'objections_received', (SELECT count(*) FROM objections b
                                             WHERE b.announcement_id = i.announcement_id AND b.task_id = i.task_id),
                    'objections_handled', (SELECT count(*) FROM objections b
                                            WHERE b.announcement_id = i.announcement_id AND b.task_id = i.task_id
                                              AND b.status <> 'received'))
                  ORDER BY i.position), '[]') FROM announcement_items i WHERE i.announcement_id = a.id))::jsonb
      || CASE WHEN p_public THEN '{}'::jsonb ELSE jsonb_build_object('version', a.version,
        'published_by', a.published_by,
        'objections', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', b.id, 'ref', b.ref,
                    'task_id', b.task_id, 'text', b.text, 'contact', b.contact_masked, 'status', b.status,
                    'decision_reasons', b.decision_reasons, 'decided_by', b.decided_by,
                    'decided_at', b.decided_at, 'created_at', b.created_at, 'version', b.version)
                  ORDER BY b.id), '[]') FROM objections b WHERE b.announcement_id = a.id)) END)::json
      FROM announcements a WHERE a.id = p_id
$$;

CREATE FUNCTION rectify.announcement_get(p_id bigint)
    RETURNS TABLE (version integer, json json)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT a.version, rectify.announcement_json(a.id, false) FROM announcements a WHERE a.id = p_id $$;

-- Body: title, body, period_start?, working_days?, items [{task_id, version, summary}].
CREATE FUNCTION rectify.announcement_publish(p_body jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    a announcements;
    t tasks;
    it record;
    v_days integer := coalesce((p_body->>'working_days')::integer,
                               (SELECT s.announcement_working_days FROM acceptance_settings s));
    v_start date := coalesce((p_body->>'period_start')::date, current_date);
BEGIN
    IF NOT rectify.has_role('office') THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the office publishes announcements.');
    END IF;
    IF v_start < current_date THEN
        PERFORM rectify.fail(422, 'validation_failed', 'An announcement period cannot start in the past.', 'period_start', 'must not be before today');
    END IF;
    INSERT INTO announcements (title, body, period_start, period_end, working_days)
    VALUES (p_body->>'title', p_body->>'body', v_start, rectify.working_days_end(v_start, v_days), v_days)
    RETURNING * INTO a;
    FOR it IN SELECT (e->>'task_id')::bigint AS task_id, (e->>'version')::integer AS version,
                     e->>'summary' AS summary, n
                FROM jsonb_array_elements(p_body->'items') WITH ORDINALITY AS x(e, n) LOOP
        SELECT * INTO t FROM tasks x WHERE x.id = it.task_id FOR UPDATE;
        IF NOT FOUND THEN
            PERFORM rectify.fail(422, 'invalid_reference', format('Item %s names a task that does not exist.', it.n), 'items/' || (it.n - 1) || '/task_id', 'does not exist');
        END IF;
        IF t.version <> it.version THEN
            PERFORM rectify.fail(412, 'precondition_failed', format('Task %s has changed: If-Match (items version) does not match the current version "%s"; re-read and retry.', t.code, t.version));
        END IF;
        IF t.status <> 'approved' THEN
            PERFORM rectify.fail(409, 'not_approved', format('Task %s is %s; only tasks whose closing the leading group approved are announced.', t.code, t.status));
        END IF;
        INSERT INTO announcement_items (announcement_id, task_id, position, task_code, task_title,
                                        lead_org_name, summary)
        VALUES (a.id, t.id, it.n, t.code, t.title, (SELECT o.name FROM orgs o WHERE o.id = t.owner_org_id),
                it.summary);
        UPDATE tasks SET status = 'announced' WHERE id = t.id;
        PERFORM rectify.task_move(t.id, 'announce', 'approved', 'announced', NULL,
                                  a.title || '（' || a.period_start || '至' || a.period_end || '）');
    END LOOP;
    RETURN QUERY SELECT x.version, x.json, '/api/v1/announcements/' || a.id
                   FROM rectify.announcement_get(a.id) x;
END
$$;

-- The office decides an objection: upheld (the task goes back to
-- in_progress, re-opened) or dismissed, with reasons.
CREATE FUNCTION rectify.objection_decide(p_announcement bigint, p_objection bigint, p_version integer,
                                         p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    b record;                -- the granted columns only (contact_enc, client_addr are not)
    t tasks;
    d text := p_body->>'decision';
BEGIN
    IF NOT rectify.has_role('office') THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the office handles objections.');
    END IF;
    SELECT x.id, x.announcement_id, x.task_id, x.status, x.version INTO b
      FROM objections x WHERE x.id = p_objection AND x.announcement_id = p_announcement FOR UPDATE;
    IF b.id IS NULL THEN
        PERFORM rectify.fail(404, 'not_found', 'No such objection.');
    END IF;
    PERFORM rectify.check_version(b.version, p_version);
    IF b.status <> 'received' THEN
        PERFORM rectify.fail(409, 'already_decided', format('The objection was %s already.', b.status));
    END IF;
    UPDATE objections SET status = d, decision_reasons = p_body->>'reasons', decided_by = rectify.user_id(),
           decided_at = now() WHERE id = b.id;
    IF d = 'upheld' THEN
        SELECT * INTO t FROM tasks x WHERE x.id = b.task_id FOR UPDATE;
        UPDATE announcement_items SET status = 'reopened'
         WHERE announcement_id = b.announcement_id AND task_id = b.task_id AND status = 'announced';
        IF t.status = 'announced' THEN
            UPDATE tasks SET status = 'in_progress', reopened = true, reopen_count = reopen_count + 1
             WHERE id = t.id;
            PERFORM rectify.task_move(t.id, 'reopen', 'announced', 'in_progress', 'objection_upheld',
                                      '公示异议成立：' || (p_body->>'reasons'));
        END IF;
    END IF;
    RETURN QUERY SELECT x.version, x.json FROM rectify.announcement_get(p_announcement) x;
END
$$;

-- ---------------------------------------------------------------------------
-- The public side (no account): SECURITY DEFINER, reading only the
-- announcement snapshot.  Newest first, keyset on id.  The answer carries
-- an ETag (md5 of the body).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.public_announcements(p_limit integer, p_before bigint)
    RETURNS TABLE (etag text, json text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH page AS (SELECT a.id FROM announcements a WHERE p_before IS NULL OR a.id < p_before
                   ORDER BY a.id DESC LIMIT p_limit + 1),
         body AS (SELECT json_build_object(
                    'items', coalesce((SELECT json_agg(rectify.announcement_json(p.id, true) ORDER BY p.id DESC)
                                         FROM (SELECT id FROM page ORDER BY id DESC LIMIT p_limit) p), '[]'),
                    'next_cursor', (SELECT translate(rtrim(encode(convert_to('{"id":' || min(p.id) || '}', 'UTF8'),
                                                                  'base64'), '='), '+/', '-_')
                                      FROM (SELECT id FROM page ORDER BY id DESC LIMIT p_limit) p
                                     WHERE (SELECT count(*) FROM page) > p_limit))::text AS j)
    SELECT '"' || md5(j) || '"', j FROM body
$$;
REVOKE EXECUTE ON FUNCTION rectify.public_announcements(integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.public_announcements(integer, bigint) TO rectify_api;

-- An objection from the public.  The period must be running and the task
-- in the announcement.  Answers the receipt (ref), never the stored row.
CREATE FUNCTION rectify.public_objection_submit(p_announcement bigint, p_task bigint, p_text text,
                                                p_ref uuid, p_contact_enc bytea, p_contact_masked text,
                                                p_addr text)
    RETURNS TABLE (json json)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    a announcements;
BEGIN
    SELECT * INTO a FROM announcements x WHERE x.id = p_announcement;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such announcement.');
    END IF;
    IF current_date < a.period_start OR current_date > a.period_end THEN
        PERFORM rectify.fail(409, 'period_closed', format('The announcement period is %s to %s; objections are received only within it.', a.period_start, a.period_end));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM announcement_items i WHERE i.announcement_id = a.id AND i.task_id = p_task) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The task is not in this announcement.', 'task_id', 'is not in this announcement');
    END IF;
    INSERT INTO objections (ref, announcement_id, task_id, text, contact_enc, contact_masked, client_addr)
    VALUES (p_ref, a.id, p_task, p_text, p_contact_enc, p_contact_masked, p_addr);
    RETURN QUERY SELECT json_build_object('ref', p_ref, 'announcement_id', a.id, 'task_id', p_task,
                                          'status', 'received', 'received_at', now());
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.public_objection_submit(bigint, bigint, text, uuid, bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.public_objection_submit(bigint, bigint, text, uuid, bytea, text, text) TO rectify_api;

-- ---------------------------------------------------------------------------
-- 6. Closing (销号): the scan.  Closes every announced task whose period
--    has ended without an upheld objection and with none waiting for the
--    office; finishes announcements whose items are all decided.  Claims
--    rows with FOR UPDATE SKIP LOCKED, so several instances (or jobs
--    runners) can run it at once; at most p_limit tasks per call — call
--    again while it returns p_limit.  Runs as the owner (a background job
--    has no caller); the audit trail records the changes without a user.
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.acceptance_close_due(p_limit integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    it record;
    n integer := 0;
BEGIN
    FOR it IN SELECT i.announcement_id, i.task_id, a.period_end
                FROM announcement_items i JOIN announcements a ON a.id = i.announcement_id
               WHERE i.status = 'announced' AND a.period_end < current_date
                 AND NOT EXISTS (SELECT 1 FROM objections b WHERE b.announcement_id = i.announcement_id
                                    AND b.task_id = i.task_id AND b.status IN ('received', 'upheld'))
               ORDER BY a.period_end, i.announcement_id, i.position
               LIMIT p_limit
                 FOR UPDATE OF i SKIP LOCKED LOOP
        UPDATE tasks SET status = 'closed', closed_at = now() WHERE id = it.task_id AND status = 'announced';
        IF FOUND THEN
            INSERT INTO task_transitions (task_id, action, from_status, to_status, comment, user_id, org_id)
            VALUES (it.task_id, 'close', 'announced', 'closed',
                    '公示期满（' || it.period_end || '）无异议，销号', NULL, NULL);
        END IF;
        UPDATE announcement_items SET status = 'closed', closed_at = now()
         WHERE announcement_id = it.announcement_id AND task_id = it.task_id;
        n := n + 1;
    END LOOP;
    UPDATE announcements a SET status = 'finished', finished_at = now()
     WHERE a.status = 'published' AND a.period_end < current_date
       AND NOT EXISTS (SELECT 1 FROM announcement_items i WHERE i.announcement_id = a.id AND i.status = 'announced');
    RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.acceptance_close_due(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.acceptance_close_due(integer) TO rectify_api;
-- Run by the jobs runner (0041; src/jobs/acceptance_close.c) every 15 minutes.
INSERT INTO job_schedules (name, kind, every) VALUES ('acceptance.close_due', 'acceptance.close_due', '15 minutes');

-- ---------------------------------------------------------------------------
-- 7. Spot checks.  Body: title, percent? + prefecture_org_ids?, or task_ids;
--    seed? (random when absent; recorded).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.spot_check_json(p_id bigint) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object('id', s.id, 'title', s.title, 'method', s.method, 'percent', s.percent,
        'prefecture_org_ids', s.prefecture_org_ids, 'seed', s.seed::text, 'candidates', s.candidates,
        'created_by', s.created_by, 'created_at', s.created_at, 'version', s.version,
        'items', (SELECT coalesce(json_agg(json_build_object('id', i.id, 'task_id', i.task_id,
                    'task_code', t.code, 'task_title', t.title, 'task_status', t.status,
                    'lead_org', rectify.org_ref(t.owner_org_id),
                    'result', i.result, 'findings', i.findings, 'accountability', i.accountability,
                    'checked_by', i.checked_by, 'checked_at', i.checked_at,
                    'evidence', rectify.acceptance_files('spot_check', i.id), 'version', i.version)
                  ORDER BY i.id), '[]')
                  FROM spot_check_items i JOIN tasks t ON t.id = i.task_id WHERE i.spot_check_id = s.id))
      FROM spot_checks s WHERE s.id = p_id
$$;

CREATE FUNCTION rectify.spot_check_get(p_id bigint)
    RETURNS TABLE (version integer, json json)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT s.version, rectify.spot_check_json(s.id) FROM spot_checks s WHERE s.id = p_id $$;

-- The closed tasks of the frame with their group (the lead org's prefecture,
-- NULL for provincial bodies) and rank in the seeded order.
CREATE FUNCTION rectify.spot_check_frame(p_seed bigint, p_prefectures bigint[])
    RETURNS TABLE (task_id bigint, grp bigint, rnk bigint, grp_size bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT f.id, f.grp, row_number() OVER (PARTITION BY f.grp ORDER BY md5(p_seed || ':' || f.id), f.id),
           count(*) OVER (PARTITION BY f.grp)
      FROM (SELECT t.id, (SELECT o.id FROM orgs o WHERE o.kind = 'prefecture' AND o.path @> t.owner_org_path) AS grp
              FROM tasks t WHERE t.status = 'closed') f
     WHERE p_prefectures IS NULL OR f.grp = ANY (p_prefectures)
$$;

CREATE FUNCTION rectify.spot_check_draw(p_body jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    s spot_checks;
    v_seed bigint := coalesce((p_body->>'seed')::bigint, (floor(random() * 9007199254740991))::bigint);
    v_pct integer := (p_body->>'percent')::integer;
    v_prefs bigint[] := CASE WHEN jsonb_typeof(p_body->'prefecture_org_ids') = 'array'
                             THEN rectify.jsonb_bigints(p_body->'prefecture_org_ids') END;
    v_picked bigint[] := rectify.jsonb_bigints(p_body->'task_ids');
    bad text;
BEGIN
    IF NOT rectify.has_any_role('{office,inspector}'::text[]) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the office or an inspector draws spot checks.');
    END IF;
    IF v_pct IS NULL THEN
        SELECT string_agg(coalesce(t.code || '（' || t.status || '）', x.id::text), '、') INTO bad
          FROM unnest(v_picked) AS x(id) LEFT JOIN tasks t ON t.id = x.id
         WHERE t.id IS NULL OR t.status <> 'closed';
        IF bad IS NOT NULL THEN
            PERFORM rectify.fail(409, 'task_not_closed', format('Only closed tasks are spot-checked: %s.', bad));
        END IF;
    END IF;
    INSERT INTO spot_checks (title, method, percent, prefecture_org_ids, seed, candidates)
    VALUES (p_body->>'title', CASE WHEN v_pct IS NULL THEN 'manual' ELSE 'percent' END, v_pct, v_prefs, v_seed,
            CASE WHEN v_pct IS NULL THEN cardinality(v_picked)
                 ELSE (SELECT count(*) FROM rectify.spot_check_frame(v_seed, v_prefs)) END)
    RETURNING * INTO s;
    INSERT INTO spot_check_items (spot_check_id, task_id)
    SELECT s.id, f.task_id FROM rectify.spot_check_frame(v_seed, v_prefs) f
     WHERE v_pct IS NOT NULL AND f.rnk <= ceil(f.grp_size * v_pct / 100.0)
    UNION ALL
    SELECT s.id, x.id FROM unnest(v_picked) AS x(id) WHERE v_pct IS NULL;
    RETURN QUERY SELECT x.version, x.json, '/api/v1/spot-checks/' || s.id FROM rectify.spot_check_get(s.id) x;
END
$$;

-- A result.  rebounded / faked re-open the (closed) task: reopen_count
-- counts, the reason kind is rebound / faked, faked flags accountability.
CREATE FUNCTION rectify.spot_check_result(p_check bigint, p_item bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    i spot_check_items;
    t tasks;
    res text := p_body->>'result';
BEGIN
    IF NOT rectify.has_any_role('{office,inspector}'::text[]) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only the office or an inspector records spot-check results.');
    END IF;
    SELECT * INTO i FROM spot_check_items x WHERE x.id = p_item AND x.spot_check_id = p_check FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such spot-check item.');
    END IF;
    PERFORM rectify.check_version(i.version, p_version);
    IF i.result <> 'pending' THEN
        PERFORM rectify.fail(409, 'already_decided', format('The result (%s) is recorded already.', i.result));
    END IF;
    -- read, not locked: inspectors pass no UPDATE policy of tasks (FOR UPDATE
    -- would hide the row); task_reopen_checked locks and re-checks.
    SELECT * INTO t FROM tasks x WHERE x.id = i.task_id;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such spot-check item.');
    END IF;
    IF t.status <> 'closed' THEN
        PERFORM rectify.fail(409, 'task_not_closed', format('The task is %s (no longer closed): there is nothing to spot-check.', t.status));
    END IF;
    UPDATE spot_check_items SET result = res, findings = p_body->>'findings', checked_by = rectify.user_id(),
           checked_at = now() WHERE id = i.id;
    PERFORM rectify.acceptance_link('spot_check', i.id, t.id, rectify.jsonb_bigints(p_body->'evidence'), 'evidence');
    IF res IN ('rebounded', 'faked') THEN
        PERFORM rectify.task_reopen_checked(t.id, CASE res WHEN 'faked' THEN 'faked' ELSE 'rebound' END,
                                            '抽查核验：' || (p_body->>'findings'));
    END IF;
    RETURN QUERY SELECT x.version, x.json FROM rectify.spot_check_get(p_check) x;
END
$$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'rectify.acceptance_request(bigint, integer, jsonb)', 'rectify.acceptance_check(bigint, integer, jsonb)',
        'rectify.acceptance_opinion(bigint, integer, jsonb)', 'rectify.acceptance_decide(bigint, integer, jsonb)',
        'rectify.acceptance_dossier(bigint)', 'rectify.announcement_publish(jsonb)', 'rectify.announcement_get(bigint)',
        'rectify.objection_decide(bigint, bigint, integer, jsonb)', 'rectify.spot_check_draw(jsonb)',
        'rectify.spot_check_get(bigint)', 'rectify.spot_check_result(bigint, bigint, integer, jsonb)'] LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO rectify_api', f);
    END LOOP;
END
$$;
