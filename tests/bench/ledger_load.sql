-- tests/bench/ledger_load.sql — loads a synthetic ledger for tests/bench/ledger.sh:
-- one campaign, :problems problems (default :tasks/50), :tasks tasks over the
-- real orgs, about one progress report per open task.  Run as the owner
-- (superuser):
--     psql -v tasks=100000 [-v problems=20000] -f tests/bench/ledger_load.sql
-- Per-row triggers are off (session_replication_role = replica) so the load
-- takes seconds; the columns they maintain (owner_org_path, search_text,
-- problems.status) are filled here, the audit trail is not written (no
-- audit entries for benchmark rows).  Generated columns (effective_deadline,
-- deadline_key, lead_org_keys, visible_org_keys) compute themselves.
-- Distributions (deterministic: setseed):
--   lead org     70 % counties (weighted toward low ids), 15 % prefectures, 15 % departments
--   co-op orgs   40 % of tasks: one or two provincial departments
--   acceptance   60 % of tasks: one provincial department
--   status       pending 10, in_progress 45, completed 12, acceptance_requested 8,
--                acceptance_review 5, approved 5, announced 5, closed 10 (%)
--   deadline     80 % dated (2024-06-30 .. 2027-12-31; ~5 % extended), 10 % 立行立改, 10 % 长期坚持
--   reports      open tasks: last report 0..60 days ago (so some are silent → red)
--   officials    20 surnames × 25 given names (500 names, ~200 tasks each; one
--                surname ~5 % of tasks)
--   problems     lead org: 20 % departments, 20 % prefectures, 60 % counties;
--                60 % name one or two counties as regions concerned
\set ON_ERROR_STOP 1
\if :{?problems}
\else
SELECT greatest(:tasks / 50, 1) AS problems \gset
\endif
SET session_replication_role = replica;
SELECT setseed(0.42);

CREATE TEMP TABLE b_org AS
SELECT kind, row_number() OVER (PARTITION BY kind ORDER BY id) - 1 AS n, id, path, name, code
  FROM orgs WHERE kind IN ('county', 'prefecture', 'department') AND code <> 'GS-PETITION';
CREATE TEMP TABLE b_count AS SELECT kind, count(*)::int AS c FROM b_org GROUP BY kind;

INSERT INTO campaigns (name, round, province_org_id, team_org_id, stay_start, stay_end,
                       feedback_date, plan_published_date, description)
SELECT '性能基准（生成数据）', 90, p.id, t.id, '2023-11-22', '2023-12-22', '2024-02-28', '2024-06-05',
       'tests/bench/ledger_load.sql 生成的基准数据，非真实台账'
  FROM orgs p, orgs t WHERE p.code = '620000' AND t.code = 'CEEPI-4';

CREATE TEMP TABLE b_topic (n int, title text, target text, m1 text, m2 text, m3 text);
INSERT INTO b_topic SELECT row_number() OVER () - 1, * FROM (VALUES
 ('祁连山自然保护区矿业权退出及生态修复', '保护区内矿业权全部有序退出，矿山迹地完成生态修复', '开展矿业权清理核查', '制定分类退出方案', '实施矿山迹地复绿'),
 ('黄河干流岸线“清四乱”整治', '黄河干流岸线乱占、乱采、乱堆、乱建问题清零', '开展岸线排查建档', '依法拆除违法建筑', '恢复岸线生态功能'),
 ('工业园区污水集中处理设施建设', '园区污水集中处理设施稳定运行、达标排放', '完成管网配套建设', '推进污水处理厂提标改造', '安装在线监测设备'),
 ('尾矿库闭库治理和环境风险管控', '尾矿库环境风险隐患全部整改到位', '开展尾矿库环境风险排查', '实施闭库销库治理', '建立长效监管机制'),
 ('沙化土地综合治理（三北工程）', '完成年度沙化土地治理任务', '实施防沙治沙工程', '开展封沙育林育草', '加强治沙成果管护'),
 ('城市建成区黑臭水体整治', '建成区黑臭水体基本消除，长治久清', '实施控源截污', '开展内源治理', '建立河湖长巡查制度'),
 ('燃煤锅炉淘汰和清洁取暖改造', '淘汰35蒸吨以下燃煤锅炉，完成清洁取暖改造', '摸清燃煤锅炉底数', '实施清洁能源替代', '开展执法检查'),
 ('钢铁焦化行业超低排放改造', '重点企业完成超低排放改造并通过评估监测', '制定改造计划', '实施有组织排放治理', '开展评估监测'),
 ('受污染耕地安全利用', '受污染耕地安全利用率达到国家考核要求', '开展耕地土壤污染详查', '推广安全利用技术', '实施严格管控'),
 ('农村生活污水和垃圾治理', '农村生活污水治理率和垃圾收运处置体系达到目标', '编制县域治理规划', '建设污水处理设施', '完善收运处置体系'),
 ('集中式饮用水水源地规范化建设', '水源地保护区划定、标志设置和违法问题整治到位', '完成保护区划定', '清理保护区内违法建筑', '建设隔离防护设施'),
 ('历史遗留废弃矿山生态修复', '完成历史遗留废弃矿山生态修复治理任务', '开展图斑核查', '实施地形整治和复绿', '开展修复成效评估'),
 ('危险废物规范化环境管理', '危险废物产生、贮存、处置全过程规范化', '开展危险废物专项排查', '整治违规贮存问题', '建设信息化监管平台'),
 ('建筑施工和道路扬尘管控', '城市建成区扬尘污染明显减少', '落实施工工地“六个百分之百”', '加强道路机械化清扫', '开展渣土车专项整治'),
 ('草原超载过牧治理', '重点天然草原实现草畜平衡', '核定草原载畜量', '落实禁牧休牧制度', '开展草原执法检查'),
 ('小水电清理整改', '小水电站生态流量泄放全部达标', '开展小水电站核查评估', '分类实施退出和整改', '安装生态流量监测设施'),
 ('自然保护区违规旅游设施清理', '保护区核心区、缓冲区违规设施全部清理', '开展违规项目排查', '依法拆除违规设施', '实施生态恢复'),
 ('湿地保护与退化湿地修复', '重要湿地面积不减少、功能不退化', '开展湿地资源调查', '实施退化湿地修复', '落实湿地保护责任'),
 ('挥发性有机物综合治理', '重点行业挥发性有机物排放明显下降', '开展泄漏检测与修复', '推进源头替代', '实施末端治理设施升级'),
 ('生活垃圾填埋场渗滤液处理', '渗滤液处理设施稳定达标运行', '开展填埋场环境排查', '建设渗滤液处理设施', '完成封场整治')
) AS v;
CREATE TEMP TABLE b_post (n int, post text);
INSERT INTO b_post SELECT row_number() OVER () - 1, * FROM unnest(ARRAY[
 '市委副书记、市长', '副市长', '县委书记', '县长', '副县长', '区长', '厅长', '副厅长', '局长', '副局长']) AS p;
-- 500 names: surname n % 20, given name n / 20 (so 王建军 is n = 0).
CREATE TEMP TABLE b_name (n int, name text);
INSERT INTO b_name
SELECT s.i - 1 + 20 * (g.i - 1), s.x || g.x
  FROM unnest(ARRAY['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴',
                    '徐', '孙', '马', '朱', '胡', '郭', '何', '高', '林', '罗']) WITH ORDINALITY AS s(x, i),
       unnest(ARRAY['建军', '志强', '海燕', '永红', '国栋', '晓东', '丽娟', '文斌', '明', '海峰',
                    '立新', '宏伟', '俊', '玉兰', '振华', '天明', '卫东', '建平', '静', '永刚',
                    '春生', '秀英', '德才', '桂芳', '学军']) WITH ORDINALITY AS g(x, i);

-- Problems (:problems).
INSERT INTO problems (campaign_id, code, title, category, source, region_org_ids, owner_org_id, owner_org_path,
                      responsible_name, responsible_post, target, deadline, search_text, status)
SELECT c.id, 'B' || g, o.name || tp.title || '问题', (ARRAY['macro_common', 'provincial_sector', 'local_specific'])[1 + g % 3],
       (ARRAY['report', 'report', 'report', 'warning_film', 'clue_transfer'])[1 + g % 5],
       CASE WHEN g % 5 < 2 THEN ARRAY(SELECT r.id FROM b_org r WHERE r.kind = 'county'
                                        AND r.n IN ((g * 7) % cc.c, (g * 7 + g % 2 * 11) % cc.c) ORDER BY r.n)
            WHEN g % 5 = 2 THEN ARRAY(SELECT r.id FROM b_org r WHERE r.kind = 'county' AND r.n = (g * 3) % cc.c)
            ELSE '{}'::bigint[] END,
       o.id, o.path, nm.name, ps.post, tp.target, DATE '2024-12-31' + (g % 4) * 365,
       concat_ws(' ', 'B' || g, o.name || tp.title || '问题', tp.target), 'in_progress'
  FROM generate_series(1, greatest(:problems, 1)) AS g
  JOIN campaigns c ON c.round = 90
  JOIN b_count cc ON cc.kind = 'county'
  JOIN b_org o ON o.kind = CASE WHEN g % 5 = 0 THEN 'department' WHEN g % 5 = 1 THEN 'prefecture' ELSE 'county' END
              AND o.n = g % (SELECT c FROM b_count WHERE kind = o.kind)
  JOIN b_topic tp ON tp.n = g % 20
  JOIN b_name nm ON nm.n = (g * 7) % 500
  JOIN b_post ps ON ps.n = g % 10;

CREATE TEMP TABLE b_problem AS
SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, campaign_id FROM problems
 WHERE campaign_id = (SELECT id FROM campaigns WHERE round = 90);

-- Tasks.
CREATE TEMP TABLE b_task AS
SELECT g, random() AS r_lead, random() AS r_pick, random() AS r_co, random() AS r_acc,
       random() AS r_status, random() AS r_kind, random() AS r_deadline, random() AS r_ext,
       random() AS r_created, random() AS r_report, random() AS r_pct, random() AS r_reopen
  FROM generate_series(1, :tasks) AS g;

INSERT INTO tasks (campaign_id, problem_id, code, title, target, measures, owner_org_id, owner_org_path,
                   co_org_ids, acceptance_org_ids, responsible_name, responsible_post, deadline_kind,
                   deadline, extended_deadline, stage_targets, percent, status, reopened, reopen_count,
                   started_at, completed_at, last_reported_at, search_text, created_at, updated_at)
SELECT p.campaign_id, p.id, x.code, x.title, tp.target, ARRAY[tp.m1, tp.m2, tp.m3], o.id, o.path,
       x.co, x.acc, nm.name, ps.post, x.kind,
       CASE WHEN x.kind = 'date' THEN x.deadline END,
       CASE WHEN x.kind = 'date' AND b.r_ext < 0.05 THEN x.deadline + 180 END,
       '[]'::jsonb, x.pct, x.status, x.reopens > 0, x.reopens,
       CASE WHEN x.status <> 'pending' THEN x.created + interval '20 days' END,
       CASE WHEN x.status NOT IN ('pending', 'in_progress') THEN x.created + interval '300 days' END,
       CASE WHEN x.status = 'in_progress' THEN now() - b.r_report * interval '60 days'
            WHEN x.status <> 'pending' THEN x.created + interval '280 days' END,
       concat_ws(' ', x.code, x.title, tp.target, tp.m1, tp.m2, tp.m3), x.created, x.created
  FROM b_task b
  CROSS JOIN LATERAL (
      SELECT CASE WHEN b.r_lead < 0.70 THEN 'county' WHEN b.r_lead < 0.85 THEN 'prefecture' ELSE 'department' END AS lead_kind
  ) k
  JOIN b_count kc ON kc.kind = k.lead_kind
  JOIN b_org o ON o.kind = k.lead_kind
              -- counties: skewed (squared), so some counties carry many tasks
              AND o.n = floor(CASE WHEN k.lead_kind = 'county' THEN b.r_pick * b.r_pick ELSE b.r_pick END * kc.c)::int
  JOIN b_count dc ON dc.kind = 'department'
  JOIN b_problem p ON p.n = (b.g - 1) % (SELECT count(*) FROM b_problem)
  JOIN b_topic tp ON tp.n = (b.g - 1) % 20
  JOIN b_name nm ON nm.n = (b.g * 13) % 500
  JOIN b_post ps ON ps.n = b.g % 10
  CROSS JOIN LATERAL (
      SELECT 'T' || b.g AS code,
             o.name || tp.title || CASE b.g % 3 WHEN 0 THEN '' WHEN 1 THEN '（第一批）' ELSE '（第二批）' END AS title,
             CASE WHEN b.r_co < 0.25 THEN ARRAY(SELECT d.id FROM b_org d WHERE d.kind = 'department'
                                                   AND d.n = floor(b.r_co * 4 * dc.c)::int AND d.id <> o.id)
                  WHEN b.r_co < 0.40 THEN ARRAY(SELECT d.id FROM b_org d WHERE d.kind = 'department'
                                                   AND d.n IN (floor((b.r_co - 0.25) / 0.15 * dc.c)::int,
                                                               (floor((b.r_co - 0.25) / 0.15 * dc.c)::int + 3) % dc.c)
                                                   AND d.id <> o.id ORDER BY d.n)
                  ELSE '{}'::bigint[] END AS co,
             CASE WHEN b.r_acc < 0.60 THEN ARRAY(SELECT d.id FROM b_org d WHERE d.kind = 'department'
                                                    AND d.n = floor(b.r_acc / 0.6 * dc.c)::int)
                  ELSE '{}'::bigint[] END AS acc,
             CASE WHEN b.r_kind < 0.80 THEN 'date' WHEN b.r_kind < 0.90 THEN 'immediate_then_ongoing' ELSE 'ongoing' END AS kind,
             DATE '2024-06-30' + floor(b.r_deadline * 1280)::int AS deadline,
             CASE WHEN b.r_status < 0.10 THEN 'pending' WHEN b.r_status < 0.55 THEN 'in_progress'
                  WHEN b.r_status < 0.67 THEN 'completed' WHEN b.r_status < 0.75 THEN 'acceptance_requested'
                  WHEN b.r_status < 0.80 THEN 'acceptance_review' WHEN b.r_status < 0.85 THEN 'approved'
                  WHEN b.r_status < 0.90 THEN 'announced' ELSE 'closed' END AS status,
             TIMESTAMPTZ '2024-06-05 09:00+08' + b.r_created * interval '400 days' AS created,
             CASE WHEN b.r_reopen < 0.03 THEN 1 + (b.g % 2) ELSE 0 END AS reopens,
             0 AS pct
  ) x0
  CROSS JOIN LATERAL (
      SELECT x0.code, x0.title, x0.co, x0.acc, x0.kind, x0.deadline, x0.created,
             CASE WHEN x0.status = 'pending' AND x0.reopens > 0 THEN 'in_progress' ELSE x0.status END AS status,
             x0.reopens,
             CASE WHEN x0.status = 'pending' THEN 0 WHEN x0.status = 'in_progress' THEN floor(5 + b.r_pct * 90)::int
                  ELSE 100 END AS pct
  ) x;

-- About one report per started task (newest = the task's percent).
INSERT INTO task_reports (task_id, period, narrative, percent, measures_done, user_id, org_id, created_at)
SELECT t.id, to_char(t.last_reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'),
       '按照整改方案推进' || t.title || '，已完成阶段性工作，下一步继续加大工作力度。', t.percent,
       CASE WHEN t.percent >= 100 THEN '{1,2,3}'::int[] WHEN t.percent >= 50 THEN '{1,2}'::int[] ELSE '{1}'::int[] END,
       NULL, t.owner_org_id, t.last_reported_at
  FROM tasks t
 WHERE t.campaign_id = (SELECT id FROM campaigns WHERE round = 90) AND t.last_reported_at IS NOT NULL;

UPDATE problems SET status = 'completed' WHERE campaign_id = (SELECT id FROM campaigns WHERE round = 90) AND id % 7 = 0;
RESET session_replication_role;
ANALYZE;
SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM problems) AS problems,
       (SELECT count(*) FROM task_reports) AS reports;
