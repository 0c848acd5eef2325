#!/usr/bin/env bash
# The streaming claim of issue 5: a ~200 MB hand-over list of 500 000 rows
# imports without the service holding it in memory. Generates the file
# (ROWS, PAD extra narrative characters per row), streams it with curl -T
# (chunked, from disk), and reports the time, the rows written and the
# service's peak resident memory (VmHWM) before and after.
# Run by hand: tests/bench/complaints_import_large.sh
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-500000}
PAD=${PAD:-60}
bench_db bench_complaints_large
bench_serve --statement-timeout-ms 60000
TOKEN=$(bench_token office)
PSQL=("$ROOT/scripts/pg" psql -d bench_complaints_large -qtA)
"${PSQL[@]}" -c "INSERT INTO campaigns (name, round, province_org_id)
                 SELECT '第三轮中央生态环境保护督察', 3, id FROM orgs WHERE code = '620000'
                 ON CONFLICT DO NOTHING"
CAMPAIGN=$("${PSQL[@]}" -c "SELECT id FROM campaigns WHERE round = 3")

FILE=$(mktemp --suffix=.csv)
trap 'rm -f "$FILE"; kill $SERVICE_PID 2>/dev/null || true' EXIT
python3 "$ROOT/tests/bench/gen_complaints.py" "$ROWS" "$FILE" "$PAD"
echo "== $ROWS rows, $(du -h "$FILE" | cut -f1) ($(stat -c %s "$FILE") bytes)"
hwm() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$SERVICE_PID/status"; }
echo "service peak RSS before: $(hwm)"
curl -sS -o /tmp/bench-import-large.json -w 'HTTP %{http_code} in %{time_total}s\n' \
	-T "$FILE" -X POST "$BASE/api/v1/complaints/import?campaign_id=$CAMPAIGN" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv'
python3 -c 'import json; print("   ", json.load(open("/tmp/bench-import-large.json"))["summary"])'
echo "service peak RSS after: $(hwm)"
echo "complaints in the database: $("${PSQL[@]}" -c "SELECT count(*) FROM complaints WHERE campaign_id = $CAMPAIGN")"
