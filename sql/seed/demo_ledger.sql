-- sql/seed/demo_ledger.sql — the demo ledger loaded by scripts/seed-demo:
-- the third-round central inspection of Gansu (中央第三轮生态环境保护督察 甘肃,
-- stay 2023-11-22..2023-12-22, feedback 2024-02-28, plan published 2024-06-05)
-- with 25 feedback problems and 80 rectification tasks written from the
-- measures of ../shared/reference/gansu-rectification-plan.zh.txt, spread
-- over real prefectures, counties and provincial departments, in every
-- status and every warning level, with progress reports, deadline
-- extensions (approved and pending) and re-opened tasks.
--
-- Run as the owner (psql -v ON_ERROR_STOP=1 -f …), after the demo users of
-- scripts/seed-demo exist (reports, transitions and decisions name them).
-- Idempotent: when the province already has a round-3 campaign nothing is
-- loaded.  Orgs are referenced by code.  Triggers run as usual (audit trail,
-- scope paths, search text, problem status).
--
-- Dates that decide warning levels (deadlines of open tasks, reports, starts)
-- are relative to the day of loading, so the demo shows red, yellow and green
-- tasks whenever it is loaded; past events of finished tasks are fixed dates.
-- All names of responsible officials are fictitious.
\set ON_ERROR_STOP 1
SELECT NOT EXISTS (SELECT 1 FROM campaigns c JOIN orgs o ON o.id = c.province_org_id
                    WHERE o.code = '620000' AND c.round = 3) AS demo_ledger_missing \gset
\if :demo_ledger_missing
BEGIN;

INSERT INTO campaigns (name, round, province_org_id, team_org_id, stay_start, stay_end, feedback_date,
                       plan_published_date, description)
SELECT '中央第三轮生态环境保护督察 甘肃', 3, p.id, t.id, '2023-11-22', '2023-12-22', '2024-02-28', '2024-06-05',
       '中央第四生态环境保护督察组于2023年11月22日至12月22日对甘肃省开展第三轮督察，2024年2月28日反馈督察意见。'
       '省委、省政府制定《甘肃省贯彻落实第三轮中央生态环境保护督察报告整改方案》，明确2026年底前反馈问题全面彻底整改到位。'
  FROM orgs p, orgs t WHERE p.code = '620000' AND t.code = 'CEEPI-4';

-- ---------------------------------------------------------------------------
-- Problems: code, title, category, source, lead org, regions, official, target, deadline.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE demo_problem (code text, title text, category text, source text, lead text,
                                regions text[], resp_name text, resp_post text, target text,
                                deadline date, description text) ON COMMIT DROP;
INSERT INTO demo_problem VALUES
 ('1', '学习贯彻习近平生态文明思想不够深入，一些地方和部门生态环境保护责任落实不到位', 'macro_common', 'report', 'GS-OFFICE', '{}',
  '周志远', '省整改领导小组副组长', '“党政同责、一岗双责”全面落实，“大环保”工作格局基本形成', '2026-12-31',
  '督察指出，部分地方和部门对生态环境保护重视程度不够，“管发展必须管环保、管行业必须管环保”要求落实不到位。'),
 ('2', '祁连山自然保护区生态保护长效机制不健全，部分区域生态修复成效不巩固', 'local_specific', 'report', 'GS-QLNP', '{620700,620600,620900}',
  '马文涛', '祁连山国家公园甘肃省管理局局长', '保护区生态修复成效巩固，监测监管平台全面建成', '2026-06-30',
  '保护区内部分矿山迹地、水电站退出后生态修复质量不高，监测监管平台功能延伸不够。'),
 ('3', '河西地区“四水四定”落实不到位，违规取水、超采地下水问题突出', 'provincial_sector', 'report', 'GS-WR', '{620600,620700,620900}',
  '韩立新', '省水利厅厅长', '地下水超采区水位止跌回升，违法取水行为全部查处', '2026-12-31',
  '石羊河、黑河流域部分灌区超计划取水，机井关停任务未按期完成。'),
 ('4', '河西走廊防沙治沙任务推进滞后，部分治沙工程管护不到位', 'local_specific', 'report', 'GS-FG', '{620600,620900}',
  '刘海鹏', '省林业和草原局局长', '完成规模化防沙治沙试点年度任务，治沙成果得到有效管护', '2026-12-31',
  '民勤绿洲扩容、八步沙生态提质等工程部分标段进度滞后，已建成工程管护责任不落实。'),
 ('5', '黄河流域生态环境警示片披露问题整改不彻底', 'local_specific', 'warning_film', 'GS-EE', '{620100,620400}',
  '杨继东', '省生态环境厅厅长', '警示片披露问题全部整改到位并通过验收', '2025-12-31',
  '2023年黄河流域生态环境警示片披露的兰州、白银段工业固废倾倒、岸线侵占问题整改不彻底。'),
 ('6', '沿黄工业园区水污染整治不到位，污水管网不完善', 'provincial_sector', 'report', 'GS-EE', '{620100,620400,622900}',
  '杨继东', '省生态环境厅厅长', '省级及以上工业集聚区污水全收集、全处理、稳定达标', '2026-06-30',
  '部分沿黄工业园区污水管网雨污混接，集中处理设施超负荷运行。'),
 ('7', '马莲河、葫芦河、祖厉河等支流水质改善不稳定，个别断面劣Ⅴ类', 'local_specific', 'report', '621000', '{621000,620800,621100,620400}',
  '何建国', '庆阳市副市长', '支流考核断面基本消除劣Ⅴ类', '2026-12-31',
  '马莲河流域油田采出水处理不规范，祖厉河部分断面氯化物、总磷超标。'),
 ('8', '历史遗留矿山生态修复推进缓慢', 'provincial_sector', 'report', 'GS-NR', '{620300,620900,621200}',
  '孙建平', '省自然资源厅厅长', '完成历史遗留矿山图斑生态修复任务', '2026-12-31',
  '部分历史遗留矿山修复方案未落地，修复资金不到位。'),
 ('9', '“两江一水”流域尾矿库环境风险隐患突出', 'local_specific', 'report', '621200', '{621200,620500}',
  '王红军', '陇南市市长', '尾矿库环境风险隐患全部整改，闭库销库任务按期完成', '2026-06-30',
  '白龙江、西汉水、嘉陵江流域部分尾矿库防渗、排洪设施不完善，渗滤液收集处理不到位。'),
 ('10', '兰州市细颗粒物浓度改善不稳定，冬季重污染天气时有发生', 'local_specific', 'report', '620100', '{620100}',
  '张立华', '兰州市市长', '细颗粒物浓度控制在国家下达目标以内，重污染天数明显减少', '2025-12-31',
  '兰州市冬季散煤治理不彻底，工业企业无组织排放管控不严。'),
 ('11', '钢铁、水泥、焦化行业超低排放改造进度滞后', 'provincial_sector', 'report', 'GS-MIIT', '{620200,620400,620500}',
  '陈振宇', '省工业和信息化厅厅长', '重点行业企业全部完成超低排放改造并通过评估监测', '2025-12-31',
  '部分钢铁企业有组织排放改造未完成评估监测，焦化企业无组织排放问题突出。'),
 ('12', '燃煤锅炉淘汰和清洁取暖改造任务未按期完成', 'provincial_sector', 'report', 'GS-HURD', '{620800,621000,621100}',
  '赵永明', '省住房和城乡建设厅厅长', '淘汰建成区35蒸吨以下燃煤锅炉，完成清洁取暖改造任务', '2025-10-31',
  '陇东地区部分县城燃煤锅炉淘汰不到位，清洁取暖改造后“返煤”现象时有发生。'),
 ('13', '城市黑臭水体整治成效不巩固', 'local_specific', 'report', 'GS-HURD', '{620500,620800}',
  '赵永明', '省住房和城乡建设厅厅长', '地级城市建成区黑臭水体长治久清', '2025-12-31',
  '天水市、平凉市部分已整治水体返黑返臭，雨季溢流直排问题突出。'),
 ('14', '城镇污水处理设施超负荷运行，管网溢流直排', 'provincial_sector', 'report', 'GS-HURD', '{620100,620800}',
  '赵永明', '省住房和城乡建设厅厅长', '城镇污水集中收集率和处理设施负荷率达到规划要求', '2026-06-30',
  '部分县城污水处理厂长期超负荷运行，雨污分流改造滞后。'),
 ('15', '危险废物和医疗废物收集处理能力不足', 'provincial_sector', 'report', 'GS-EE', '{}',
  '杨继东', '省生态环境厅厅长', '危险废物利用处置能力与产生量匹配，规范化管理达标', '2026-12-31',
  '部分市州医疗废物处置设施超负荷，危险废物长期超期贮存。'),
 ('16', '受污染耕地安全利用和地下水污染防治推进不力', 'provincial_sector', 'report', 'GS-AGRI', '{620400,620300}',
  '郭晓军', '省农业农村厅厅长', '受污染耕地安全利用率达到考核要求，完成地下水污染防治重点区划定', '2026-12-31',
  '白银、金昌部分受污染耕地安全利用措施不落实，化工园区地下水监测不规范。'),
 ('17', '农村环境整治和废旧农膜回收利用不到位', 'provincial_sector', 'report', 'GS-AGRI', '{621100,622900}',
  '郭晓军', '省农业农村厅厅长', '农村生活污水治理率达到目标，废旧农膜回收率稳定在85%以上', '2026-12-31',
  '定西、临夏部分乡镇农村生活污水处理设施建而未用，废旧农膜回收网点覆盖不全。'),
 ('18', '“两高一低”项目盲目上马，部分项目未批先建', 'macro_common', 'report', 'GS-DRC', '{}',
  '李振华', '省发展和改革委员会主任', '坚决遏制“两高一低”项目盲目发展，违规项目全部整改', '2025-06-30',
  '个别地方未落实能耗双控和环评要求，违规审批、未批先建问题时有发生。'),
 ('19', '县（市、区）工业集中区环境基础设施建设滞后', 'local_specific', 'report', '620600', '{620600,620700}',
  '田永刚', '武威市副市长', '工业集中区污水、固废处理设施配套完善', '2026-06-30',
  '凉州区、古浪县工业集中区污水处理设施未建成，企业自建设施运行不正常。'),
 ('20', '甘南草原超载过牧问题仍然存在，湿地保护不力', 'local_specific', 'report', '623000', '{623000}',
  '扎西才让', '甘南州副州长', '重点天然草原实现草畜平衡，重要湿地面积不减少', '2026-12-31',
  '玛曲、碌曲部分草场超载，尕海湿地周边违规建设旅游设施。'),
 ('21', '小水电清理整改不彻底，生态流量泄放不达标', 'provincial_sector', 'report', 'GS-WR', '{621200,623000}',
  '韩立新', '省水利厅厅长', '保留类小水电站生态流量全部达标泄放', '2025-12-31',
  '白龙江、洮河流域部分小水电站生态流量监测设施未安装或不正常运行。'),
 ('22', '临夏州生活垃圾填埋场渗滤液处理不规范', 'local_specific', 'report', '622900', '{622900}',
  '马晓明', '临夏州副州长', '填埋场渗滤液全部规范处理，封场整治完成', '2025-09-30',
  '部分县城生活垃圾填埋场渗滤液调节池满溢，防渗系统破损。'),
 ('23', '群众反映强烈的生态环境问题解决不彻底，重复举报较多', 'macro_common', 'report', 'GS-OFFICE', '{}',
  '周志远', '省整改领导小组副组长', '交办群众举报件全部办结销号，重复举报明显减少', '2025-12-31',
  '部分举报件办理“一查了之”，噪声、油烟、异味等问题反复投诉。'),
 ('24', '生态环境损害赔偿线索筛查不到位', 'macro_common', 'clue_transfer', 'GS-JUS', '{}',
  '冯立军', '省司法厅厅长', '督察反馈问题涉及生态环境损害的线索应提尽提、应赔尽赔', '2025-12-31',
  '督察组移交的生态环境损害问题线索筛查不全面，赔偿磋商进展缓慢。'),
 ('25', '白银市重金属污染防控和工业固废堆存问题突出', 'local_specific', 'clue_transfer', '620400', '{620400}',
  '高文斌', '白银市市长', '重金属污染历史遗留问题治理到位，工业固废规范处置', '2026-12-31',
  '白银区、平川区部分冶炼渣、尾矿渣露天堆存，周边土壤重金属超标。');

INSERT INTO problems (campaign_id, code, title, description, category, source, region_org_ids, owner_org_id,
                      responsible_name, responsible_post, target, deadline)
SELECT c.id, d.code, d.title, d.description, d.category, d.source,
       ARRAY(SELECT o.id FROM unnest(d.regions) WITH ORDINALITY AS r(code, n) JOIN orgs o ON o.code = r.code ORDER BY r.n),
       l.id, d.resp_name, d.resp_post, d.target, d.deadline
  FROM demo_problem d
  JOIN orgs l ON l.code = d.lead
  CROSS JOIN (SELECT c.id FROM campaigns c JOIN orgs o ON o.id = c.province_org_id
               WHERE o.code = '620000' AND c.round = 3) c
 ORDER BY d.code::int;

-- ---------------------------------------------------------------------------
-- Tasks.  due: deadline in days from today (NULL unless kind is date);
-- started: days since the work started (NULL = pending); reported: days since
-- the last progress report (NULL = none); ext: an approved extension by that
-- many days (from a deadline that had passed), ext_req: a pending request;
-- reopen: the reason of a re-opening (the task is back in progress).
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE demo_task (p text, code text, title text, target text, measures text[], lead text,
                             co text[], acc text[], resp_name text, resp_post text, kind text, due int,
                             status text, pct int, started int, reported int, reopen text, ext int,
                             ext_req int) ON COMMIT DROP;
INSERT INTO demo_task VALUES
 -- 1 责任落实
 ('1', '1-1', '将习近平生态文明思想纳入各级党校（行政学院）培训重要内容', '各级党校主体班次生态文明专题课程全覆盖',
  '{制定年度培训计划,开设生态文明建设专题课程,开展培训效果评估}', 'GS-PROP', '{GS-EE}', '{GS-OFFICE}', '孙晓梅', '省委宣传部副部长',
  'ongoing', NULL, 'in_progress', 60, 420, 12, NULL, NULL, NULL),
 ('1', '1-2', '省委常委会会议、省政府常务会议定期研究生态环境保护工作', '每季度至少专题研究一次生态环境保护工作',
  '{建立定期研究制度,形成会议纪要并跟踪督办}', 'GS-OFFICE', '{}', '{}', '周志远', '省整改领导小组副组长',
  'immediate_then_ongoing', NULL, 'completed', 100, 500, 20, NULL, NULL, NULL),
 ('1', '1-3', '制定生态环境保护“党政同责、一岗双责”责任清单', '省市县三级责任清单全部印发',
  '{起草省级部门生态环境保护责任清单,指导市县制定责任清单,开展落实情况督查}', 'GS-OFFICE', '{GS-EE}', '{GS-LG}', '周志远', '省整改领导小组副组长',
  'date', -250, 'closed', 100, 520, 300, NULL, NULL, NULL),
 ('1', '1-4', '兰州市压实区县生态环境保护主体责任', '区县党政主要负责同志履行生态环境保护第一责任人职责',
  '{召开全市督察整改推进会,建立区县整改工作台账,纳入年度考核}', '620100', '{}', '{GS-OFFICE}', '张立华', '兰州市市长',
  'date', 45, 'in_progress', 86, 380, 9, NULL, NULL, NULL),
 -- 2 祁连山
 ('2', '2-1', '完善祁连山国家公园监测监管平台并延伸至各管护站', '天空地一体化监测网络覆盖保护区全域',
  '{完成监测传输和实时通信设施建设,接入各管护站视频监控,开展平台联调运行}', 'GS-QLNP', '{GS-NR,GS-FG}', '{GS-FG}', '马文涛', '祁连山国家公园甘肃省管理局局长',
  'date', 120, 'in_progress', 73, 400, 8, NULL, NULL, NULL),
 ('2', '2-2', '肃南县保护区内退出矿山迹地生态修复质量提升', '退出矿山迹地植被恢复达到验收标准',
  '{开展矿山迹地现状核查,实施补植补种和地形整治,开展修复成效评估}', '620721', '{GS-NR}', '{GS-NR,GS-FG}', '安国栋', '肃南县县长',
  'date', -40, 'in_progress', 65, 450, 20, NULL, NULL, NULL),
 ('2', '2-3', '天祝县保护区内小水电站退出后河道生态修复', '退出电站拆除和河道生态修复全部完成',
  '{拆除拦河坝等设施,恢复河道自然形态,开展生态流量监测}', '620623', '{GS-WR}', '{GS-WR,GS-FG}', '李德胜', '天祝县县长',
  'date', -300, 'announced', 100, 600, 330, NULL, NULL, NULL),
 ('2', '2-4', '张掖市加强祁连山雪山冰川冻土和水源涵养区保护', '水源涵养区生态系统功能稳定提升',
  '{划定重点保护区域,开展退化草原修复,落实管护责任}', '620700', '{GS-FG}', '{GS-QLNP}', '王国华', '张掖市副市长',
  'ongoing', NULL, 'in_progress', 40, 410, 50, NULL, NULL, NULL),
 -- 3 四水四定
 ('3', '3-1', '民勤县关停超采区违规机井并落实地下水取水总量控制', '地下水超采区违规机井全部关停，取水总量不超控制指标',
  '{开展机井排查建档,分批关停违规机井,安装取水计量设施}', '620621', '{GS-WR}', '{GS-WR}', '刘志刚', '民勤县县长',
  'date', 10, 'in_progress', 80, 360, 6, NULL, NULL, NULL),
 ('3', '3-2', '凉州区开展违法取水专项执法行动', '违法取水行为全部依法查处',
  '{制定专项执法方案,开展联合执法检查,公开曝光典型案件}', '620602', '{GS-WR,GS-PSD}', '{GS-WR}', '赵建军', '凉州区区长',
  'date', 200, 'in_progress', 56, 300, 5, NULL, NULL, NULL),
 ('3', '3-3', '严格落实“四水四定”开展水资源消耗总量和强度双控', '河西地区用水总量和强度控制在下达指标内',
  '{分解下达双控指标,建立监测预警机制,开展年度考核}', 'GS-WR', '{GS-DRC}', '{GS-OFFICE}', '韩立新', '省水利厅厅长',
  'date', 400, 'pending', 0, NULL, NULL, NULL, NULL, NULL),
 ('3', '3-4', '甘州区黑河流域灌区超计划取水整改', '灌区取水严格控制在许可水量以内',
  '{核定灌区许可水量,推广高效节水灌溉,实施超计划累进加价}', '620702', '{GS-WR}', '{GS-WR}', '孙海军', '甘州区区长',
  'date', 90, 'in_progress', 20, 330, 3, NULL, NULL, NULL),
 -- 4 防沙治沙
 ('4', '4-1', '推进民勤绿洲扩容生态工程建设', '完成年度压沙造林和封沙育林任务',
  '{实施草方格压沙,营造防风固沙林,落实工程管护}', '620621', '{GS-FG,GS-FIN}', '{GS-FG}', '刘志刚', '民勤县县长',
  'date', 75, 'in_progress', 80, 380, 40, NULL, NULL, NULL),
 ('4', '4-2', '古浪县八步沙生态提质工程', '八步沙治沙区林草植被盖度提升',
  '{补植灌木林,完善管护设施,建立林长制巡护体系}', '620622', '{GS-FG}', '{GS-FG}', '马建平', '古浪县县长',
  'date', -120, 'approved', 100, 540, 150, NULL, NULL, NULL),
 ('4', '4-3', '敦煌市实施敦煌遗迹保护防沙治沙工程', '遗迹周边流动沙丘得到有效固定',
  '{编制防沙治沙实施方案,营造防护林带,开展沙害监测}', '620982', '{GS-FG,GS-CT}', '{GS-FG}', '王晓东', '敦煌市市长',
  'date', 160, 'in_progress', 60, 280, 14, NULL, NULL, NULL),
 ('4', '4-4', '高质量推进“三北”工程河西走廊—塔克拉玛干沙漠边缘阻击战', '完成“三北”工程年度建设任务',
  '{分解下达年度任务,实施石羊河、黑河、疏勒河林草综合治理项目,开展成效监测}', 'GS-FG', '{GS-FIN,GS-NR}', '{GS-OFFICE}', '刘海鹏', '省林业和草原局局长',
  'date', 220, 'in_progress', 62, 420, 18, NULL, NULL, NULL),
 -- 5 黄河警示片
 ('5', '5-1', '西固区黄河岸线工业固废倾倒点清理整治', '岸线倾倒固废全部清运并规范处置',
  '{开展岸线排查,清运倾倒固废,恢复岸线植被}', '620104', '{GS-EE,GS-WR}', '{GS-EE}', '陈晓峰', '西固区区长',
  'date', -200, 'closed', 100, 560, 260, NULL, NULL, NULL),
 ('5', '5-2', '白银区黄河岸线违法侵占问题整治', '侵占岸线违法建筑全部拆除',
  '{依法拆除违法建筑,开展岸线生态修复,建立岸线巡查制度}', '620402', '{GS-WR}', '{GS-WR}', '张国庆', '白银区区长',
  'date', -60, 'acceptance_review', 100, 500, 70, NULL, NULL, NULL),
 ('5', '5-3', '七里河区黄河“清四乱”问题整改', '黄河干流岸线“四乱”问题清零',
  '{开展“四乱”排查建档,分类整治,建立长效机制}', '620103', '{GS-WR}', '{GS-WR}', '李卫东', '七里河区区长',
  'date', -10, 'in_progress', 90, 480, 4, 'rebound', NULL, NULL),
 -- 6 沿黄工业园区
 ('6', '6-1', '兰州新区化工园区污水管网排查整治', '园区污水管网雨污分流，实现全收集',
  '{开展管网排查检测,实施雨污分流改造,安装在线监测设备}', '620100', '{GS-EE,GS-MIIT}', '{GS-EE}', '张立华', '兰州市市长',
  'date', 140, 'in_progress', 68, 350, 11, NULL, NULL, NULL),
 ('6', '6-2', '白银高新区污水集中处理厂提标改造', '出水稳定达到一级A标准',
  '{完成提标改造工程设计,实施改造工程,开展试运行监测}', '620400', '{GS-EE}', '{GS-EE}', '高文斌', '白银市市长',
  'date', 12, 'in_progress', 85, 400, 8, NULL, NULL, NULL),
 ('6', '6-3', '临夏经济开发区企业污水预处理设施整改', '涉水企业预处理设施稳定运行、达标纳管',
  '{开展企业排查,督促企业整改,开展执法监测}', '622900', '{GS-EE}', '{GS-EE}', '马晓明', '临夏州副州长',
  'date', -30, 'completed', 100, 380, 25, NULL, NULL, NULL),
 ('6', '6-4', '建立沿黄工业园区水污染整治调度机制', '园区整治情况按月调度、按季通报',
  '{建立整治台账,按月调度进展,通报滞后园区}', 'GS-EE', '{GS-MIIT}', '{GS-OFFICE}', '杨继东', '省生态环境厅厅长',
  'immediate_then_ongoing', NULL, 'in_progress', 75, 450, 7, NULL, NULL, NULL),
 -- 7 支流
 ('7', '7-1', '环县马莲河流域油田采出水规范处理', '采出水全部回注或达标处理，无外排',
  '{排查采出水处理设施,督促油田企业整改,开展断面加密监测}', '621022', '{GS-EE,GS-ENERGY}', '{GS-EE}', '冯志强', '环县县长',
  'date', 30, 'in_progress', 89, 390, 45, NULL, NULL, NULL),
 ('7', '7-2', '会宁县祖厉河流域综合治理', '祖厉河出境断面水质稳定达标',
  '{实施支沟截污工程,推进农业面源污染治理,开展河道清淤}', '620422', '{GS-EE,GS-WR}', '{GS-EE}', '马国强', '会宁县县长',
  'date', 260, 'pending', 0, NULL, NULL, NULL, NULL, NULL),
 ('7', '7-3', '静宁县葫芦河流域污水处理设施建设', '城镇生活污水全部收集处理',
  '{建设污水处理厂二期,完善配套管网,开展试运行}', '620826', '{GS-HURD}', '{GS-EE,GS-HURD}', '柳建军', '静宁县县长',
  'date', 180, 'in_progress', 60, 320, 10, NULL, NULL, NULL),
 ('7', '7-4', '西峰区马莲河支流排污口排查整治', '入河排污口全部完成分类整治',
  '{开展排污口溯源,分类实施整治,建立排污口监管台账}', '621002', '{GS-EE}', '{GS-EE}', '周海涛', '西峰区区长',
  'date', -80, 'acceptance_requested', 100, 420, 95, NULL, NULL, NULL),
 -- 8 历史遗留矿山
 ('8', '8-1', '金川区历史遗留矿山图斑生态修复', '完成历史遗留矿山图斑修复任务',
  '{开展图斑核查,实施地形整治和复绿,开展修复成效评估}', '620302', '{GS-NR}', '{GS-NR}', '杨光明', '金川区区长',
  'date', 40, 'in_progress', 87, 400, 15, NULL, NULL, NULL),
 ('8', '8-2', '玉门市废弃矿山综合治理', '废弃矿山地质环境问题全部治理',
  '{消除地质灾害隐患,实施植被恢复,落实后期管护}', '620981', '{GS-NR}', '{GS-NR}', '何志明', '玉门市市长',
  'date', -90, 'in_progress', 70, 470, 60, NULL, 150, NULL),
 ('8', '8-3', '编制全省历史遗留矿山生态修复实施方案并落实资金', '修复方案全部批复，资金足额到位',
  '{编制实施方案,争取中央和省级资金,建立社会资本参与机制}', 'GS-NR', '{GS-FIN}', '{GS-OFFICE}', '孙建平', '省自然资源厅厅长',
  'date', -180, 'closed', 100, 560, 240, NULL, NULL, NULL),
 ('8', '8-4', '武都区废弃采石场生态修复', '采石场边坡治理和复绿完成',
  '{实施边坡削坡治理,覆土复绿,开展成效评估}', '621202', '{GS-NR}', '{GS-NR}', '赵德明', '武都区区长',
  'date', 100, 'in_progress', 63, 200, 13, NULL, NULL, NULL),
 -- 9 尾矿库
 ('9', '9-1', '西和县尾矿库闭库治理', '完成3座尾矿库闭库治理',
  '{编制闭库设计,实施排洪防渗改造,开展闭库验收}', '621225', '{GS-EM,GS-EE}', '{GS-EE,GS-EM}', '王志军', '西和县县长',
  'date', 8, 'in_progress', 70, 420, 9, NULL, NULL, NULL),
 ('9', '9-2', '徽县尾矿库渗滤液收集处理设施建设', '渗滤液全部收集处理，无外排',
  '{建设渗滤液收集池,配套处理设施,开展下游水质监测}', '621227', '{GS-EE}', '{GS-EE}', '孙立平', '徽县县长',
  'date', -150, 'closed', 100, 520, 200, NULL, NULL, NULL),
 ('9', '9-3', '文县白龙江流域尾矿库环境风险排查整治', '尾矿库环境风险隐患全部整改',
  '{开展环境风险排查,建立一库一策整治方案,开展应急演练}', '621222', '{GS-EE,GS-EM}', '{GS-EE}', '李建华', '文县县长',
  'date', 60, 'in_progress', 82, 350, 12, NULL, NULL, NULL),
 ('9', '9-4', '成县尾矿库销库和生态恢复', '完成销库并恢复植被',
  '{清理库内尾砂,拆除构筑物,实施生态恢复}', '621221', '{GS-EE}', '{GS-EE,GS-EM}', '张红兵', '成县县长',
  'date', 210, 'pending', 0, NULL, NULL, NULL, NULL, NULL),
 ('9', '9-5', '麦积区尾矿库在线监测系统建设', '尾矿库在线监测全覆盖',
  '{安装位移、浸润线监测设备,接入省级监管平台}', '620503', '{GS-EM}', '{GS-EM}', '赵海涛', '麦积区区长',
  'date', -20, 'completed', 100, 300, 30, NULL, NULL, NULL),
 -- 10 兰州大气
 ('10', '10-1', '城关区地级城市建成区散煤治理', '建成区散煤基本清零',
  '{开展散煤用户排查,实施清洁能源替代,加强散煤流通监管}', '620102', '{GS-ENERGY}', '{GS-EE}', '王海林', '城关区区长',
  'date', 14, 'in_progress', 90, 330, 5, NULL, NULL, NULL),
 ('10', '10-2', '城关区建筑工地落实“六个百分之百”抑尘措施', '建筑工地扬尘管控全部达标',
  '{建立工地扬尘管控台账,安装视频和颗粒物在线监测,开展联合执法检查}', '620102', '{GS-HURD}', '{GS-HURD}', '王海林', '城关区区长',
  'immediate_then_ongoing', NULL, 'in_progress', 60, 400, 38, NULL, NULL, NULL),
 ('10', '10-3', '城关区餐饮油烟专项整治', '建成区餐饮单位油烟净化设施安装率100%',
  '{开展餐饮单位排查,督促安装油烟净化设施,开展执法检查}', '620102', '{}', '{GS-EE}', '王海林', '城关区区长',
  'date', -100, 'in_progress', 80, 350, 6, 'spot_check_failed', NULL, NULL),
 ('10', '10-4', '兰州市修订重污染天气应急预案并开展重点企业绩效分级', '预案修订印发，重点企业绩效分级全覆盖',
  '{修订应急预案,更新应急减排清单,开展绩效分级}', '620100', '{GS-EE}', '{GS-EE}', '张立华', '兰州市市长',
  'date', -210, 'closed', 100, 540, 280, NULL, NULL, NULL),
 ('10', '10-5', '西固区石化企业挥发性有机物综合治理', '石化企业VOCs排放明显下降',
  '{开展泄漏检测与修复,实施储罐和装卸废气治理,安装在线监测}', '620104', '{GS-EE}', '{GS-EE}', '陈晓峰', '西固区区长',
  'date', 150, 'in_progress', 25, 340, 4, NULL, NULL, NULL),
 ('10', '10-6', '安宁区柴油货车和黑烟车专项治理', '黑烟车依法查处，老旧柴油车淘汰任务完成',
  '{开展路检路查,建立黑烟车抓拍系统,推进老旧车辆淘汰}', '620105', '{GS-PSD,GS-TRANS}', '{GS-EE}', '刘建新', '安宁区区长',
  'date', -5, 'in_progress', 85, 310, 10, NULL, NULL, NULL),
 -- 11 超低排放
 ('11', '11-1', '嘉峪关市钢铁企业超低排放改造评估监测', '钢铁企业全流程超低排放改造通过评估监测',
  '{实施有组织排放治理,开展无组织排放管控,完成评估监测公示}', '620200', '{GS-MIIT,GS-EE}', '{GS-EE,GS-MIIT}', '孟庆伟', '嘉峪关市副市长',
  'date', -45, 'acceptance_requested', 100, 500, 50, NULL, NULL, NULL),
 ('11', '11-2', '平川区焦化企业无组织排放整治', '焦化企业无组织排放达到超低排放要求',
  '{实施装煤推焦废气收集,封闭物料堆场,安装监测监控设施}', '620403', '{GS-EE}', '{GS-EE}', '李国栋', '平川区区长',
  'date', 80, 'in_progress', 30, 360, 8, NULL, NULL, NULL),
 ('11', '11-3', '水泥行业超低排放改造', '全省水泥熟料企业完成超低排放改造',
  '{制定改造计划,实施改造工程,开展评估监测}', 'GS-MIIT', '{GS-EE}', '{GS-EE}', '陈振宇', '省工业和信息化厅厅长',
  'date', 300, 'in_progress', 42, 250, 16, NULL, NULL, NULL),
 ('11', '11-4', '麦积区钢铁企业有组织排放改造', '有组织排放口全部达到超低排放限值',
  '{实施烧结机脱硫脱硝改造,安装在线监测,开展评估监测}', '620503', '{GS-MIIT}', '{GS-EE}', '赵海涛', '麦积区区长',
  'date', -160, 'approved', 100, 480, 190, NULL, NULL, NULL),
 -- 12 清洁取暖
 ('12', '12-1', '崆峒区燃煤锅炉淘汰', '建成区35蒸吨以下燃煤锅炉全部淘汰',
  '{摸清燃煤锅炉底数,实施清洁能源替代,拆除淘汰锅炉}', '620802', '{GS-HURD,GS-EE}', '{GS-EE}', '杨志宏', '崆峒区区长',
  'date', 50, 'in_progress', 86, 420, 8, NULL, 100, NULL),
 ('12', '12-2', '泾川县冬季清洁取暖改造', '完成年度清洁取暖改造任务，无“返煤”',
  '{实施“煤改电”“煤改气”,落实运行补贴,开展“返煤”排查}', '620821', '{GS-HURD,GS-ENERGY}', '{GS-HURD}', '孙继军', '泾川县县长',
  'date', 25, 'in_progress', 20, 360, 6, NULL, NULL, NULL),
 ('12', '12-3', '平凉市清洁取暖改造运行维护和“返煤”问题整治', '已改造用户稳定使用清洁能源',
  '{建立改造用户台账,开展入户回访,落实运维责任}', '620800', '{GS-HURD}', '{GS-HURD}', '刘建平', '平凉市副市长',
  'date', 70, 'in_progress', 78, 300, 17, NULL, NULL, NULL),
 ('12', '12-4', '镇原县燃煤锅炉淘汰和集中供热管网建设', '燃煤锅炉淘汰，集中供热覆盖县城建成区',
  '{建设集中供热管网,淘汰燃煤锅炉,开展执法检查}', '621027', '{GS-HURD}', '{GS-HURD}', '王建新', '镇原县县长',
  'date', -90, 'closed', 100, 500, 120, NULL, NULL, NULL),
 ('12', '12-5', '安定区散煤治理和清洁取暖改造', '建成区散煤清零',
  '{排查散煤用户,实施清洁能源替代,加强散煤市场监管}', '621102', '{GS-ENERGY,GS-SAMR}', '{GS-HURD}', '马志军', '安定区区长',
  'date', 190, 'pending', 0, NULL, NULL, NULL, NULL, NULL),
 -- 13 黑臭水体
 ('13', '13-1', '秦州区藉河支沟黑臭水体整治', '水体长治久清，不返黑返臭',
  '{实施控源截污,开展内源治理,建立河长巡查制度}', '620502', '{GS-HURD,GS-EE}', '{GS-HURD}', '何国平', '秦州区区长',
  'date', -40, 'completed', 100, 380, 45, NULL, NULL, NULL),
 ('13', '13-2', '崆峒区城区黑臭水体返黑返臭问题整治', '已整治水体稳定达标',
  '{排查溢流口,实施截污纳管,开展水质监测}', '620802', '{GS-HURD}', '{GS-HURD,GS-EE}', '杨志宏', '崆峒区区长',
  'date', 55, 'in_progress', 82, 320, 20, NULL, NULL, NULL),
 ('13', '13-3', '天水市建立黑臭水体长效管护机制', '长效管护机制建立并运行',
  '{制定管护办法,落实管护经费,开展群众满意度调查}', '620500', '{GS-HURD}', '{GS-HURD}', '刘国华', '天水市副市长',
  'ongoing', NULL, 'acceptance_requested', 100, 400, 60, NULL, NULL, NULL),
 -- 14 城镇污水
 ('14', '14-1', '七里河区雨污分流改造', '城区雨污分流改造全部完成',
  '{开展管网普查,实施雨污分流改造,消除溢流直排}', '620103', '{GS-HURD}', '{GS-HURD}', '李卫东', '七里河区区长',
  'date', 240, 'in_progress', 51, 290, 13, NULL, NULL, NULL),
 ('14', '14-2', '华亭市污水处理厂扩容改造', '污水处理能力满足城区需要，不超负荷运行',
  '{完成扩容工程设计,实施扩容改造,配套完善管网}', '620881', '{GS-HURD}', '{GS-HURD}', '高志刚', '华亭市市长',
  'date', -60, 'in_progress', 60, 450, 22, NULL, NULL, 120),
 ('14', '14-3', '榆中县城污水处理厂提标改造和再生水利用', '出水达标，再生水利用率达到目标',
  '{实施提标改造,建设再生水利用管网,开展试点示范}', '620123', '{GS-HURD,GS-WR}', '{GS-HURD}', '陈永平', '榆中县县长',
  'date', -110, 'announced', 100, 470, 140, NULL, NULL, NULL),
 -- 15 危险废物
 ('15', '15-1', '推进医疗废物集中处置设施扩能改造', '各市州医疗废物处置能力满足需要',
  '{评估处置能力缺口,实施扩能改造,建立应急处置机制}', 'GS-EE', '{GS-HEALTH}', '{GS-OFFICE}', '杨继东', '省生态环境厅厅长',
  'date', 110, 'in_progress', 74, 390, 15, NULL, NULL, NULL),
 ('15', '15-2', '金昌市危险废物超期贮存问题清理', '超期贮存危险废物全部规范处置',
  '{开展危险废物专项排查,督促企业限期处置,建设信息化监管平台}', '620300', '{GS-EE}', '{GS-EE}', '许建军', '金昌市副市长',
  'date', -130, 'closed', 100, 500, 170, NULL, NULL, NULL),
 ('15', '15-3', '建设全省危险废物全过程信息化监管平台', '危险废物产生、贮存、转移、处置全过程可追溯',
  '{完成平台建设,推动重点企业接入,开展监督检查}', 'GS-EE', '{}', '{GS-OFFICE}', '杨继东', '省生态环境厅厅长',
  'date', 35, 'in_progress', 86, 300, 9, NULL, NULL, NULL),
 -- 16 土壤地下水
 ('16', '16-1', '靖远县受污染耕地安全利用', '受污染耕地安全利用率达到考核要求',
  '{开展耕地土壤污染详查,推广安全利用技术,实施严格管控}', '620421', '{GS-AGRI,GS-EE}', '{GS-AGRI}', '赵建平', '靖远县县长',
  'date', 130, 'in_progress', 71, 380, 25, NULL, NULL, NULL),
 ('16', '16-2', '完成全省地下水污染防治重点区划定', '重点区划定成果印发实施',
  '{开展地下水环境状况调查,划定重点区,制定管控措施}', 'GS-EE', '{GS-NR,GS-WR}', '{GS-OFFICE}', '杨继东', '省生态环境厅厅长',
  'date', -70, 'approved', 100, 460, 100, NULL, NULL, NULL),
 ('16', '16-3', '永昌县化工园区地下水污染风险管控', '园区地下水监测井规范建设，风险可控',
  '{建设地下水监测井,开展风险评估,实施风险管控措施}', '620321', '{GS-EE}', '{GS-EE}', '刘志明', '永昌县县长',
  'date', 85, 'in_progress', 76, 340, 19, NULL, NULL, NULL),
 -- 17 农村环境
 ('17', '17-1', '临洮县农村生活污水处理设施运行整改', '已建设施正常运行，出水达标',
  '{排查设施运行状况,落实运维经费,开展出水监测}', '621124', '{GS-AGRI,GS-EE}', '{GS-AGRI}', '王永胜', '临洮县县长',
  'date', 65, 'in_progress', 78, 290, 41, 'faked', NULL, NULL),
 ('17', '17-2', '东乡族自治县废旧农膜回收利用', '废旧农膜回收率稳定在85%以上',
  '{完善回收网点,推广加厚高强度地膜,开展回收利用补贴}', '622926', '{GS-AGRI}', '{GS-AGRI}', '马福林', '东乡族自治县县长',
  'date', 150, 'pending', 0, NULL, NULL, NULL, NULL, NULL),
 ('17', '17-3', '通渭县农村生活垃圾收运处置体系建设', '行政村生活垃圾收运处置全覆盖',
  '{配置收运设施,建设转运站,落实保洁队伍}', '621121', '{GS-HURD,GS-AGRI}', '{GS-AGRI}', '李志军', '通渭县县长',
  'date', -30, 'acceptance_review', 100, 410, 40, NULL, NULL, NULL),
 -- 18 两高一低
 ('18', '18-1', '开展“两高一低”项目清理整顿', '违规项目全部整改或依法关停',
  '{全面排查在建拟建项目,分类处置违规项目,建立项目准入联审机制}', 'GS-DRC', '{GS-EE,GS-MIIT,GS-ENERGY}', '{GS-OFFICE}', '李振华', '省发展和改革委员会主任',
  'date', -230, 'closed', 100, 560, 300, NULL, NULL, NULL),
 ('18', '18-2', '严格能耗双控和环评审批，杜绝未批先建', '新建项目能评环评全部合规',
  '{完善联审机制,开展专项检查,严肃追责问责}', 'GS-DRC', '{GS-EE}', '{GS-OFFICE}', '李振华', '省发展和改革委员会主任',
  'immediate_then_ongoing', NULL, 'in_progress', 70, 500, 45, NULL, NULL, NULL),
 -- 19 工业集中区
 ('19', '19-1', '凉州区工业集中区污水处理设施建设', '集中区污水处理设施建成运行',
  '{完成项目立项和设计,实施工程建设,开展试运行}', '620602', '{GS-EE}', '{GS-EE}', '赵建军', '凉州区区长',
  'date', 5, 'in_progress', 75, 400, 3, NULL, NULL, NULL),
 ('19', '19-2', '古浪县工业集中区企业自建设施规范运行', '企业污染防治设施正常运行、达标排放',
  '{开展企业排查,督促整改,开展执法监测}', '620622', '{GS-EE}', '{GS-EE}', '马建平', '古浪县县长',
  'date', -25, 'completed', 100, 350, 35, NULL, NULL, NULL),
 ('19', '19-3', '山丹县工业集中区固废处置场建设', '一般工业固废规范处置',
  '{选址和环评,建设处置场,建立管理台账}', '620725', '{GS-EE}', '{GS-EE}', '何永平', '山丹县县长',
  'date', 170, 'in_progress', 10, 330, 8, NULL, NULL, NULL),
 -- 20 甘南草原湿地
 ('20', '20-1', '玛曲县落实草畜平衡和禁牧休牧制度', '重点天然草原实现草畜平衡',
  '{核定草原载畜量,落实禁牧休牧,开展草原执法检查}', '623025', '{GS-FG,GS-AGRI}', '{GS-FG}', '才让东珠', '玛曲县县长',
  'date', 95, 'in_progress', 76, 370, 28, NULL, NULL, NULL),
 ('20', '20-2', '碌曲县尕海湿地周边违规旅游设施清理', '违规设施全部拆除，湿地生态恢复',
  '{排查违规设施,依法拆除,实施湿地生态恢复}', '623026', '{GS-FG,GS-CT}', '{GS-FG}', '多杰', '碌曲县县长',
  'date', -190, 'closed', 100, 500, 230, NULL, NULL, NULL),
 ('20', '20-3', '甘南州退化湿地修复', '完成退化湿地修复任务',
  '{开展湿地资源调查,实施退化湿地修复,落实湿地保护责任}', '623000', '{GS-FG}', '{GS-FG}', '扎西才让', '甘南州副州长',
  'date', 280, 'in_progress', 38, 200, 12, NULL, NULL, NULL),
 -- 21 小水电
 ('21', '21-1', '白龙江流域小水电站生态流量监测设施安装', '保留类电站生态流量监测全覆盖',
  '{核定生态流量,安装监测设施,接入监管平台}', 'GS-WR', '{GS-ENERGY}', '{GS-EE}', '韩立新', '省水利厅厅长',
  'date', -50, 'completed', 100, 420, 55, NULL, NULL, NULL),
 ('21', '21-2', '舟曲县小水电站分类整改', '退出类电站全部退出，整改类电站完成整改',
  '{开展电站评估,分类实施退出和整改,开展生态修复}', '623023', '{GS-WR,GS-ENERGY}', '{GS-WR}', '杨东平', '舟曲县县长',
  'date', 20, 'in_progress', 91, 350, 11, NULL, NULL, NULL),
 ('21', '21-3', '临潭县洮河小水电站生态流量泄放整改', '生态流量泄放全部达标',
  '{改造泄放设施,安装监测设备,落实监管责任}', '623021', '{GS-WR}', '{GS-WR}', '王建军', '临潭县县长',
  'date', 120, 'in_progress', 74, 420, 12, NULL, 200, NULL),
 -- 22 填埋场
 ('22', '22-1', '永靖县生活垃圾填埋场渗滤液处理设施建设', '渗滤液处理设施稳定达标运行',
  '{建设渗滤液处理设施,修复防渗系统,开展地下水监测}', '622923', '{GS-HURD,GS-EE}', '{GS-HURD}', '马海军', '永靖县县长',
  'date', -35, 'in_progress', 70, 380, 8, NULL, NULL, NULL),
 ('22', '22-2', '和政县生活垃圾填埋场封场整治', '完成封场整治并通过验收',
  '{编制封场方案,实施封场覆盖,开展生态恢复}', '622925', '{GS-HURD}', '{GS-HURD}', '马永福', '和政县县长',
  'date', 40, 'in_progress', 86, 330, 15, NULL, NULL, NULL),
 -- 23 群众举报
 ('23', '23-1', '建立群众重复举报件“一件一策”台账', '重复举报件逐件研判、限期解决',
  '{梳理重复举报件,逐件制定解决方案,实行领导包案}', 'GS-OFFICE', '{GS-PETITION}', '{GS-LG}', '周志远', '省整改领导小组副组长',
  'immediate_then_ongoing', NULL, 'in_progress', 65, 480, 6, NULL, NULL, NULL),
 ('23', '23-2', '城关区噪声和餐饮油烟重复投诉问题解决', '重复投诉问题彻底解决，群众满意',
  '{开展现场核查,督促经营单位整改,开展回访}', '620102', '{}', '{GS-OFFICE}', '王海林', '城关区区长',
  'date', -220, 'announced', 100, 520, 250, NULL, NULL, NULL),
 ('23', '23-3', '庆城县石油开采区异味问题整治', '异味投诉问题解决',
  '{开展异味溯源,督促企业治理,加强监测}', '621021', '{GS-EE,GS-ENERGY}', '{GS-EE}', '张国华', '庆城县县长',
  'date', -8, 'in_progress', 60, 300, 50, NULL, NULL, NULL),
 -- 24 损害赔偿
 ('24', '24-1', '开展督察反馈问题生态环境损害赔偿线索筛查', '符合条件的线索应提尽提',
  '{逐一筛查反馈问题,建立线索台账,移交赔偿权利人}', 'GS-JUS', '{GS-EE,GS-NR}', '{GS-OFFICE}', '冯立军', '省司法厅厅长',
  'date', -100, 'acceptance_requested', 100, 450, 110, NULL, NULL, NULL),
 ('24', '24-2', '推进生态环境损害赔偿磋商和修复', '赔偿案件按期完成磋商，受损生态环境及时修复',
  '{开展损害鉴定评估,组织赔偿磋商,监督修复实施}', 'GS-EE', '{GS-JUS}', '{GS-OFFICE}', '杨继东', '省生态环境厅厅长',
  'date', 130, 'in_progress', 70, 360, 47, NULL, NULL, NULL),
 -- 25 白银重金属
 ('25', '25-1', '白银区冶炼渣露天堆存规范处置', '冶炼渣全部入库规范贮存或综合利用',
  '{开展堆存点排查,建设规范化贮存场,推进综合利用}', '620402', '{GS-EE,GS-MIIT}', '{GS-EE}', '张国庆', '白银区区长',
  'date', 60, 'in_progress', 81, 330, 14, NULL, NULL, NULL),
 ('25', '25-2', '平川区尾矿渣综合利用和堆场整治', '尾矿渣堆场整治完成，综合利用率提升',
  '{编制整治方案,实施堆场防渗和覆盖,建设综合利用项目}', '620403', '{GS-EE}', '{GS-EE}', '李国栋', '平川区区长',
  'date', -55, 'acceptance_review', 100, 440, 70, NULL, NULL, NULL),
 ('25', '25-3', '白银市重金属污染耕地修复和农产品监测', '重金属超标农产品不流入市场',
  '{开展农产品质量监测,实施耕地修复,调整种植结构}', '620400', '{GS-AGRI}', '{GS-AGRI,GS-EE}', '高文斌', '白银市市长',
  'date', 230, 'pending', 0, NULL, NULL, NULL, NULL, NULL);

-- Status history up to the state (the acceptance moves arrive with the
-- acceptance issue: tasks beyond acceptance_requested have history up to it).
CREATE TEMP TABLE demo_ids ON COMMIT DROP AS
SELECT (SELECT c.id FROM campaigns c JOIN orgs o ON o.id = c.province_org_id
         WHERE o.code = '620000' AND c.round = 3) AS campaign_id,
       (SELECT id FROM users WHERE username = 'office') AS office_id;

INSERT INTO tasks (campaign_id, problem_id, code, title, target, measures, owner_org_id, co_org_ids,
                   acceptance_org_ids, responsible_name, responsible_post, deadline_kind, deadline,
                   extended_deadline, stage_targets, percent, status, reopened, reopen_count,
                   started_at, completed_at, last_reported_at, created_at)
SELECT i.campaign_id, p.id, d.code, d.title, d.target, d.measures, l.id,
       ARRAY(SELECT o.id FROM unnest(d.co) WITH ORDINALITY AS r(code, n) JOIN orgs o ON o.code = r.code ORDER BY r.n),
       ARRAY(SELECT o.id FROM unnest(d.acc) WITH ORDINALITY AS r(code, n) JOIN orgs o ON o.code = r.code ORDER BY r.n),
       d.resp_name, d.resp_post, d.kind,
       CASE WHEN d.kind = 'date' THEN current_date + d.due - coalesce(d.ext, 0) END,
       CASE WHEN d.kind = 'date' AND d.ext IS NOT NULL THEN current_date + d.due END,
       CASE WHEN d.kind = 'date' AND d.due > 60 AND d.status IN ('pending', 'in_progress')
            THEN jsonb_build_array(jsonb_build_object('target', '完成' || d.measures[1],
                                                      'due', to_char(current_date + d.due / 3, 'YYYY-MM-DD')))
            ELSE '[]'::jsonb END,
       d.pct, d.status, d.reopen IS NOT NULL, CASE WHEN d.reopen IS NOT NULL THEN 1 ELSE 0 END,
       CASE WHEN d.started IS NOT NULL THEN now() - make_interval(days => d.started) END,
       CASE WHEN d.status NOT IN ('pending', 'in_progress') THEN now() - make_interval(days => coalesce(d.reported, 30)) END,
       CASE WHEN d.reported IS NOT NULL THEN now() - make_interval(days => d.reported) END,
       -- decomposed with the plan (2024-06-05); tasks still pending were added
       -- lately (supplementary decomposition), except two that never started
       CASE WHEN d.status = 'pending' AND d.code NOT IN ('3-3', '17-2')
            THEN now() - make_interval(days => 5 + length(d.code) * 3)
            ELSE TIMESTAMPTZ '2024-06-05 10:00+08' END
  FROM demo_task d
  JOIN demo_problem dp ON dp.code = d.p
  CROSS JOIN demo_ids i
  JOIN problems p ON p.campaign_id = i.campaign_id AND p.code = d.p
  JOIN orgs l ON l.code = d.lead
 ORDER BY string_to_array(d.code, '-')::int[];

-- Workflow history: start, complete, request_acceptance as far as the state
-- goes; a re-opened task went in_progress → completed → acceptance_requested
-- and was re-opened (验收核查发现问题反弹 / 弄虚作假) back to in_progress.
INSERT INTO task_transitions (task_id, action, from_status, to_status, reason, comment, user_id, org_id, at)
SELECT t.id, m.action, m.from_status, m.to_status, m.reason, m.comment,
       CASE WHEN m.action IN ('reopen') THEN i.office_id ELSE u.id END,
       CASE WHEN m.action IN ('reopen') THEN (SELECT id FROM orgs WHERE code = 'GS-OFFICE') ELSE t.owner_org_id END,
       m.at
  FROM tasks t
  JOIN demo_task d ON d.code = t.code
  CROSS JOIN demo_ids i
  LEFT JOIN LATERAL (SELECT us.id FROM users us WHERE us.org_id = t.owner_org_id AND 'unit' = ANY (us.roles)
                      ORDER BY us.id LIMIT 1) u ON true
  CROSS JOIN LATERAL (VALUES
      (1, 'start', 'pending', 'in_progress', NULL, '召开专题会议部署整改工作', t.started_at),
      (2, 'complete', 'in_progress', 'completed', NULL, '整改措施全部完成，达到整改目标', coalesce(t.completed_at, t.started_at + interval '200 days')),
      (3, 'request_acceptance', 'completed', 'acceptance_requested', NULL, '申请验收销号',
          coalesce(t.completed_at, t.started_at + interval '200 days') + interval '7 days'),
      (4, 'reopen', 'acceptance_requested', 'in_progress', d.reopen,
          CASE d.reopen WHEN 'rebound' THEN '现场核查发现问题反弹，重新纳入整改'
                        WHEN 'faked' THEN '抽查发现整改弄虚作假，重新纳入整改并移交问题线索'
                        ELSE '抽查核验未通过，重新纳入整改' END,
          coalesce(t.completed_at, t.started_at + interval '200 days') + interval '20 days')
  ) AS m(n, action, from_status, to_status, reason, comment, at)
 WHERE t.campaign_id = i.campaign_id AND t.started_at IS NOT NULL
   AND (m.n = 1
        OR (m.n IN (2, 3) AND (d.reopen IS NOT NULL
                               OR (m.n = 2 AND d.status NOT IN ('pending', 'in_progress'))
                               OR (m.n = 3 AND d.status NOT IN ('pending', 'in_progress', 'completed'))))
        OR (m.n = 4 AND d.reopen IS NOT NULL))
 ORDER BY t.id, m.n;

-- Progress reports: up to three per started task, the newest at
-- last_reported_at carrying the task's percent.
INSERT INTO task_reports (task_id, period, narrative, percent, measures_done, user_id, org_id, created_at)
SELECT t.id, to_char(r.at AT TIME ZONE 'Asia/Shanghai', 'YYYY"年"MM"月"'),
       CASE r.n WHEN 1 THEN '已' || t.measures[1] || '，正在推进' || coalesce(t.measures[2], '后续工作') || '。'
                WHEN 2 THEN '已完成“' || array_to_string(t.measures[1:2], '”“') || '”，'
                            || coalesce('“' || t.measures[3] || '”正在实施，', '') || '按计划推进。'
                ELSE CASE WHEN t.percent >= 100 THEN '各项整改措施已全部完成，整改目标已实现，佐证材料已归档。'
                          ELSE '本期继续推进' || t.measures[least(cardinality(t.measures), 2)]
                               || '，累计完成' || t.percent || '%，下一步将加大工作力度，确保按期完成。' END END,
       r.pct, r.done, u.id, t.owner_org_id, r.at
  FROM tasks t
  CROSS JOIN demo_ids i
  LEFT JOIN LATERAL (SELECT us.id FROM users us WHERE us.org_id = t.owner_org_id AND 'unit' = ANY (us.roles)
                      ORDER BY us.id LIMIT 1) u ON true
  CROSS JOIN LATERAL (VALUES
      (1, t.last_reported_at - interval '60 days', t.percent / 3, '{1}'::int[]),
      (2, t.last_reported_at - interval '30 days', t.percent * 2 / 3, '{1}'::int[]),
      (3, t.last_reported_at, t.percent,
          CASE WHEN t.percent >= 100 THEN ARRAY(SELECT generate_series(1, cardinality(t.measures)))
               WHEN cardinality(t.measures) >= 2 THEN '{1,2}'::int[] ELSE '{1}'::int[] END)
  ) AS r(n, at, pct, done)
 WHERE t.campaign_id = i.campaign_id AND t.last_reported_at IS NOT NULL
   AND r.at >= t.started_at
 ORDER BY t.id, r.n;

-- Deadline extensions: the approved ones (the task's extended_deadline) and
-- pending requests.
INSERT INTO task_extensions (task_id, previous_deadline, new_deadline, reason, status, requested_by,
                             requested_org_id, decided_by, decided_at, decision_comment, created_at)
SELECT t.id, t.deadline, t.extended_deadline,
       '受冬季施工条件和资金拨付影响，工程未能按期完工，申请延期。', 'approved', u.id, t.owner_org_id,
       i.office_id, t.deadline - 10 + time '16:00', '经省整改办审核，同意延期，请严格按新时限完成。',
       t.deadline - 20 + time '09:00'
  FROM tasks t JOIN demo_task d ON d.code = t.code CROSS JOIN demo_ids i
  LEFT JOIN LATERAL (SELECT us.id FROM users us WHERE us.org_id = t.owner_org_id AND 'unit' = ANY (us.roles)
                      ORDER BY us.id LIMIT 1) u ON true
 WHERE t.campaign_id = i.campaign_id AND d.ext IS NOT NULL;
INSERT INTO task_extensions (task_id, previous_deadline, new_deadline, reason, requested_by, requested_org_id, created_at)
SELECT t.id, t.effective_deadline, t.effective_deadline + d.ext_req,
       '项目用地审批和设备采购周期较长，申请延长整改时限。', u.id, t.owner_org_id, now() - interval '3 days'
  FROM tasks t JOIN demo_task d ON d.code = t.code CROSS JOIN demo_ids i
  LEFT JOIN LATERAL (SELECT us.id FROM users us WHERE us.org_id = t.owner_org_id AND 'unit' = ANY (us.roles)
                      ORDER BY us.id LIMIT 1) u ON true
 WHERE t.campaign_id = i.campaign_id AND d.ext_req IS NOT NULL;

COMMIT;
\echo demo ledger: loaded
\else
\echo demo ledger: already loaded (a round-3 campaign of 620000 exists)
\endif
