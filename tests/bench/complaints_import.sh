#!/usr/bin/env bash
# Complaint import throughput: N (default 100 000) generated hand-over rows
# imported through POST /api/v1/complaints/import (CSV, mode=partial),
# beside `psql \copy` of the same file into a bare staging table (no
# constraints, no indexes, no triggers), a re-import of the same file
# (every row "unchanged"), and the floor any import into this schema has:
# \copy of the imported rows into a copy of complaints with all its indexes
# but no triggers, keys, RLS or audit. Run by hand: tests/bench/complaints_import.sh
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-100000}
bench_db bench_complaints
bench_serve --threads 16 --statement-timeout-ms 60000
TOKEN=$(bench_token office)
PSQL=("$ROOT/scripts/pg" psql -d bench_complaints -qtA)
"${PSQL[@]}" -c "INSERT INTO campaigns (name, round, province_org_id)
                 SELECT '第三轮中央生态环境保护督察', 3, id FROM orgs WHERE code = '620000'
                 ON CONFLICT DO NOTHING"   # the demo data may have made it already
CAMPAIGN=$("${PSQL[@]}" -c "SELECT id FROM campaigns WHERE round = 3")

FILE=$(mktemp --suffix=.csv)
trap 'rm -f "$FILE"; kill $SERVICE_PID 2>/dev/null || true' EXIT
python3 "$ROOT/tests/bench/gen_complaints.py" "$ROWS" "$FILE"
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
echo "POST /api/v1/complaints/import (partial, batches of 1000 written by RECTIFY_IMPORT_WORKERS=${RECTIFY_IMPORT_WORKERS:-2}, audit + RLS + encryption): ${import_s}s, HTTP $status"
python3 -c 'import json; print("   ", json.load(open("/tmp/bench-import.json"))["summary"])'
read -r status reimport_s < <(import)
echo "the same file again (every row unchanged): ${reimport_s}s, HTTP $status"
python3 -c 'import json; print("   ", json.load(open("/tmp/bench-import.json"))["summary"])'
echo "ratio import / \\copy: $(echo "scale=2; $import_s / $copy_s" | bc)"
echo "target (issue 5): within 3x of \\copy, i.e. $(echo "scale=2; 3 * $copy_s" | bc)s"

ROWS_FILE=$(mktemp)
trap 'rm -f "$FILE" "$ROWS_FILE"; kill $SERVICE_PID 2>/dev/null || true' EXIT
"${PSQL[@]}" -c "\\copy (SELECT * FROM complaints WHERE campaign_id = $CAMPAIGN) TO '$ROWS_FILE'" \
	-c "CREATE TABLE complaints_floor (LIKE complaints INCLUDING DEFAULTS INCLUDING INDEXES)"
t0=$(date +%s.%N)
"${PSQL[@]}" -c "\\copy complaints_floor FROM '$ROWS_FILE'"
floor_s=$(echo "$(date +%s.%N) - $t0" | bc)
echo "floor: \\copy of the same complaints into a copy of the table with its $("${PSQL[@]}" -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'complaints_floor'") indexes, no triggers: ${floor_s}s"
echo "ratio import / floor: $(echo "scale=2; $import_s / $floor_s" | bc)"
