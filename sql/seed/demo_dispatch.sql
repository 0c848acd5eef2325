-- sql/seed/demo_dispatch.sql — demo dispatch rounds and supervision, loaded by
-- scripts/seed-demo after demo_ledger.sql: two closed monthly rounds over all
-- open tasks (answered partly on time, partly late, partly not), an open
-- ten-day round over the tasks led in Lanzhou, an open round over one
-- problem, a monthly schedule, supervision of every kind in every state
-- (reminder, notice, interview, listed, onsite), and what the escalation
-- rules make of it all (reminders issued, a notice proposed).
--
-- Run as the owner after the demo users and ledger exist. Idempotent: loaded
-- only while the demo campaign has no dispatch round. Times are relative to
-- the day of loading, so states (late, overdue, due soon) look current.
\set ON_ERROR_STOP 1
SELECT EXISTS (SELECT 1 FROM campaigns c JOIN orgs o ON o.id = c.province_org_id
                WHERE o.code = '620000' AND c.round = 3)
       AND NOT EXISTS (SELECT 1 FROM dispatch_rounds r JOIN campaigns c ON c.id = r.campaign_id
                        JOIN orgs o ON o.id = c.province_org_id WHERE o.code = '620000' AND c.round = 3)
       AS demo_dispatch_missing \gset
\if :demo_dispatch_missing
BEGIN;

CREATE TEMP TABLE demo_d ON COMMIT DROP AS
SELECT c.id AS campaign_id, (SELECT id FROM users WHERE username = 'office') AS office_id,
       (SELECT id FROM orgs WHERE code = 'GS-OFFICE') AS office_org
  FROM campaigns c JOIN orgs o ON o.id = c.province_org_id WHERE o.code = '620000' AND c.round = 3;

-- Rounds: the fixed lists are resolved now, as the API does.
DO $$
DECLARE
    d demo_d;
BEGIN
    SELECT * INTO d FROM demo_d;
    PERFORM rectify.dispatch_round_insert(d.campaign_id, '月度整改进展调度', to_char(now() - x.back, 'YYYY-MM'),
                                          now() - x.back + interval '10 days', '{"kind": "all_open"}',
                                          '报送本月整改进展：已完成的整改措施、完成百分比，附现场照片等佐证材料。',
                                          NULL, false)
       FROM (VALUES (interval '2 months'), (interval '1 month')) AS x(back);
    PERFORM rectify.dispatch_round_insert(d.campaign_id, '兰州市整改任务旬调度',
                to_char(now(), 'YYYY-MM') || CASE WHEN extract(day FROM now()) <= 10 THEN '上旬'
                                                  WHEN extract(day FROM now()) <= 20 THEN '中旬' ELSE '下旬' END,
                now() + interval '5 days', jsonb_build_object('kind', 'orgs', 'org_ids', jsonb_build_array(o.id)),
                '报送本旬整改进展和下一步工作计划。', NULL, false)
       FROM orgs o WHERE o.code = '620100';
    PERFORM rectify.dispatch_round_insert(d.campaign_id, '祁连山生态保护专项调度', to_char(now(), 'YYYY-MM'),
                now() + interval '10 days', jsonb_build_object('kind', 'problems', 'problem_ids', jsonb_build_array(p.id)),
                '报送祁连山保护区生态修复进展、监测监管平台建设情况。', NULL, false)
       FROM problems p WHERE p.campaign_id = d.campaign_id AND p.code = '2';
END
$$;
UPDATE dispatch_rounds r SET opened_by = d.office_id, created_at = r.due_at - interval '10 days'
  FROM demo_d d WHERE r.campaign_id = d.campaign_id;

-- Answers: most on time, about one in eight late (past rounds only); a few orgs
-- (id divisible by 7) and scattered items never answer.
INSERT INTO task_reports (task_id, period, narrative, percent, measures_done, user_id, org_id, created_at, round_id)
SELECT i.task_id, r.period,
       CASE WHEN i.id % 8 <> 0 OR r.due_at > now() THEN '按调度要求报送：本期' || t.measures[1] || '已完成，正在推进后续措施。'
            ELSE '逾期补报：本期整改工作按计划推进。' END,
       t.percent, '{}', u.id, t.owner_org_id,
       CASE WHEN r.due_at > now() THEN now() - make_interval(hours => 1 + (i.id % 48)::int)
            WHEN i.id % 8 <> 0 THEN r.due_at - make_interval(hours => 2 + (i.id % 48)::int)
            ELSE r.due_at + make_interval(hours => 6 + (i.id % 30)::int) END,
       r.id
  FROM dispatch_items i JOIN dispatch_rounds r ON r.id = i.round_id JOIN tasks t ON t.id = i.task_id
  LEFT JOIN LATERAL (SELECT us.id FROM users us WHERE us.org_id = t.owner_org_id AND 'unit' = ANY (us.roles)
                      ORDER BY us.id LIMIT 1) u ON true
 WHERE t.owner_org_id % 7 <> 0 AND i.id % 11 <> 0
   AND r.campaign_id = (SELECT campaign_id FROM demo_d);
-- The tasks follow their newest report, as the report resource does.
UPDATE tasks t SET last_reported_at = x.at
  FROM (SELECT task_id, max(created_at) AS at FROM task_reports WHERE round_id IS NOT NULL GROUP BY task_id) x
 WHERE t.id = x.task_id AND x.at > coalesce(t.last_reported_at, '-infinity');
UPDATE dispatch_rounds r SET status = 'closed', closed_at = r.due_at + interval '7 days', closed_by = d.office_id
  FROM demo_d d WHERE r.campaign_id = d.campaign_id AND r.due_at < now();

INSERT INTO dispatch_schedules (campaign_id, name, day_of_month, due_days, scope, requirements, next_run_at)
SELECT d.campaign_id, '月度整改进展调度', 25, 5, '{"kind": "all_open"}',
       '每月25日起5日内报送整改进展、完成百分比和佐证材料。', rectify.dispatch_next_run(25, now())
  FROM demo_d d;

-- Supervision of every kind, against the lead orgs of demo tasks.
CREATE TEMP TABLE demo_s ON COMMIT DROP AS
SELECT x.*, t.id AS task_id, t.owner_org_id AS org_id
  FROM (VALUES
    (1, 'reminder', 'issued',    '关于加快推进整改任务的催办函', NULL, NULL, NULL, NULL),
    (2, 'notice',   'signed',    '关于部分地区整改进度滞后情况的通报', '甘整改办通报〔2026〕5号', NULL, NULL, NULL),
    (3, 'interview','responded', '关于整改工作推进不力的约谈', NULL, '市政府分管副市长', '省整改办主任', NULL),
    (4, 'listed',   'closed',    '关于对尾矿库污染问题挂牌督办的通知', NULL, NULL, NULL, '尾矿库完成闭库治理，周边水体监测连续3个月达标，群众满意'),
    (5, 'listed',   'signed',    '关于对违规取水问题挂牌督办的通知', NULL, NULL, NULL, '违规取水行为全部查处，机井关停到位'),
    (6, 'onsite',   'issued',    '现场督办：黄河干流岸线整治', NULL, NULL, NULL, NULL),
    (7, 'reminder', 'closed',    '关于按时报送整改进展的催办函', NULL, NULL, NULL, NULL)
  ) AS x(n, kind, status, title, doc_number, interviewee, interviewer, removal),
  LATERAL (SELECT t.* FROM tasks t JOIN demo_d d ON t.campaign_id = d.campaign_id
            WHERE t.status IN ('pending', 'in_progress') ORDER BY t.id OFFSET x.n * 3 LIMIT 1) t;
INSERT INTO supervisions (kind, status, owner_org_id, task_ids, title, content, response_due, doc_number,
                          circulated_org_ids, interviewee, interviewer, interview_date, removal_conditions,
                          delisted_on, onsite_date, onsite_place, signed_at, signed_by, response, responded_at,
                          responded_by, issued_at, issued_by, closed_at, closed_by, close_comment, created_by,
                          created_at)
SELECT s.kind, s.status, s.org_id, ARRAY[s.task_id], s.title,
       '请认真落实整改责任，于期限内书面反馈整改落实情况。', current_date + (10 - s.n * 3),
       s.doc_number,
       CASE WHEN s.kind = 'notice' THEN ARRAY(SELECT id FROM orgs WHERE kind = 'prefecture' ORDER BY code) ELSE '{}' END,
       s.interviewee, s.interviewer, CASE WHEN s.kind = 'interview' THEN current_date - 10 END, s.removal,
       CASE WHEN s.kind = 'listed' AND s.status = 'closed' THEN current_date - 2 END,
       CASE WHEN s.kind = 'onsite' THEN current_date + 3 END,
       CASE WHEN s.kind = 'onsite' THEN '黄河兰州段岸线整治现场' END,
       CASE WHEN s.status IN ('signed', 'responded', 'closed') THEN now() - interval '12 days' END,
       CASE WHEN s.status IN ('signed', 'responded', 'closed') THEN u.id END,
       CASE WHEN s.status IN ('responded', 'closed') THEN '已按要求完成整改，相关佐证材料已上传。' END,
       CASE WHEN s.status IN ('responded', 'closed') THEN now() - interval '5 days' END,
       CASE WHEN s.status IN ('responded', 'closed') THEN u.id END,
       now() - interval '14 days', d.office_id,
       CASE WHEN s.status = 'closed' THEN now() - interval '2 days' END,
       CASE WHEN s.status = 'closed' THEN d.office_id END,
       CASE WHEN s.status = 'closed' THEN '整改到位，予以办结。' END,
       d.office_id, now() - interval '14 days'
  FROM demo_s s CROSS JOIN demo_d d
  LEFT JOIN LATERAL (SELECT us.id FROM users us WHERE us.org_id = s.org_id AND 'unit' = ANY (us.roles)
                      ORDER BY us.id LIMIT 1) u ON true
 ORDER BY s.n;
-- Their history, as the API writes it.
INSERT INTO supervision_events (supervision_id, action, from_status, to_status, comment, user_id, org_id, at)
SELECT s.id, e.action, e.from_status, e.to_status, e.comment, coalesce(e.who, d.office_id), NULL, e.at
  FROM supervisions s CROSS JOIN demo_d d,
  LATERAL (VALUES (1, 'issue', NULL, 'issued', NULL::text, s.issued_by, s.issued_at),
                  (2, 'sign', 'issued', 'signed', NULL, s.signed_by, s.signed_at),
                  (3, 'respond', 'signed', 'responded', NULL, s.responded_by, s.responded_at),
                  (4, 'close', CASE WHEN s.responded_at IS NOT NULL THEN 'responded' ELSE 'issued' END, 'closed',
                   s.close_comment, s.closed_by, s.closed_at)) AS e(n, action, from_status, to_status, comment, who, at)
 WHERE s.rule_id IS NULL AND e.at IS NOT NULL
 ORDER BY s.id, e.n;

-- The rules over the demo: reminders for long-red tasks, notices proposed
-- for orgs that missed both monthly rounds.
SELECT rectify.supervision_escalation_scan() AS escalation \gset
\echo demo dispatch: escalation scan :escalation

COMMIT;
\echo demo dispatch: loaded
\else
\echo demo dispatch: already loaded (or no demo campaign)
\endif
