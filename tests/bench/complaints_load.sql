-- tests/bench/complaints_load.sql — N generated complaints for the complaint
-- benchmarks (complaints_similar.sh, complaints_list.sh), as the owner with
-- triggers off (like tests/bench/ledger_load.sql):
--   psql -v n=98000 -f tests/bench/complaints_load.sql   (n + 2 % planted repeats)
-- 21 counties, Chinese complaint texts put together from a county and place,
-- one of 25 subjects, a detail and a request (a county's complaints read much
-- alike), entity names, 80 % with coordinates around the county; status
-- received 60 % / investigating 30 % (deadline 2024-01-31: overdue) /
-- resolved 10 %; then one in 49 reported again (planted repeats, reworded, a
-- few hundred metres away).
\set ON_ERROR_STOP 1
SET session_replication_role = replica;
SELECT setseed(0.17) AS seed \gset
INSERT INTO campaigns (name, round, province_org_id)
SELECT '性能基准（生成举报件）', 91, id FROM orgs WHERE code = '620000';
CREATE TEMP TABLE s_county AS
SELECT row_number() OVER (ORDER BY o.id) - 1 AS n, o.id, o.path, o.name, p.name AS pref,
       34.5 + random() * 4 AS lat, 98.5 + random() * 8 AS lon
  FROM orgs o JOIN orgs p ON p.id = o.parent_id
 WHERE o.kind = 'county' AND o.name IN ('城关区', '七里河区', '西固区', '安宁区', '永登县', '金川区', '白银区',
       '靖远县', '秦州区', '麦积区', '凉州区', '民勤县', '甘州区', '崆峒区', '肃州区', '敦煌市', '西峰区', '安定区',
       '武都区', '临夏市', '合作市');
CREATE TEMP TABLE s_place (n int, v text);
INSERT INTO s_place SELECT row_number() OVER () - 1, v FROM unnest(ARRAY[
 '东岗街道', '雁滩乡', '西湖街道', '火车站附近', '工业园区', '城南新区', '河滩村', '五里铺', '新城镇', '柳泉乡',
 '黄河北岸', '滨河路', '开发区', '北山坡', '南关十字', '东郊物流园', '高速出口', '老城区', '水源地上游', '农贸市场']) AS v;
CREATE TEMP TABLE s_subject (n int, v text, t text[]);
INSERT INTO s_subject SELECT row_number() OVER () - 1, v, t FROM (VALUES
 ('一家烧烤店油烟直排，楼上住户无法开窗', '{air}'::text[]),
 ('建筑工地夜间施工，噪声扰民严重', '{noise}'),
 ('砂石料场露天堆放，大风天扬尘漫天', '{air}'),
 ('养殖场粪污直排河道，河水发黑发臭', '{water}'),
 ('有人往沟里倾倒工业废渣', '{solid_waste,soil}'),
 ('燃煤小锅炉冒黑烟，周边居民呛得睁不开眼', '{air}'),
 ('加油站油罐疑似渗漏，井水有汽油味', '{water,soil}'),
 ('垃圾填埋场渗滤液外溢，臭味很大', '{water,air}'),
 ('尾矿库渗漏，下游农田受污染', '{soil,water}'),
 ('有人违规采砂，河道被挖得坑坑洼洼', '{ecology}'),
 ('化工厂夜间偷排刺激性废气，居民头晕恶心', '{air}'),
 ('洗车店污水直接排入雨水管网', '{water}'),
 ('KTV音响声音太大，凌晨还在营业', '{noise}'),
 ('废旧塑料加工作坊焚烧垃圾，黑烟刺鼻', '{air,solid_waste}'),
 ('污水处理厂出水浑浊，排污口有泡沫', '{water}'),
 ('私挖滥采破坏草原植被', '{ecology}'),
 ('医疗废物随意丢弃在生活垃圾桶里', '{solid_waste}'),
 ('水泥厂粉尘无组织排放，屋顶落满灰', '{air}'),
 ('屠宰场血水外流，苍蝇成群', '{water}'),
 ('电镀厂废水通过暗管排放', '{water,soil}'),
 ('沥青搅拌站气味刺鼻，晚上更严重', '{air}'),
 ('在自然保护区里修建农家乐', '{ecology}'),
 ('废机油收集点地面大面积油污', '{soil,solid_waste}'),
 ('商场楼顶空调外机噪声很大', '{noise}'),
 ('煤场未苫盖，煤灰飘进小区', '{air}')) AS v (v, t);
CREATE TEMP TABLE s_detail (n int, v text);
INSERT INTO s_detail SELECT row_number() OVER () - 1, v FROM unnest(ARRAY[
 '已经持续半年多', '多次打12345没有解决', '晚上十点以后尤其严重', '小孩老人经常咳嗽', '附近有学校和幼儿园',
 '去年督察时整改过又反弹了', '周末更加严重', '下雨天污水漫到路上', '环保局来查过几次没有效果', '附近居民有几百户',
 '庄稼都枯死了', '河里的鱼死了不少', '白天不敢开窗', '企业说有手续但没见过环评', '街道办说不归他们管']) AS v;
CREATE TEMP TABLE s_ask (n int, v text);
INSERT INTO s_ask SELECT row_number() OVER () - 1, v FROM unnest(ARRAY[
 '请求尽快查处。', '希望督察组督促整改。', '请有关部门依法处理。', '强烈要求关停。', '希望给老百姓一个说法。',
 '请尽快核实。', '要求公开处理结果。', '盼早日解决。']) AS v;
CREATE TEMP TABLE s_brand (n int, v text);
INSERT INTO s_brand SELECT row_number() OVER () - 1, v FROM unnest(ARRAY[
 '宏达', '鑫源', '金盛', '华远', '恒通', '瑞丰', '永昌', '祥和', '天成', '鼎盛', '广源', '兴隆', '富民', '万通', '利民',
 '嘉禾', '泰和', '恒信', '盛世', '建业', '安泰', '正阳', '金川', '陇原', '丝路', '河西', '祁连', '敦煌', '黄河', '西北']) AS v;
CREATE TEMP TABLE s_trade (n int, v text);
INSERT INTO s_trade SELECT row_number() OVER () - 1, v FROM unnest(ARRAY[
 '化工', '建材', '餐饮管理', '养殖', '砂石', '环保科技', '物流', '石化', '矿业', '房地产开发', '商贸', '热力',
 '洗车服务', '再生资源', '屠宰', '水泥']) AS v;

INSERT INTO complaint_batches (campaign_id, batch_no, handed_over_on, expected_count)
SELECT c.id, b, DATE '2023-11-24' + b, 4000 FROM campaigns c, generate_series(1, 25) AS b WHERE c.round = 91;

CREATE TEMP TABLE s_row AS
SELECT g, random() AS r_c, random() AS r_p, random() AS r_s, random() AS r_d, random() AS r_a,
       random() AS r_b, random() AS r_t, random() AS r_geo, random() AS r_lat, random() AS r_lon,
       random() AS r_st, random() AS r_ch, random() AS r_e
  FROM generate_series(1, :n) AS g;

INSERT INTO complaints (campaign_id, handover_no, batch_id, channel, received_at, content, pollution_types,
                        county_org_id, county_org_path, address, latitude, longitude, entity_name, grade,
                        responsible_org_id, deadline, status, owner_org_id, owner_org_path)
SELECT b.campaign_id, 'X62' || lpad(r.g::text, 9, '0'), b.id,
       (ARRAY['phone', 'letter', 'online', 'hotline_12345', 'visit'])[1 + floor(r.r_ch * 5)::int],
       TIMESTAMPTZ '2023-11-24 09:00+08' + r.g * interval '37 seconds',
       -- most complaints name the county and a place; some do not
       CASE WHEN r.r_a < 0.7 THEN c.pref || c.name || p.v ELSE p.v END || s.v || '，' || d.v || '，' || a.v,
       s.t, c.id, c.path, c.name || p.v || (r.g % 300) || '号',
       CASE WHEN r.r_geo < 0.8 THEN round((c.lat + (r.r_lat - 0.5) * 0.5)::numeric, 6) END,
       CASE WHEN r.r_geo < 0.8 THEN round((c.lon + (r.r_lon - 0.5) * 0.6)::numeric, 6) END,
       CASE WHEN r.r_e < 0.85 THEN c.name || br.v || tr.v || '有限公司' END,
       CASE WHEN r.r_st < 0.05 THEN 'key' ELSE 'general' END,
       CASE WHEN r.r_st >= 0.6 THEN c.id END,
       CASE WHEN r.r_st >= 0.6 THEN DATE '2024-01-31' END,
       CASE WHEN r.r_st < 0.6 THEN 'received' WHEN r.r_st < 0.9 THEN 'investigating' ELSE 'resolved' END,
       c.id, c.path
  FROM s_row r
  JOIN campaigns cp ON cp.round = 91
  JOIN complaint_batches b ON b.campaign_id = cp.id AND b.batch_no = 1 + (r.g - 1) / 4000
  JOIN s_county c ON c.n = floor(r.r_c * 21)::int
  JOIN s_place p ON p.n = floor(r.r_p * 20)::int
  JOIN s_subject s ON s.n = floor(r.r_s * 25)::int
  JOIN s_detail d ON d.n = floor(r.r_d * 15)::int
  JOIN s_ask a ON a.n = floor(r.r_b * 8)::int
  JOIN s_brand br ON br.n = floor(r.r_t * 30)::int
  JOIN s_trade tr ON tr.n = (r.g % 16);

-- Planted repeats (重复举报): one in 50 is reported again, reworded a little,
-- a few hundred metres away; the benchmark asks for these first.
INSERT INTO complaints (campaign_id, handover_no, batch_id, channel, received_at, content, pollution_types,
                        county_org_id, county_org_path, address, latitude, longitude, entity_name, grade,
                        status, owner_org_id, owner_org_path)
SELECT c.campaign_id, c.handover_no || 'R', c.batch_id, 'online', c.received_at + interval '9 days',
       '又一次反映：' || c.content || '上次举报后仍未解决', c.pollution_types, c.county_org_id, c.county_org_path,
       c.address, c.latitude + 0.002, c.longitude - 0.003, c.entity_name, 'key', 'received',
       c.county_org_id, c.county_org_path
  FROM complaints c JOIN campaigns cp ON cp.id = c.campaign_id AND cp.round = 91
 WHERE c.id % 49 = 0;
RESET session_replication_role;
ANALYZE;
SELECT count(*) AS complaints, count(DISTINCT county_org_id) AS counties,
       count(*) FILTER (WHERE handover_no LIKE '%R') AS planted_repeats,
       round(avg(length(content))) AS avg_content_chars
  FROM complaints;
