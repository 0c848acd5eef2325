-- sql/seed/demo_acceptance.sql — the acceptance records (验收销号) of the demo
-- ledger, loaded by scripts/seed-demo after demo_ledger.sql: every task the
-- demo has in an acceptance state gets the rounds that brought it there, so
-- that ./scripts/run shows each step of the flow:
--   acceptance_requested  a request, waiting for the on-site check
--   acceptance_review     checked; opinions missing (one with one of two in),
--                         one with every opinion in (awaiting the leader)
--   approved              approved by the leading group; one was rejected
--                         once (an acceptance org disagreed) before
--   announced             in the running announcement (第二批), one with an
--                         objection waiting for the office, one dismissed
--   closed                announced in 第一批 (period over) and closed; a spot
--                         check (seed recorded) found one consolidated, one
--                         rebounded (re-opened), one still to check
-- Run as the owner; idempotent (nothing is loaded once an acceptance request
-- exists).  The demo has no files: rounds carry no evidence attachments.
-- Opinions are recorded for the acceptance org without a user, except those
-- of GS-EE, given by the demo account ee_dept (unit, acceptor).
\set ON_ERROR_STOP 1
SELECT EXISTS (SELECT 1 FROM campaigns c JOIN orgs o ON o.id = c.province_org_id
                WHERE o.code = '620000' AND c.round = 3)
       AND NOT EXISTS (SELECT 1 FROM acceptance_requests) AS demo_acceptance_missing \gset
\if :demo_acceptance_missing
\o /dev/null
BEGIN;

-- One round of task p_code: request, and as far as p_upto goes: check,
-- opinions (p_agree of them agree, p_disagree disagree, in the task's org
-- order), the leader's decision.  Returns the round's id.
CREATE FUNCTION pg_temp.demo_round(p_code text, p_round int, p_status text, p_agree int,
                                   p_disagree int, p_at timestamptz)
    RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    t tasks;
    q bigint;
    c bigint;
    o bigint;
    n int := 0;
    ee bigint := (SELECT id FROM users WHERE username = 'ee_dept');
    unit bigint;
BEGIN
    SELECT x.* INTO t FROM tasks x JOIN campaigns k ON k.id = x.campaign_id AND k.round = 3
     WHERE x.code = p_code;
    SELECT id INTO unit FROM users WHERE org_id = t.owner_org_id ORDER BY id LIMIT 1;
    INSERT INTO acceptance_requests (task_id, round, self_assessment, measure_results, target_met,
                                     acceptance_org_ids, status, requested_by, requested_org_id,
                                     decided_by, decision_comment, decided_at, created_at)
    VALUES (t.id, p_round,
            '对照整改目标和' || cardinality(t.measures) || '项措施逐项自查：' || coalesce(t.target, '整改目标已完成') || '。',
            (SELECT coalesce(array_agg('已落实：' || m ORDER BY i), '{}') FROM unnest(t.measures) WITH ORDINALITY AS x(m, i)),
            '整改目标已达到', t.acceptance_org_ids, p_status,
            coalesce(unit, (SELECT id FROM users WHERE username = 'office')), t.owner_org_id,
            CASE WHEN p_status IN ('approved', 'returned') THEN (SELECT id FROM users WHERE username = 'leader') END,
            CASE p_status WHEN 'approved' THEN '同意销号' WHEN 'returned' THEN '佐证材料不完整，退回补充' END,
            CASE WHEN p_status IN ('approved', 'returned', 'rejected') THEN p_at + interval '20 days' END,
            p_at)
    RETURNING id INTO q;
    IF p_status = 'awaiting_check' THEN
        RETURN q;
    END IF;
    INSERT INTO acceptance_checks (request_id, task_id, check_date, joint, team, findings, recorded_by, org_id, created_at)
    VALUES (q, t.id, (p_at + interval '5 days')::date, cardinality(t.acceptance_org_ids) > 1,
            ARRAY['省整改办 张某某', '验收单位 王某某'],
            CASE WHEN p_disagree > 0 THEN '现场核查：部分点位植被恢复未达标，渣堆尚未完全清运。'
                 ELSE '现场核查：整改措施已落实，现场情况与自评报告一致。' END,
            (SELECT id FROM users WHERE username = 'office'), (SELECT id FROM orgs WHERE code = 'GS-OFFICE'),
            p_at + interval '5 days')
    RETURNING id INTO c;
    FOREACH o IN ARRAY t.acceptance_org_ids LOOP
        n := n + 1;
        EXIT WHEN n > p_agree + p_disagree;
        INSERT INTO acceptance_opinions (request_id, task_id, org_id, decision, reasons, user_id, created_at)
        VALUES (q, t.id, o, CASE WHEN n <= p_agree THEN 'agree' ELSE 'disagree' END,
                CASE WHEN n <= p_agree THEN '经现场核查，整改措施落实到位，同意验收销号。'
                     ELSE '植被恢复和渣堆清运未达到整改目标，不同意验收销号。' END,
                CASE WHEN o = (SELECT id FROM orgs WHERE code = 'GS-EE') THEN ee END,
                p_at + interval '10 days' + n * interval '1 day');
    END LOOP;
    RETURN q;
END
$$;

-- The history rows of a round after request_acceptance (which demo_ledger has).
CREATE FUNCTION pg_temp.demo_moves(p_code text, p_moves text[], p_at timestamptz) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO task_transitions (task_id, action, from_status, to_status, reason, comment, user_id, org_id, at)
    SELECT t.id, m.a, m.f, m.t, m.r, m.c,
           (SELECT id FROM users WHERE username = m.u), (SELECT org_id FROM users WHERE username = m.u),
           p_at + (n * interval '5 days')
      FROM tasks t JOIN campaigns k ON k.id = t.campaign_id AND k.round = 3,
           unnest(p_moves) WITH ORDINALITY AS x(mv, n),
           LATERAL (SELECT split_part(x.mv, '|', 1) AS a, split_part(x.mv, '|', 2) AS f,
                           split_part(x.mv, '|', 3) AS t, nullif(split_part(x.mv, '|', 4), '') AS r,
                           nullif(split_part(x.mv, '|', 5), '') AS c, nullif(split_part(x.mv, '|', 6), '') AS u) m
     WHERE t.code = p_code
$$;

-- acceptance_requested: waiting for the on-site check.
SELECT pg_temp.demo_round(code, 1, 'awaiting_check', 0, 0, now() - interval '3 days')
  FROM tasks WHERE status = 'acceptance_requested';
UPDATE tasks SET acceptance_stage = 'awaiting_check' WHERE status = 'acceptance_requested';

-- acceptance_review: 5-2 and 17-3 wait for opinions (17-3 gets GS-EE as a
-- second acceptance org, whose acceptor ee_dept can give the missing one);
-- 25-2 has every opinion in and waits for the leading group.
UPDATE tasks SET acceptance_org_ids = acceptance_org_ids || (SELECT id FROM orgs WHERE code = 'GS-EE')
 WHERE code = '17-3' AND NOT acceptance_org_ids @> ARRAY[(SELECT id FROM orgs WHERE code = 'GS-EE')];
SELECT pg_temp.demo_round('5-2', 1, 'awaiting_opinions', 0, 0, now() - interval '30 days');
SELECT pg_temp.demo_round('17-3', 1, 'awaiting_opinions', 1, 0, now() - interval '30 days');
SELECT pg_temp.demo_round('25-2', 1, 'awaiting_approval', 1, 0, now() - interval '30 days');
SELECT pg_temp.demo_moves(code, ARRAY['record_check|acceptance_requested|acceptance_review|||office'],
                          now() - interval '30 days')
  FROM tasks WHERE code IN ('5-2', '17-3', '25-2');
UPDATE tasks SET acceptance_stage = CASE code WHEN '25-2' THEN 'awaiting_approval' ELSE 'awaiting_opinions' END
 WHERE code IN ('5-2', '17-3', '25-2') AND status = 'acceptance_review';

-- approved: 11-4 was rejected once (its acceptance org disagreed), then
-- passed a second round; 16-2 and 4-2 passed the first.
SELECT pg_temp.demo_round('11-4', 1, 'rejected', 0, 1, '2026-05-10');
SELECT pg_temp.demo_round('11-4', 2, 'approved', 1, 0, '2026-09-01');
SELECT pg_temp.demo_round(code, 1, 'approved', 9, 0, '2026-09-01') FROM tasks WHERE code IN ('16-2', '4-2');
SELECT pg_temp.demo_moves('11-4', ARRAY[
    'record_check|acceptance_requested|acceptance_review||现场核查|office',
    'reject_acceptance|acceptance_review|in_progress||验收不通过：植被恢复和渣堆清运未达到整改目标|',
    'complete|in_progress|completed||补充整改完成|',
    'request_acceptance|completed|acceptance_requested||round 2|',
    'record_check|acceptance_requested|acceptance_review|||office',
    'approve|acceptance_review|approved||同意销号|leader'], '2026-05-10');
SELECT pg_temp.demo_moves(code, ARRAY['record_check|acceptance_requested|acceptance_review|||office',
                                      'approve|acceptance_review|approved||同意销号|leader'], '2026-09-01')
  FROM tasks WHERE code IN ('16-2', '4-2');

-- announced: 第二批, period running; 2-3 has an objection waiting for the
-- office, 14-3 one dismissed.  closed: 第一批, period over, every task closed.
SELECT pg_temp.demo_round(code, 1, 'approved', 9, 0, '2026-09-15')
  FROM tasks WHERE status IN ('announced', 'closed');
SELECT pg_temp.demo_moves(code, ARRAY['record_check|acceptance_requested|acceptance_review|||office',
                                      'approve|acceptance_review|approved||同意销号|leader',
                                      'announce|approved|announced||拟销号公示|office'], '2026-09-15')
  FROM tasks WHERE status IN ('announced', 'closed');
INSERT INTO announcements (title, body, period_start, period_end, working_days, status, published_by,
                           published_at, finished_at)
VALUES ('甘肃省第三轮中央生态环境保护督察整改任务拟销号公示（第一批）',
        '以下整改任务已完成整改并通过验收，经省整改领导小组同意，现予公示。公示期间如有异议，请通过本平台反映。',
        '2026-10-19', rectify.working_days_end('2026-10-19', 5), 5, 'finished',
        (SELECT id FROM users WHERE username = 'office'), '2026-10-19 09:00+08', '2026-10-26 01:00+08'),
       ('甘肃省第三轮中央生态环境保护督察整改任务拟销号公示（第二批）',
        '以下整改任务已完成整改并通过验收，经省整改领导小组同意，现予公示。公示期间如有异议，请通过本平台反映。',
        current_date - 1, rectify.working_days_end(current_date - 1, 10), 10, 'published',
        (SELECT id FROM users WHERE username = 'office'), now() - interval '1 day', NULL);
INSERT INTO announcement_items (announcement_id, task_id, position, task_code, task_title, lead_org_name,
                                summary, status, closed_at)
SELECT a.id, t.id, row_number() OVER (PARTITION BY a.id ORDER BY t.id), t.code, t.title, o.name,
       '已完成整改：' || coalesce(t.target, t.title) || '。',
       CASE t.status WHEN 'closed' THEN 'closed' ELSE 'announced' END,
       CASE t.status WHEN 'closed' THEN '2026-10-26 01:00+08'::timestamptz END
  FROM tasks t JOIN orgs o ON o.id = t.owner_org_id
  JOIN announcements a ON a.title LIKE CASE t.status WHEN 'closed' THEN '%第一批%' ELSE '%第二批%' END
 WHERE t.status IN ('announced', 'closed');
INSERT INTO objections (ref, announcement_id, task_id, text, client_addr, status, decision_reasons, decided_by,
                        decided_at)
SELECT gen_random_uuid(), i.announcement_id, i.task_id, v.txt, '203.0.113.7', v.st, v.why,
       CASE WHEN v.st <> 'received' THEN (SELECT id FROM users WHERE username = 'office') END,
       CASE WHEN v.st <> 'received' THEN now() END
  FROM announcement_items i
  JOIN (VALUES ('2-3', '该处尾矿库仍有渗漏，整改不彻底。', 'received', NULL),
               ('14-3', '现场仍能看到渣堆。', 'dismissed', '经现场复核，所述渣堆为已批复的临时堆场，异议不成立。'))
       AS v(code, txt, st, why) ON v.code = i.task_code
 WHERE i.status = 'announced';
UPDATE tasks SET closed_at = '2026-10-26 01:00+08' WHERE status = 'closed';
SELECT pg_temp.demo_moves(code, ARRAY['close|announced|closed||公示期满无异议，销号|'], '2026-10-11')
  FROM tasks WHERE status = 'closed';

-- Spot check of closed tasks (seed recorded): 10-4 consolidated, 5-1
-- rebounded (re-opened), 9-2 still to check.
INSERT INTO spot_checks (title, method, seed, candidates, created_by, org_id)
VALUES ('2026年第四季度已销号任务抽查核验', 'manual', 20261120, 3, (SELECT id FROM users WHERE username = 'office'),
        (SELECT id FROM orgs WHERE code = 'GS-OFFICE'));
INSERT INTO spot_check_items (spot_check_id, task_id, result, findings, checked_by, checked_at)
SELECT s.id, t.id, v.res, v.findings, CASE WHEN v.res <> 'pending' THEN (SELECT id FROM users WHERE username = 'inspector') END,
       CASE WHEN v.res <> 'pending' THEN now() - interval '2 days' END
  FROM spot_checks s, tasks t
  JOIN (VALUES ('10-4', 'consolidated', '整改成效巩固，现场未见反弹。'),
               ('5-1', 'rebounded', '复核发现问题反弹：排污口恢复排放。'),
               ('9-2', 'pending', NULL)) AS v(code, res, findings) ON v.code = t.code
 WHERE t.status = 'closed';
UPDATE tasks SET status = 'in_progress', reopened = true, reopen_count = reopen_count + 1
 WHERE code = '5-1' AND status = 'closed';
SELECT pg_temp.demo_moves('5-1', ARRAY['reopen|closed|in_progress|rebound|抽查核验：复核发现问题反弹，重新纳入整改|inspector'],
                          now() - interval '7 days');

COMMIT;
\o
\echo 'demo acceptance: loaded'
\endif
