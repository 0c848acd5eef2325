#!/usr/bin/env bash
# Issue 10, item 5: an atomic complaint import of ROWS (default 100 000)
# generated hand-over rows succeeds, within RECTIFY_IMPORT_TIMEOUT and with the
# default RECTIFY_STATEMENT_TIMEOUT_MS (no override), on a service whose
# database connections have flushed the audit trail before (small imports
# after audit_pending was vacuumed: the state in which the old flush was
# quadratic). Reports rows, seconds and rows/s, and for comparison the
# database's own rate for the same rows: \copy of the file into a bare staging
# table, and INSERT … SELECT of the imported complaints into a copy of the
# table with its indexes but no triggers, keys, RLS or audit.
# Run by hand: tests/bench/complaints_import_atomic.sh
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-100000}
bench_db bench_complaints_atomic
bench_serve --threads 16
TOKEN=$(bench_token office)
PSQL=("$ROOT/scripts/pg" psql -d bench_complaints_atomic -qtA)
"${PSQL[@]}" -c "INSERT INTO campaigns (name, round, province_org_id)
                 SELECT '第三轮中央生态环境保护督察', 3, id FROM orgs WHERE code = '620000'
                 ON CONFLICT DO NOTHING"   # the demo data may have made it already
CAMPAIGN=$("${PSQL[@]}" -c "SELECT id FROM campaigns WHERE round = 3")
URL="$BASE/api/v1/complaints/import?campaign_id=$CAMPAIGN"

FILE=$(mktemp --suffix=.csv)
WARM=$(mktemp --suffix=.csv)
trap 'rm -f "$FILE" "$WARM"; kill $SERVICE_PID 2>/dev/null || true' EXIT
python3 "$ROOT/tests/bench/gen_complaints.py" "$ROWS" "$FILE"
echo "== $ROWS rows, $(du -h "$FILE" | cut -f1)"

# warm connections: 20 one-row imports after audit_pending was emptied
"${PSQL[@]}" -c "VACUUM ANALYZE audit_pending"
for i in $(seq 20); do
	printf '\xef\xbb\xbf交办编号,交办批次,受理时间,来源渠道,举报内容,污染类型,所在县区\r\nWARM-%d,1,2023-11-24,电话,河边有工厂偷排污水,水,城关区\r\n' "$i" >"$WARM"
	curl -sS -o /dev/null "$URL" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
		--data-binary @"$WARM"
done

read -r status import_s < <(curl -sS -o /tmp/bench-import-atomic.json -w '%{http_code} %{time_total}\n' \
	"$URL&mode=atomic" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
	--data-binary @"$FILE")
echo "POST /api/v1/complaints/import?mode=atomic (one transaction, audit + RLS + encryption): HTTP $status, ${import_s}s, $(echo "$ROWS / $import_s" | bc) rows/s"
python3 -c 'import json; d = json.load(open("/tmp/bench-import-atomic.json")); print("   ", d.get("summary", d))'
echo "complaints in the database: $("${PSQL[@]}" -c "SELECT count(*) FROM complaints WHERE handover_no LIKE 'X62%'")"
echo "audit chain: $("${PSQL[@]}" -c "SELECT rectify.audit_verify() ->> 'ok'")"

# the database's own rates for the same rows
"${PSQL[@]}" -c "CREATE TABLE staging (handover_no text, batch_no text, received_at text, channel text,
                 content text, pollution_types text, county text, address text, longitude text,
                 latitude text, entity_name text, grade text, complainant_name text, complainant_phone text)"
t0=$(date +%s.%N)
"${PSQL[@]}" -c "\\copy staging FROM '$FILE' WITH (FORMAT csv, HEADER true)"
copy_s=$(echo "$(date +%s.%N) - $t0" | bc)
echo "psql \\copy into a bare staging table: ${copy_s}s, $(echo "$ROWS / $copy_s" | bc) rows/s"
"${PSQL[@]}" -c "CREATE TABLE complaints_floor (LIKE complaints INCLUDING DEFAULTS INCLUDING INDEXES)"
t0=$(date +%s.%N)
"${PSQL[@]}" -c "INSERT INTO complaints_floor SELECT * FROM complaints WHERE handover_no LIKE 'X62%'"
floor_s=$(echo "$(date +%s.%N) - $t0" | bc)
echo "INSERT … SELECT of the same complaints into a copy of the table with its $("${PSQL[@]}" -c "SELECT count(*) FROM pg_indexes WHERE tablename = 'complaints_floor'") indexes, no triggers: ${floor_s}s, $(echo "$ROWS / $floor_s" | bc) rows/s"
echo "ratio import / floor: $(echo "scale=2; $import_s / $floor_s" | bc)"
