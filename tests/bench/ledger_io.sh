#!/usr/bin/env bash
# Ledger import/export throughput: 2 000 problems and N (default 100 000) tasks
# imported through POST /api/v1/{problems,tasks}/import (CSV, one transaction,
# batches of 1000), the same task file again (every row "unchanged"), then
# GET /api/v1/tasks/export of the campaign as CSV and as XLSX (streamed in
# keyset batches of 1000), and the service's RSS at the end.
# Run by hand: tests/bench/ledger_io.sh   (ROWS=20000 for a quicker run)
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-100000}
bench_db bench_ledger_io
bench_serve --threads 16 --db-pool 8 --max-upload 128m
TOKEN=$(bench_token office)
PSQL=("$ROOT/scripts/pg" psql -d bench_ledger_io -qtA)
"${PSQL[@]}" -c "INSERT INTO campaigns (name, round, province_org_id)
                 SELECT '第三轮中央生态环境保护督察', 3, id FROM orgs WHERE code = '620000'
                 ON CONFLICT DO NOTHING"   # the demo data may have made it already
CAMPAIGN=$("${PSQL[@]}" -c "SELECT id FROM campaigns WHERE round = 3")

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"; kill $SERVICE_PID 2>/dev/null || true' EXIT
python3 - "$ROWS" "$DIR" <<'PY'
import csv, random, sys
n, d = int(sys.argv[1]), sys.argv[2]
random.seed(7)
leads = ["城关区", "七里河区", "西固区", "安宁区", "永登县", "金川区", "白银区", "秦州区", "凉州区",
         "甘州区", "崆峒区", "肃州区", "敦煌市", "GS-EE", "GS-FG", "620100", "兰州市城关区"]
with open(d + "/problems.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["编号", "问题名称", "问题类别", "牵头单位", "完成时限"])
    for i in range(2000):
        w.writerow(["BENCH-%04d" % i, "基准问题%d" % i, random.choice(["宏观共性", "省级行业主管领域", "辖区具体"]),
                    random.choice(leads), "2026-12-31"])
with open(d + "/tasks.csv", "w", encoding="utf-8", newline="") as f:
    f.write("\ufeff")
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["编号", "问题编号", "任务名称", "整改目标", "具体措施", "牵头单位", "配合单位", "责任人", "职务",
                "完成时限类型", "完成时限"])
    for i in range(n):
        dated = i % 10
        w.writerow(["BENCH-T-%06d" % i, "BENCH-%04d" % (i % 2000), "整改任务%d：矿山生态修复" % i,
                    "完成整改并通过验收", "制定整改方案\n开展现场核查\n完成生态修复",
                    random.choice(leads), "GS-FG、GS-EE", "张三", "副县长",
                    "限期完成" if dated else "长期坚持",
                    "2026-%02d-%02d" % (1 + i % 12, 1 + i % 28) if dated else ""])
PY
echo "== $ROWS tasks, $(du -h "$DIR/tasks.csv" | cut -f1)"

post() { # post WHAT FILE
	curl -sS -o "$DIR/answer.json" -w '%{http_code} %{time_total}\n' \
		"$BASE/api/v1/$1/import?campaign=$CAMPAIGN" \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary @"$2"
}
summary() { python3 -c 'import json,sys; print("   ", json.load(open(sys.argv[1]))["summary"])' "$DIR/answer.json"; }
read -r status s < <(post problems "$DIR/problems.csv")
echo "POST /api/v1/problems/import (2000 problems): ${s}s, HTTP $status"; summary
read -r status s < <(post tasks "$DIR/tasks.csv")
echo "POST /api/v1/tasks/import ($ROWS tasks, one transaction, audit + RLS): ${s}s, HTTP $status"; summary
read -r status s < <(post tasks "$DIR/tasks.csv")
echo "the same file again (every row unchanged): ${s}s, HTTP $status"; summary
for fmt in csv xlsx; do
	curl -sS -o "$DIR/export.$fmt" -w "GET /api/v1/tasks/export?format=$fmt: %{time_total}s, HTTP %{http_code}, %{size_download} bytes\n" \
		"$BASE/api/v1/tasks/export?campaign=$CAMPAIGN&format=$fmt" -H "Authorization: Bearer $TOKEN"
done
echo "rows in the CSV: $(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline=""))) - 1)' "$DIR/export.csv")"
echo "service RSS: $(ps -o rss= -p "$SERVICE_PID") KiB"
