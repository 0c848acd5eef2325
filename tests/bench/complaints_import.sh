#!/usr/bin/env bash
# Complaint import throughput: N (default 100 000) generated hand-over rows
# imported through POST /api/v1/complaints/import (CSV, mode=partial),
# beside `psql \copy` of the same file into a bare staging table (no
# constraints, no indexes, no triggers), and a re-import of the same file
# (every row "unchanged"). Run by hand: tests/bench/complaints_import.sh
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-100000}
bench_db bench_complaints
bench_serve --threads 16 --db-pool 8 --statement-timeout-ms 60000
TOKEN=$(bench_token office)
PSQL=("$ROOT/scripts/pg" psql -d bench_complaints -qtA)
"${PSQL[@]}" -c "INSERT INTO campaigns (name, round, province_org_id)
                 SELECT '第三轮中央生态环境保护督察', 3, id FROM orgs WHERE code = '620000'
                 ON CONFLICT DO NOTHING"   # the demo data may have made it already
CAMPAIGN=$("${PSQL[@]}" -c "SELECT id FROM campaigns WHERE round = 3")

FILE=$(mktemp --suffix=.csv)
trap 'rm -f "$FILE"; kill $SERVICE_PID 2>/dev/null || true' EXIT
python3 - "$ROWS" "$FILE" <<'PY'
import csv, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
random.seed(7)
counties = ["城关区", "七里河区", "西固区", "安宁区", "永登县", "金川区", "白银区", "靖远县", "秦州区",
            "麦积区", "凉州区", "民勤县", "甘州区", "崆峒区", "肃州区", "敦煌市", "西峰区", "安定区",
            "武都区", "临夏市", "合作市"]
channels = ["电话", "来信", "网络", "12345"]
types = ["大气", "水", "土壤", "噪声", "固废", "生态", "大气、噪声", "水、土壤"]
subjects = ["餐饮油烟直排", "夜间施工噪声扰民", "砂石料场扬尘", "养殖粪污直排河道", "工业废渣随意倾倒",
            "燃煤小锅炉冒黑烟", "加油站油罐渗漏", "垃圾填埋场渗滤液外溢", "尾矿库渗漏", "违规采砂破坏河道"]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("\ufeff")
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["交办编号", "交办批次", "受理时间", "来源渠道", "举报内容", "污染类型", "所在县区", "详细地址",
                "经度", "纬度", "被举报对象", "件别", "举报人姓名", "联系电话"])
    for i in range(n):
        c = random.choice(counties)
        w.writerow(["X62%09d" % i, i // 4000 + 1, "2023-%02d-%02d %02d:%02d" % (11 + i % 2, 1 + i % 28, i % 24, i % 60),
                    random.choice(channels),
                    "%s%s，群众多次反映未解决（第%d件）。" % (c, random.choice(subjects), i),
                    random.choice(types), c, "%s某路%d号" % (c, i % 997),
                    "%.4f" % (100 + random.random() * 6), "%.4f" % (34 + random.random() * 5),
                    "某企业%d有限公司" % (i % 5000), random.choice(["一般件", "重点件"]),
                    random.choice("赵钱孙李周吴郑王") + random.choice(["伟", "芳", "娜", "敏"]),
                    "139%08d" % i])
PY
echo "== $ROWS rows, $(du -h "$FILE" | cut -f1)"

"${PSQL[@]}" -c "CREATE TABLE staging (handover_no text, batch_no text, received_at text, channel text,
                 content text, pollution_types text, county text, address text, longitude text,
                 latitude text, entity_name text, grade text, complainant_name text, complainant_phone text)"
t0=$(date +%s.%N)
"${PSQL[@]}" -c "\\copy staging FROM '$FILE' WITH (FORMAT csv, HEADER true)"
t1=$(date +%s.%N)
copy_s=$(echo "$t1 - $t0" | bc)
echo "psql \\copy into a bare staging table: ${copy_s}s ($("${PSQL[@]}" -c 'SELECT count(*) FROM staging') rows)"

import() {
	curl -sS -o /tmp/bench-import.json -w '%{http_code} %{time_total}\n' \
		"$BASE/api/v1/complaints/import?campaign_id=$CAMPAIGN" \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @"$FILE"
}
read -r status import_s < <(import)
echo "POST /api/v1/complaints/import (partial, batches of 1000, audit + RLS + encryption): ${import_s}s, HTTP $status"
python3 -c 'import json; print("   ", json.load(open("/tmp/bench-import.json"))["summary"])'
read -r status reimport_s < <(import)
echo "the same file again (every row unchanged): ${reimport_s}s, HTTP $status"
python3 -c 'import json; print("   ", json.load(open("/tmp/bench-import.json"))["summary"])'
echo "ratio import / \\copy: $(echo "scale=2; $import_s / $copy_s" | bc)"
echo "target (issue 5): within 3x of \\copy, i.e. $(echo "scale=2; 3 * $copy_s" | bc)s"
