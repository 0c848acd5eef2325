-- 0011_ledger.sql — the rectification ledger (台账): campaigns, feedback
-- problems, rectification tasks, their workflow history, deadline extensions
-- and progress reports; the warning level of a task.
--
-- Names and meanings: ../shared/DESIGN.md section 1.  HTTP: src/api/ledger_*.c.
--
-- Scope (who sees what; see 0001 for the general rules)
-- -----------------------------------------------------------------------
--   campaigns       every authenticated user (not org-scoped).
--   problems        owner org = the lead org.  Visible when the lead org is
--                   in the caller's scope, or the caller's org is one of the
--                   regions concerned (region_org_ids), or the caller sees at
--                   least one task of the problem.
--   tasks           owner org = the lead org (牵头单位).  Visible when the lead
--                   org is in the caller's scope, or the caller's own org is a
--                   co-operating org (co_org_ids, 配合单位) or an acceptance org
--                   (acceptance_org_ids, 验收单位 — 谁验收谁负责).  The extra
--                   terms match the caller's org exactly, not its subtree: a
--                   prefecture does not see a task only because one of its
--                   counties co-operates on it.
--   task_* rows     visible exactly when their task is visible.
-- Writes: campaigns/problems/tasks are created and edited by admin/office.
-- Transitions, reports and extension requests are made by units of the lead
-- org's subtree (reports also by co-operating orgs) or by the office; the
-- service checks who (src/workflow/task_workflow.c and the statements), RLS
-- checks where.
--
-- Task states (task_status_transitions holds the valid moves; a trigger
-- refuses any other, so two concurrent requests cannot both move a task):
--   pending               待启动     created, work not started
--   in_progress           整改中     started (or re-opened)
--   completed             整改完成   the lead unit declares the rectification done
--   acceptance_requested  申请验收   the unit asked for acceptance (验收销号申请)
--   acceptance_review     验收中     acceptance orgs are checking      (acceptance issue)
--   approved              验收通过   the leading group approved         (acceptance issue)
--   announced             公示中     the closing is publicly announced  (acceptance issue)
--   closed                已销号     closed                             (acceptance issue)
-- Actions of this migration's API: start (pending → in_progress), complete
-- (in_progress → completed), request_acceptance (completed →
-- acceptance_requested), reopen (completed … closed → in_progress, with a
-- reason rebound | faked | spot_check_failed; sets reopened, counts
-- reopen_count).  The acceptance issue adds its moves as rows of
-- task_status_transitions: no existing row needs to change.
--
-- Warning level (rectify.task_warning, documented there and in the spec).

-- ---------------------------------------------------------------------------
-- Settings of the ledger: one row.
-- ---------------------------------------------------------------------------
CREATE TABLE ledger_settings (
    singleton               boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    -- red when an open task has had no progress report for longer than this
    report_interval_days    integer     NOT NULL DEFAULT 30 CHECK (report_interval_days BETWEEN 1 AND 366),
    -- yellow when a dated task is due within this many days
    due_soon_days           integer     NOT NULL DEFAULT 15 CHECK (due_soon_days BETWEEN 0 AND 366),
    -- yellow when percent < elapsed share of the schedule (in %) minus this
    schedule_tolerance_pct  integer     NOT NULL DEFAULT 10 CHECK (schedule_tolerance_pct BETWEEN 0 AND 100),
    version                 integer     NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ledger_settings IS 'The ledger''s warning thresholds (one row).';
INSERT INTO ledger_settings DEFAULT VALUES;
CREATE TRIGGER ledger_settings_touch BEFORE UPDATE ON ledger_settings
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('ledger_settings');
ALTER TABLE ledger_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_settings_read ON ledger_settings FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
GRANT SELECT ON ledger_settings TO rectify_api;

-- ---------------------------------------------------------------------------
-- Helpers.
-- ---------------------------------------------------------------------------

-- A list of ids: one dimension (or empty), no NULLs, no repeats.
CREATE FUNCTION rectify.id_list_ok(ids bigint[], max_items integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ids IS NOT NULL
                 AND coalesce(array_ndims(ids), 1) = 1
                 AND cardinality(ids) <= max_items
                 AND array_position(ids, NULL) IS NULL
                 AND cardinality(ids) = (SELECT count(DISTINCT x) FROM unnest(ids) x) $$;

-- Backstop for org id arrays (no array foreign keys in PostgreSQL): every id
-- must name an org.  Orgs are never deleted through the API.  The service
-- checks first and points at the field; this catches any other writer.
CREATE FUNCTION rectify.check_org_ids() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    col  text;
    bad  bigint;
BEGIN
    FOREACH col IN ARRAY TG_ARGV LOOP
        SELECT x.v::bigint INTO bad
          FROM jsonb_array_elements_text(to_jsonb(NEW) -> col) AS x(v)
         WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = x.v::bigint)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'org % in %.% does not exist', bad, TG_TABLE_NAME, col
                USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = col;
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.check_org_ids() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- campaigns: one inspection round of one province (督察轮次).
-- ---------------------------------------------------------------------------
CREATE TABLE campaigns (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    round                integer     NOT NULL CHECK (round BETWEEN 1 AND 100),
    province_org_id      bigint      NOT NULL REFERENCES orgs (id),
    team_org_id          bigint      REFERENCES orgs (id),          -- the inspection team (督察组)
    stay_start           date,
    stay_end             date,
    feedback_date        date,                                       -- 反馈日期
    plan_published_date  date,                                       -- 整改方案公开日期
    description          text        CHECK (length(description) <= 5000),
    version              integer     NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_round_key UNIQUE (province_org_id, round),
    CONSTRAINT campaigns_stay CHECK (stay_end >= stay_start)
);
COMMENT ON TABLE campaigns IS 'Inspection rounds (督察轮次): one per province and round.';
CREATE TRIGGER campaigns_touch BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('campaigns');
ALTER TABLE campaigns ENABLE ROW LEVEL SECURITY;
CREATE POLICY campaigns_read ON campaigns FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY campaigns_insert ON campaigns FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
CREATE POLICY campaigns_update ON campaigns FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
GRANT SELECT ON campaigns TO rectify_api;
GRANT INSERT (name, round, province_org_id, team_org_id, stay_start, stay_end, feedback_date,
              plan_published_date, description) ON campaigns TO rectify_api;
GRANT UPDATE (name, round, province_org_id, team_org_id, stay_start, stay_end, feedback_date,
              plan_published_date, description) ON campaigns TO rectify_api;

-- ---------------------------------------------------------------------------
-- problems: a problem of the feedback report (反馈问题).
-- ---------------------------------------------------------------------------
CREATE TABLE problems (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id       bigint      NOT NULL REFERENCES campaigns (id),
    -- As printed in the plan's task list (e.g. "3", "二-5"); unique per campaign.
    code              text        NOT NULL CHECK (length(code) BETWEEN 1 AND 32 AND code = btrim(code)),
    title             text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    description       text        CHECK (length(description) <= 20000),
    category          text        NOT NULL CHECK (category IN ('macro_common', 'provincial_sector', 'local_specific')),
    source            text        NOT NULL DEFAULT 'report'
                                  CHECK (source IN ('report', 'warning_film', 'clue_transfer')),
    region_org_ids    bigint[]    NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(region_org_ids, 200)),
    owner_org_id      bigint      NOT NULL REFERENCES orgs (id),    -- the lead org (API: lead_org_id)
    owner_org_path    ltree       NOT NULL,
    responsible_name  text        CHECK (length(btrim(responsible_name)) BETWEEN 1 AND 100),
    responsible_post  text        CHECK (length(btrim(responsible_post)) BETWEEN 1 AND 200),
    target            text        CHECK (length(target) <= 5000),
    deadline          date,
    -- Derived from the tasks (rectify.problem_refresh_status), never written by clients:
    --   pending      no task, or every task pending
    --   in_progress  otherwise, while some task is pending or in_progress
    --   completed    every task completed or further, not all closed
    --   closed       every task closed
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'in_progress', 'completed', 'closed')),
    deadline_key      date        GENERATED ALWAYS AS (coalesce(deadline, 'infinity'::date)) STORED,
    search_text       text        NOT NULL DEFAULT '',               -- trigger: code, title, target
    version           integer     NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT problems_code_key UNIQUE (campaign_id, code),
    CONSTRAINT problems_id_campaign_key UNIQUE (id, campaign_id)    -- target of tasks' FK
);
COMMENT ON TABLE problems IS 'Feedback problems (反馈问题) of a campaign; status derived from their tasks.';

CREATE INDEX problems_scope_gist ON problems USING gist (owner_org_path);
CREATE INDEX problems_regions_gin ON problems USING gin (region_org_ids);
CREATE INDEX problems_search_trgm ON problems USING gin (search_text gin_trgm_ops);
CREATE INDEX problems_official_trgm ON problems USING gin (responsible_name gin_trgm_ops);
CREATE INDEX problems_code_idx ON problems (code, id);
CREATE INDEX problems_deadline_idx ON problems (deadline_key, id);
CREATE INDEX problems_updated_idx ON problems (updated_at, id);
CREATE INDEX problems_campaign_idx ON problems (campaign_id, deadline_key, id);

CREATE FUNCTION rectify.problems_derive() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.search_text := concat_ws(' ', NEW.code, NEW.title, NEW.target);
    RETURN NEW;
END
$$;
CREATE TRIGGER problems_derive BEFORE INSERT OR UPDATE ON problems
    FOR EACH ROW EXECUTE FUNCTION rectify.problems_derive();
CREATE TRIGGER problems_org_ids BEFORE INSERT OR UPDATE OF region_org_ids ON problems
    FOR EACH ROW EXECUTE FUNCTION rectify.check_org_ids('region_org_ids');
-- A status change alone (derived from the tasks) is not a new version.
CREATE TRIGGER problems_touch BEFORE UPDATE ON problems
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version('status');
SELECT rectify.enable_scope('problems');
SELECT rectify.enable_audit('problems', ignore_columns => '{search_text}');

-- ---------------------------------------------------------------------------
-- tasks: a rectification task (整改任务), the row of the ledger.
-- ---------------------------------------------------------------------------
CREATE TABLE task_states (
    status  text     PRIMARY KEY,
    ord     smallint NOT NULL UNIQUE,
    open    boolean  NOT NULL,      -- overdue / reporting rules apply
    done    boolean  NOT NULL       -- completed or further
);
COMMENT ON TABLE task_states IS 'The task states, in workflow order (see the top of 0011_ledger.sql).';
INSERT INTO task_states VALUES
    ('pending', 1, true, false), ('in_progress', 2, true, false),
    ('completed', 3, false, true), ('acceptance_requested', 4, false, true),
    ('acceptance_review', 5, false, true), ('approved', 6, false, true),
    ('announced', 7, false, true), ('closed', 8, false, true);
GRANT SELECT ON task_states TO rectify_api;

-- The valid status changes; the service's transition table
-- (src/workflow/task_workflow.c) uses a subset with actions and roles.
CREATE TABLE task_status_transitions (
    from_status  text NOT NULL REFERENCES task_states (status),
    to_status    text NOT NULL REFERENCES task_states (status),
    PRIMARY KEY (from_status, to_status),
    CHECK (from_status <> to_status)
);
COMMENT ON TABLE task_status_transitions IS 'Status changes the database accepts on tasks (trigger tasks_guard).';
INSERT INTO task_status_transitions VALUES
    ('pending', 'in_progress'),                 -- start
    ('in_progress', 'completed'),               -- complete
    ('completed', 'acceptance_requested'),      -- request_acceptance
    -- reopen (重新纳入整改): from completed or any later state
    ('completed', 'in_progress'), ('acceptance_requested', 'in_progress'),
    ('acceptance_review', 'in_progress'), ('approved', 'in_progress'),
    ('announced', 'in_progress'), ('closed', 'in_progress');
GRANT SELECT ON task_status_transitions TO rectify_api;

CREATE TABLE tasks (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id          bigint      NOT NULL,
    problem_id           bigint      NOT NULL,
    code                 text        NOT NULL CHECK (length(code) BETWEEN 1 AND 32 AND code = btrim(code)),
    title                text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    target               text        CHECK (length(target) <= 5000),          -- 整改目标
    measures             text[]      NOT NULL DEFAULT '{}'                      -- 具体措施, in order
                                     CHECK (coalesce(array_ndims(measures), 1) = 1
                                            AND cardinality(measures) <= 50
                                            AND array_position(measures, NULL) IS NULL),
    owner_org_id         bigint      NOT NULL REFERENCES orgs (id),             -- lead org (API: lead_org_id)
    owner_org_path       ltree       NOT NULL,
    co_org_ids           bigint[]    NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(co_org_ids, 100)),
    acceptance_org_ids   bigint[]    NOT NULL DEFAULT '{}' CHECK (rectify.id_list_ok(acceptance_org_ids, 20)),
    responsible_name     text        CHECK (length(btrim(responsible_name)) BETWEEN 1 AND 100),  -- 领导包抓
    responsible_post     text        CHECK (length(btrim(responsible_post)) BETWEEN 1 AND 200),
    deadline_kind        text        NOT NULL DEFAULT 'date'
                                     CHECK (deadline_kind IN ('date', 'immediate_then_ongoing', 'ongoing')),
    deadline             date,                                  -- planned deadline
    extended_deadline    date,                                  -- from the latest approved extension
    effective_deadline   date        GENERATED ALWAYS AS (coalesce(extended_deadline, deadline)) STORED,
    deadline_key         date        GENERATED ALWAYS AS (coalesce(extended_deadline, deadline, 'infinity'::date)) STORED,
    -- [{"target": "…", "due": "YYYY-MM-DD"}, …] (阶段性目标)
    stage_targets        jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(stage_targets) = 'array'),
    percent              integer     NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    status               text        NOT NULL DEFAULT 'pending' REFERENCES task_states (status),
    reopened             boolean     NOT NULL DEFAULT false,
    reopen_count         integer     NOT NULL DEFAULT 0 CHECK (reopen_count >= 0),
    started_at           timestamptz,
    completed_at         timestamptz,
    last_reported_at     timestamptz,
    search_text          text        NOT NULL DEFAULT '',       -- trigger: code, title, target, measures
    version              integer     NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_code_key UNIQUE (campaign_id, code),
    CONSTRAINT tasks_problem_fkey FOREIGN KEY (problem_id, campaign_id)
        REFERENCES problems (id, campaign_id),
    CONSTRAINT tasks_deadline_kind CHECK (
        CASE WHEN deadline_kind = 'date' THEN deadline IS NOT NULL
             ELSE deadline IS NULL AND extended_deadline IS NULL END),
    CONSTRAINT tasks_reopen_count CHECK (reopened = (reopen_count > 0))
);
COMMENT ON TABLE tasks IS 'Rectification tasks (整改任务台账); scoped by the lead org, see the top of 0011.';
COMMENT ON COLUMN tasks.effective_deadline IS
    'The deadline in force: an approved extension''s new deadline, else the planned one (old ones stay in task_extensions).';

-- Indexes.  Lists are keyset-paginated on (sort key, id) with optional
-- filters; each sort has its index, the selective filters have theirs and the
-- planner picks (custom plans: NULL filters fold away).
CREATE INDEX tasks_scope_gist ON tasks USING gist (owner_org_path);               -- RLS, lead_org subtree
CREATE INDEX tasks_co_orgs_gin ON tasks USING gin (co_org_ids);                   -- RLS term
CREATE INDEX tasks_acceptance_orgs_gin ON tasks USING gin (acceptance_org_ids);   -- RLS term
CREATE INDEX tasks_problem_idx ON tasks (problem_id, deadline_key, id);
CREATE INDEX tasks_campaign_deadline_idx ON tasks (campaign_id, deadline_key, id);
CREATE INDEX tasks_deadline_idx ON tasks (deadline_key, id);
CREATE INDEX tasks_updated_idx ON tasks (updated_at, id);
CREATE INDEX tasks_code_idx ON tasks (code, id);
CREATE INDEX tasks_status_deadline_idx ON tasks (status, deadline_key, id);
CREATE INDEX tasks_search_trgm ON tasks USING gin (search_text gin_trgm_ops);     -- q=
CREATE INDEX tasks_official_trgm ON tasks USING gin (responsible_name gin_trgm_ops);
-- overdue / due soon: open dated tasks by deadline
CREATE INDEX tasks_open_deadline_idx ON tasks (effective_deadline, id)
    WHERE deadline_kind = 'date' AND status IN ('pending', 'in_progress');
-- no report for too long: open tasks by their last sign of life
CREATE INDEX tasks_open_reported_idx ON tasks ((coalesce(last_reported_at, started_at, created_at)), id)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX tasks_reopened_idx ON tasks (deadline_key, id) WHERE reopened;

-- BEFORE INSERT/UPDATE: search text; on a status change the move must be in
-- task_status_transitions (RX409 invalid_transition), started_at and
-- completed_at follow.  The service's UPDATE also names the from-state and
-- the version, so of two concurrent requests at most one matches.
CREATE FUNCTION rectify.tasks_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    NEW.search_text := concat_ws(' ', NEW.code, NEW.title, NEW.target,
                                 array_to_string(NEW.measures, ' '));
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM task_status_transitions s
                        WHERE s.from_status = OLD.status AND s.to_status = NEW.status) THEN
            RAISE EXCEPTION 'A task cannot go from % to %.', OLD.status, NEW.status
                USING ERRCODE = 'RX409', HINT = 'invalid_transition';
        END IF;
        IF NEW.status = 'in_progress' AND NEW.started_at IS NULL THEN
            NEW.started_at := now();
        END IF;
        IF NEW.status = 'completed' THEN
            NEW.completed_at := now();
        ELSIF NEW.status = 'in_progress' THEN
            NEW.completed_at := NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tasks_guard BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION rectify.tasks_guard();
CREATE TRIGGER tasks_org_ids BEFORE INSERT OR UPDATE OF co_org_ids, acceptance_org_ids ON tasks
    FOR EACH ROW EXECUTE FUNCTION rectify.check_org_ids('co_org_ids', 'acceptance_org_ids');
CREATE TRIGGER tasks_touch BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_scope('tasks');
SELECT rectify.enable_audit('tasks', ignore_columns => '{search_text}');

-- The problem's derived status.  Locks the problem row first, then counts
-- with a fresh snapshot (READ COMMITTED), so concurrent task changes of one
-- problem serialize here and the last one counts everybody's.
CREATE FUNCTION rectify.problem_refresh_status(p_problem_id bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    st text;
BEGIN
    PERFORM 1 FROM problems WHERE id = p_problem_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT CASE WHEN count(*) = 0 OR bool_and(t.status = 'pending') THEN 'pending'
                WHEN bool_and(t.status = 'closed') THEN 'closed'
                WHEN bool_and(s.done) THEN 'completed'
                ELSE 'in_progress' END
      INTO st
      FROM tasks t JOIN task_states s ON s.status = t.status
     WHERE t.problem_id = p_problem_id;
    UPDATE problems SET status = st WHERE id = p_problem_id AND status IS DISTINCT FROM st;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.problem_refresh_status(bigint) FROM PUBLIC;

CREATE FUNCTION rectify.tasks_problem_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM rectify.problem_refresh_status(OLD.problem_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.problem_id <> OLD.problem_id) THEN
        PERFORM rectify.problem_refresh_status(NEW.problem_id);
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.tasks_problem_status() FROM PUBLIC;
CREATE TRIGGER tasks_problem_status AFTER INSERT OR DELETE OR UPDATE OF status, problem_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION rectify.tasks_problem_status();

-- ---------------------------------------------------------------------------
-- Warning level of a task (预警等级).  Evaluated in this order:
--   1. a task that is not open (completed, or any later state) → green;
--   2. red    when no progress report for longer than report_interval_days
--             (counted from the last report, else from the start, else from
--             creation) — this rule holds for every deadline kind;
--   3. kinds immediate_then_ongoing and ongoing: only rule 2 applies → green;
--   4. red    when overdue: the effective deadline (an approved extension's,
--             else the planned one) is before today (Asia/Shanghai);
--   5. yellow when the effective deadline is within due_soon_days from today;
--   6. yellow when progress is behind a linear schedule:
--               percent < 100 × elapsed / span − schedule_tolerance_pct
--             with elapsed = today − start date (capped to span), span =
--             deadline − start date (at least 1 day), start = started_at,
--             else created_at;
--   7. green otherwise.
-- Open = pending or in_progress.  Thresholds: the ledger_settings row.
-- Plain SQL without FROM, so the planner inlines it into the list queries
-- (which join ledger_settings once).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.task_warning(p_status text, p_kind text, p_deadline date, p_percent integer,
                                     p_started timestamptz, p_last_report timestamptz,
                                     p_report_days integer, p_soon_days integer, p_tolerance integer)
    RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE
        WHEN p_status NOT IN ('pending', 'in_progress') THEN 'green'
        WHEN coalesce(p_last_report, p_started) < now() - make_interval(days => p_report_days) THEN 'red'
        WHEN p_kind <> 'date' THEN 'green'
        WHEN p_deadline < current_date THEN 'red'
        WHEN p_deadline <= current_date + p_soon_days THEN 'yellow'
        WHEN p_percent < 100.0 * least(greatest(current_date - p_started::date, 0),
                                       greatest(p_deadline - p_started::date, 1))
                             / greatest(p_deadline - p_started::date, 1) - p_tolerance THEN 'yellow'
        ELSE 'green' END
    $$;
COMMENT ON FUNCTION rectify.task_warning(text, text, date, integer, timestamptz, timestamptz, integer, integer, integer) IS
    'Warning level red/yellow/green of a task; rules in 0011_ledger.sql and the API spec.';

-- Overdue: an open dated task whose effective deadline has passed.
CREATE FUNCTION rectify.task_overdue(p_status text, p_kind text, p_deadline date) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT p_kind = 'date' AND p_status IN ('pending', 'in_progress') AND p_deadline < current_date $$;

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tasks_read ON tasks FOR SELECT TO rectify_api
    USING (rectify.in_scope(owner_org_path)
           OR co_org_ids @> ARRAY[rectify.org_id()]
           OR acceptance_org_ids @> ARRAY[rectify.org_id()]);
CREATE POLICY tasks_insert ON tasks FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]) AND rectify.in_scope(owner_org_path));
-- Units update status, percent, last_reported_at through transitions and
-- reports (the service decides which columns); the office edits everything.
CREATE POLICY tasks_update ON tasks FOR UPDATE TO rectify_api
    USING ((rectify.in_scope(owner_org_path)
            OR co_org_ids @> ARRAY[rectify.org_id()]
            OR acceptance_org_ids @> ARRAY[rectify.org_id()])
           AND rectify.has_any_role('{admin,office,leader,unit,acceptor}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office,leader,unit,acceptor}'::text[]));
GRANT SELECT ON tasks TO rectify_api;
GRANT INSERT (campaign_id, problem_id, code, title, target, measures, owner_org_id, owner_org_path,
              co_org_ids, acceptance_org_ids, responsible_name, responsible_post, deadline_kind,
              deadline, stage_targets) ON tasks TO rectify_api;
GRANT UPDATE (title, target, measures, owner_org_id, owner_org_path, co_org_ids, acceptance_org_ids,
              responsible_name, responsible_post, deadline_kind, deadline, extended_deadline,
              stage_targets, percent, status, reopened, reopen_count, last_reported_at)
    ON tasks TO rectify_api;

-- Problems are visible through their tasks too (policy defined after tasks).
ALTER TABLE problems ENABLE ROW LEVEL SECURITY;
CREATE POLICY problems_read ON problems FOR SELECT TO rectify_api
    USING (rectify.in_scope(owner_org_path)
           OR region_org_ids @> ARRAY[rectify.org_id()]
           OR EXISTS (SELECT 1 FROM tasks t WHERE t.problem_id = problems.id));
CREATE POLICY problems_insert ON problems FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
CREATE POLICY problems_update ON problems FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
GRANT SELECT ON problems TO rectify_api;
GRANT INSERT (campaign_id, code, title, description, category, source, region_org_ids, owner_org_id,
              owner_org_path, responsible_name, responsible_post, target, deadline)
    ON problems TO rectify_api;
GRANT UPDATE (title, description, category, source, region_org_ids, owner_org_id, owner_org_path,
              responsible_name, responsible_post, target, deadline)
    ON problems TO rectify_api;

-- ---------------------------------------------------------------------------
-- task_transitions: the workflow history of a task (append-only).
-- ---------------------------------------------------------------------------
CREATE TABLE task_transitions (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id      bigint      NOT NULL REFERENCES tasks (id),
    action       text        NOT NULL CHECK (action ~ '^[a-z_]{1,40}$'),
    from_status  text        NOT NULL REFERENCES task_states (status),
    to_status    text        NOT NULL REFERENCES task_states (status),
    reason       text        CHECK (reason IN ('rebound', 'faked', 'spot_check_failed')),
    comment      text        CHECK (length(comment) <= 2000),
    user_id      bigint      DEFAULT rectify.user_id(),
    org_id       bigint      DEFAULT rectify.org_id(),
    at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_transitions_move FOREIGN KEY (from_status, to_status)
        REFERENCES task_status_transitions (from_status, to_status),
    CONSTRAINT task_transitions_reopen_reason CHECK ((action = 'reopen') = (reason IS NOT NULL))
);
COMMENT ON TABLE task_transitions IS 'Workflow history of tasks: who moved which task from which state to which, when and why.';
CREATE INDEX task_transitions_task_idx ON task_transitions (task_id, id);
SELECT rectify.enable_audit('task_transitions');
ALTER TABLE task_transitions ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_transitions_read ON task_transitions FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY task_transitions_insert ON task_transitions FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id)
                AND user_id = rectify.user_id() AND org_id = rectify.org_id());
GRANT SELECT ON task_transitions TO rectify_api;
GRANT INSERT (task_id, action, from_status, to_status, reason, comment) ON task_transitions TO rectify_api;

-- ---------------------------------------------------------------------------
-- task_extensions: deadline extensions (延期申请) — request → office decision.
-- An approved extension sets tasks.extended_deadline; the planned deadline and
-- every earlier request stay here.
-- ---------------------------------------------------------------------------
CREATE TABLE task_extensions (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id            bigint      NOT NULL REFERENCES tasks (id),
    previous_deadline  date        NOT NULL,          -- the effective deadline when requested
    new_deadline       date        NOT NULL,
    reason             text        NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    status             text        NOT NULL DEFAULT 'requested'
                                   CHECK (status IN ('requested', 'approved', 'rejected')),
    requested_by       bigint      DEFAULT rectify.user_id(),
    requested_org_id   bigint      DEFAULT rectify.org_id(),
    decided_by         bigint,
    decided_at         timestamptz,
    decision_comment   text        CHECK (length(decision_comment) <= 2000),
    version            integer     NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_extensions_later CHECK (new_deadline > previous_deadline),
    CONSTRAINT task_extensions_decided CHECK ((status = 'requested') = (decided_at IS NULL))
);
COMMENT ON TABLE task_extensions IS 'Deadline extension requests and their decisions; the history of a task''s deadlines.';
CREATE INDEX task_extensions_task_idx ON task_extensions (task_id, id);
-- At most one open request per task.
CREATE UNIQUE INDEX task_extensions_one_open ON task_extensions (task_id) WHERE status = 'requested';
CREATE TRIGGER task_extensions_touch BEFORE UPDATE ON task_extensions
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('task_extensions');
ALTER TABLE task_extensions ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_extensions_read ON task_extensions FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY task_extensions_insert ON task_extensions FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id)
                AND requested_by = rectify.user_id()
                AND rectify.has_any_role('{admin,office,unit}'::text[]));
CREATE POLICY task_extensions_decide ON task_extensions FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]) AND decided_by = rectify.user_id());
GRANT SELECT ON task_extensions TO rectify_api;
GRANT INSERT (task_id, previous_deadline, new_deadline, reason) ON task_extensions TO rectify_api;
GRANT UPDATE (status, decided_by, decided_at, decision_comment) ON task_extensions TO rectify_api;

-- ---------------------------------------------------------------------------
-- task_reports: progress reports (进展报送), append-only.  The task's percent
-- and last_reported_at follow the newest report (set by the same statement).
-- Evidence links: report_attachments (0019, after the attachments table).
-- ---------------------------------------------------------------------------
CREATE TABLE task_reports (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id        bigint      NOT NULL REFERENCES tasks (id),
    period         text        NOT NULL CHECK (length(btrim(period)) BETWEEN 1 AND 50),  -- "2024-03", "2024年第一季度"
    narrative      text        NOT NULL CHECK (length(btrim(narrative)) BETWEEN 1 AND 20000),
    percent        integer     NOT NULL CHECK (percent BETWEEN 0 AND 100),
    -- 1-based positions in the task's measures list
    measures_done  integer[]   NOT NULL DEFAULT '{}'
                               CHECK (coalesce(array_ndims(measures_done), 1) = 1
                                      AND array_position(measures_done, NULL) IS NULL
                                      AND cardinality(measures_done) <= 50),
    user_id        bigint      DEFAULT rectify.user_id(),
    org_id         bigint      DEFAULT rectify.org_id(),
    created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE task_reports IS 'Progress reports on tasks by the lead or a co-operating org (append-only).';
CREATE INDEX task_reports_task_idx ON task_reports (task_id, id);
SELECT rectify.enable_audit('task_reports');
ALTER TABLE task_reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_reports_read ON task_reports FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id));
CREATE POLICY task_reports_insert ON task_reports FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_id)
                AND user_id = rectify.user_id() AND org_id = rectify.org_id()
                AND rectify.has_any_role('{admin,office,unit}'::text[]));
GRANT SELECT ON task_reports TO rectify_api;
GRANT INSERT (task_id, period, narrative, percent, measures_done) ON task_reports TO rectify_api;
