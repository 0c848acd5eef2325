-- Escalation as data (0046_dispatch.sql), tested as tables: since when a task
-- is red (rectify.task_red_since), which rules the database accepts
-- (escalation_rules_check), the state of a dispatch item, and what the
-- seeded rules call for over a small ledger (rectify.escalation_candidates).
\set ON_ERROR_STOP 1

-- 1. task_red_since(status, kind, deadline, started, last_report, report_days):
--    expected = days since the task turned red (NULL = not red).
DO $$
DECLARE
    c record;
    got integer;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        -- status        kind       deadline (days from today)  started (days ago)  last report (days ago)  interval  expected
        ('in_progress', 'date',     200,   40,  NULL, 30,  10),   -- silent since start: red from day 30
        ('in_progress', 'date',     200,   40,    35, 30,   5),   -- last report 35 days ago
        ('in_progress', 'date',     200,   40,    20, 30, NULL),  -- reported recently, not due: not red
        ('pending',     'date',      -3,   10,     2, 30,   2),   -- overdue since the day after the deadline
        ('in_progress', 'date',     -20,   90,    40, 30,  19),   -- both rules: the earlier one (overdue)
        ('in_progress', 'date',     -5,    90,    60, 30,  30),   -- both rules: the earlier one (silent)
        ('in_progress', 'ongoing',  NULL,  90,    45, 30,  15),   -- no deadline: only the silence rule
        ('in_progress', 'ongoing',  NULL,  90,     5, 30, NULL),
        ('completed',   'date',     -20,   90,    60, 30, NULL),  -- not open: never red
        ('closed',      'date',     -20,   90,    60, 30, NULL)
    ) AS t(status, kind, deadline, started, last_report, days, expected) LOOP
        got := floor(extract(epoch FROM now() - rectify.task_red_since(
                   c.status, c.kind, current_date + c.deadline, now() - make_interval(days => c.started),
                   now() - make_interval(days => c.last_report), c.days)) / 86400);
        ASSERT got IS NOT DISTINCT FROM c.expected,
               format('task_red_since%s: got %s', c, got);
    END LOOP;
END
$$;

-- 2. Rules the database takes: a known condition and exactly its parameters,
--    whole numbers 1..3650. A refusal names its field (COLUMN) and code (HINT).
DO $$
DECLARE
    c record;
    code text;
    col text;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('red_days',         '{"days": 7}',                     'ok',                NULL),
        ('red_days',         '{"days": 3650}',                  'ok',                NULL),
        ('missed_rounds',    '{"count": 2, "window_days": 90}', 'ok',                NULL),
        ('red_after_notice', '{"days": 30}',                    'ok',                NULL),
        ('moon_phase',       '{"days": 7}',                     'unknown_condition', 'condition'),
        ('',                 '{}',                              'unknown_condition', 'condition'),
        ('red_days',         '{}',                              'validation_failed', 'params'),
        ('red_days',         '{"days": 0}',                     'validation_failed', 'params'),
        ('red_days',         '{"days": 3651}',                  'validation_failed', 'params'),
        ('red_days',         '{"days": 1.5}',                   'validation_failed', 'params'),
        ('red_days',         '{"days": "7"}',                   'validation_failed', 'params'),
        ('red_days',         '{"days": null}',                  'validation_failed', 'params'),
        ('red_days',         '{"days": 7, "count": 1}',         'validation_failed', 'params'),
        ('missed_rounds',    '{"count": 2}',                    'validation_failed', 'params'),
        ('missed_rounds',    '{"days": 2, "window_days": 9}',   'validation_failed', 'params'),
        ('round_due_soon',   '{"hours": 24}',                   'ok',                NULL),
        ('round_overdue',    '{"days": 1}',                     'validation_failed', 'params')
    ) AS t(cond, params, expected, field) LOOP
        BEGIN
            INSERT INTO escalation_rules (name, condition, params, kind)
            VALUES ('t', c.cond, c.params::jsonb, 'reminder');
            code := 'ok';
            col := NULL;
            RAISE EXCEPTION 'undo' USING ERRCODE = 'RX999';
        EXCEPTION WHEN SQLSTATE 'RX999' THEN
            NULL;                                   -- accepted (and rolled back)
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS code = PG_EXCEPTION_HINT, col = COLUMN_NAME;
            ASSERT SQLSTATE = 'RX422', format('%s: SQLSTATE %s', c, SQLSTATE);
        END;
        ASSERT code = c.expected AND col IS NOT DISTINCT FROM c.field,
               format('rule %s: got %s at %s', c, code, col);
    END LOOP;
END
$$;

-- 3. The state of a dispatch item.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        -- reported (hours from now)  due (hours from now)  round   expected
        (-3,   -1,  'open',   'on_time'),
        (-1,   -1,  'open',   'on_time'),     -- at the due time: on time
        (-1,   -3,  'open',   'late'),
        (-1,   -3,  'closed', 'late'),
        (NULL,  2,  'open',   'pending'),
        (NULL, -2,  'open',   'missing'),
        (NULL,  2,  'closed', 'missing')
    ) AS t(reported, due, status, expected) LOOP
        ASSERT rectify.dispatch_item_state(now() + make_interval(hours => c.reported),
                                           now() + make_interval(hours => c.due), c.status) = c.expected,
               format('dispatch_item_state%s', c);
    END LOOP;
END
$$;

-- 4. The seeded rules over a small ledger: four tasks of 620102 and one of
--    620800, the latter's org missed two of three past rounds, a notice 31
--    days old names task C; the rounds are still open (R2, R3 unanswered by E
--    more than 24 hours after their due time: overdue reminders).
INSERT INTO campaigns (name, round, province_org_id) SELECT 'Round 3', 3, id FROM orgs WHERE code = '620000';
INSERT INTO problems (campaign_id, code, title, category, owner_org_id)
SELECT c.id, 'P1', '问题', 'local_specific', o.id FROM campaigns c, orgs o WHERE o.code = '620100';
INSERT INTO tasks (campaign_id, problem_id, code, title, owner_org_id, deadline, status, last_reported_at)
SELECT p.campaign_id, p.id, t.code, '任务', o.id, current_date + t.due, t.status, now() - make_interval(days => t.silent)
  FROM problems p, (VALUES ('A', '620102', 100, 'in_progress', 40),    -- red 10 days → reminder
                           ('B', '620102', 100, 'in_progress', 33),    -- red 3 days  → nothing
                           ('C', '620102', -40, 'in_progress', 1),     -- overdue 39 days → reminder; after the notice → interview
                           ('D', '620102', -40, 'completed', 90),      -- not open → nothing
                           ('E', '620800', 100, 'pending', 1)) AS t(code, org, due, status, silent)
  JOIN orgs o ON o.code = t.org;
INSERT INTO dispatch_rounds (campaign_id, name, period, due_at, scope, requirements)
SELECT c.id, 'R' || g, '2026-11', now() - make_interval(days => g), '{"kind": "all_open"}', '报送进展'
  FROM campaigns c, generate_series(1, 3) g;
INSERT INTO dispatch_items (round_id, task_id, owner_org_id, report_id, reported_at)
SELECT r.id, t.id, t.owner_org_id, NULL, NULL FROM dispatch_rounds r, tasks t WHERE t.code = 'E';
-- E answered round R1 on time: it missed two rounds (R2, R3).
INSERT INTO task_reports (task_id, period, narrative, percent, round_id)
SELECT t.id, '2026-11', '已报送', 10, NULL FROM tasks t WHERE t.code = 'E';
UPDATE dispatch_items i SET report_id = (SELECT max(id) FROM task_reports), reported_at = r.due_at - interval '1 hour'
  FROM dispatch_rounds r WHERE r.id = i.round_id AND r.name = 'R1';
INSERT INTO supervisions (kind, status, owner_org_id, task_ids, title, doc_number, issued_at)
SELECT 'notice', 'issued', o.id, ARRAY[t.id], '通报', '1号', now() - interval '31 days'
  FROM tasks t JOIN orgs o ON o.id = t.owner_org_id WHERE t.code = 'C';

DO $$
DECLARE
    got text;
BEGIN
    SELECT string_agg(format('%s:%s:%s', r.condition, c.kind, k.codes), ' ' ORDER BY r.id, k.codes)
      INTO got
      FROM rectify.escalation_candidates() c JOIN escalation_rules r ON r.id = c.rule_id,
           LATERAL (SELECT string_agg(t.code, ',' ORDER BY t.code) AS codes FROM tasks t
                     WHERE t.id = ANY (c.task_ids)) k;
    ASSERT got = 'red_days:reminder:A red_days:reminder:C missed_rounds:notice:E red_after_notice:interview:C'
                 ' round_overdue:reminder:E round_overdue:reminder:E', got;
    -- The scan writes them once: reminders issued, the others proposed; a rerun adds nothing.
    got := rectify.supervision_escalation_scan()::text;
    ASSERT got = '{"issued" : 4, "proposed" : 2}', got;
    ASSERT rectify.supervision_escalation_scan()::text = '{"issued" : 0, "proposed" : 0}';
    ASSERT (SELECT count(*) FROM supervisions WHERE status = 'proposed' AND kind IN ('notice', 'interview')) = 2;
    -- An inactive rule calls for nothing.
    UPDATE escalation_rules SET active = false WHERE condition = 'red_days';
    ASSERT NOT EXISTS (SELECT 1 FROM rectify.escalation_candidates() c JOIN escalation_rules r
                        ON r.id = c.rule_id WHERE r.condition = 'red_days');
END
$$;
