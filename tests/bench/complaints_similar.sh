#!/usr/bin/env bash
# GET /api/v1/complaints/{id}/similar over N (default 100 000) complaints.
#   tests/bench/complaints_similar.sh          (builds nothing: cmake --build build first)
#   COMPLAINTS=100000 DURATION=10s tests/bench/complaints_similar.sh
# 1. loads the complaints with generate_series as the owner (triggers off,
#    like tests/bench/ledger_load.sql): 21 counties, Chinese complaint texts
#    put together from a county and place, one of 25 subjects, a detail and a
#    request (so a county's complaints read much alike, the hard case for
#    trigram candidates), entity names, 80 % with coordinates around the
#    county, and 2 % planted repeats (reworded, a few hundred metres away);
# 2. EXPLAIN (ANALYZE, BUFFERS) of the statement as the service runs it
#    (auto_explain on the service's connection, nested statements too, so the
#    candidate function's plan shows), then the statement's own duration over
#    REPS random complaints (auto_explain's "duration", i.e. with the
#    instrumentation), and how often the planted repeat is ranked first;
# 3. wrk on loopback with random ids: the office (province-wide) with one
#    client and with 8, and the 城关区 unit (row-level security narrows what
#    it sees) with one client, ids of its county.
# Target (issue): p50 < 50 ms over 100 000 complaints.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
COMPLAINTS=${COMPLAINTS:-100000}
DURATION=${DURATION:-10s}
REPS=${REPS:-20}
DB=bench_similar
PGLOG=$RECTIFY_PGDATA.log

bench_db $DB

echo "== loading $COMPLAINTS complaints"
start=$(date +%s.%N)
# 98 % generated, 2 % planted repeats of them
psql -X -q "$DBURL" -v n="$((COMPLAINTS * 49 / 50))" -f "$ROOT/tests/bench/complaints_load.sql"
printf 'loaded in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
echo "   schema: $(q "SELECT max(name) FROM rectify_schema_migrations")"

IDS=$(mktemp) UNIT_IDS=$(mktemp) LUA=$(mktemp --suffix=.lua)
SERVICE_PID=
cleanup() {
	rm -f "$IDS" "$UNIT_IDS" "$LUA"
	[[ -z $SERVICE_PID ]] || kill "$SERVICE_PID" 2>/dev/null || true
}
trap cleanup EXIT
q "SELECT id FROM complaints ORDER BY random() LIMIT 5000" >"$IDS"
q "SELECT c.id FROM complaints c JOIN orgs o ON o.id = c.county_org_id AND o.code = '620102'
    ORDER BY random() LIMIT 2000" >"$UNIT_IDS"
cat >"$LUA" <<'LUA'
-- GET /api/v1/complaints/{id}/similar, ids drawn from the file $SIMILAR_IDS
local ids = {}
for line in io.lines(os.getenv("SIMILAR_IDS")) do ids[#ids + 1] = line end
function init(args)
	math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
	return wrk.format("GET", "/api/v1/complaints/" .. ids[math.random(#ids)] .. "/similar")
end
LUA

# --- 2. plans -------------------------------------------------------------------
echo "== EXPLAIN (ANALYZE, BUFFERS) as the service runs it (auto_explain, nested statements)"
q "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'"
q "ALTER DATABASE $DB SET auto_explain.log_min_duration = 0"
q "ALTER DATABASE $DB SET auto_explain.log_analyze = on"
q "ALTER DATABASE $DB SET auto_explain.log_buffers = on"
q "ALTER DATABASE $DB SET auto_explain.log_nested_statements = on"
bench_serve --threads 8 --db-pool 1
trap cleanup EXIT # bench_serve set its own
OFFICE=$(bench_token office)
UNIT=$(bench_token chengguan)
similar() { # similar TOKEN ID → the answer
	curl -sf -H "Authorization: Bearer $1" "$BASE/api/v1/complaints/$2/similar"
}
# a complaint with coordinates that has a planted repeat
read -r SHOW REPEAT < <(q "SELECT o.id, r.id FROM complaints o JOIN complaints r
                            ON r.campaign_id = o.campaign_id AND r.handover_no = o.handover_no || 'R'
                           WHERE o.latitude IS NOT NULL ORDER BY o.id LIMIT 1" | tr '|' ' ')
similar "$OFFICE" "$SHOW" >/dev/null   # the first use on a connection prepares
before=$(stat -c %s "$PGLOG")
similar "$OFFICE" "$SHOW" >/dev/null
sleep 0.3
echo "--- complaint $SHOW (planted repeat $REPEAT), as the office"
tail -c +"$((before + 1))" "$PGLOG" |
	awk '/duration: .* plan:/ {p = 0} /duration: .* plan:/ && !/begin_request/ {d = $0}
	     /Query Text: *$/ || /Query Text: WITH x AS/ {p = 1; print d} p' |
	sed -e 's/^.*LOG:  duration: /duration: /' -e '/Query Text:/d' -e 's/^\t//' |
	grep -E -- '^duration|->|^[A-Z][a-z]|CTE |InitPlan|SubPlan|Index Cond|Order By|Filter|Rows Removed|Buffers: shared' |
	cut -c1-200 | sed 's/^/    /'

echo "--- the statement over $REPS random complaints (auto_explain durations, ms; office)"
durations() { # durations TOKEN IDFILE N → statement durations
	local before id
	before=$(stat -c %s "$PGLOG")
	for id in $(shuf -n "$3" "$2"); do similar "$1" "$id" >/dev/null || true; done
	sleep 0.3
	tail -c +"$((before + 1))" "$PGLOG" |
		awk '/duration: .* plan:/ {split($0, a, "duration: "); split(a[2], b, " "); d = b[1]}
		     /Query Text: WITH x AS/ {print d}'
}
stats() { sort -n | awk '{v[NR] = $1} END {printf "n %d  min %.1f  p50 %.1f  p90 %.1f  max %.1f\n",
	NR, v[1], v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], v[NR]}'; }
durations "$OFFICE" "$IDS" "$REPS" | stats | sed 's/^/    /'
echo "--- the same as the 城关区 unit (its county's complaints)"
durations "$UNIT" "$UNIT_IDS" "$REPS" | stats | sed 's/^/    /'

echo "--- planted repeats ranked first (office, 50 of them)"
hits=0 total=0
while read -r o r; do
	first=$(similar "$OFFICE" "$o" | python3 -c 'import json,sys; i=json.load(sys.stdin)["items"]; print(i[0]["complaint"]["id"] if i else "")')
	total=$((total + 1))
	[[ $first == "$r" ]] && hits=$((hits + 1))
done < <(q "SELECT o.id, r.id FROM complaints o JOIN complaints r
             ON r.campaign_id = o.campaign_id AND r.handover_no = o.handover_no || 'R'
            ORDER BY random() LIMIT 50" | tr '|' ' ')
echo "    $hits / $total"
kill "$SERVICE_PID"
wait "$SERVICE_PID" 2>/dev/null || true
q "ALTER DATABASE $DB RESET ALL"

# --- 3. throughput ----------------------------------------------------------------
bench_serve --threads 16 --db-pool 8
trap cleanup EXIT
OFFICE=$(bench_token office)
UNIT=$(bench_token chengguan)
wrk_summary() {
	awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 90%/ {p90=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
	     END {printf "%s req/s  p50 %s  p90 %s  p99 %s%s\n", rps, p50, p90, p99, bad ? "  NON-2XX " bad : ""}'
}
echo "== wrk, random ids (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'office, 1 client  (wrk -t1 -c1 -d%s): ' "$DURATION"
SIMILAR_IDS=$IDS wrk -t1 -c1 -d"$DURATION" --latency -s "$LUA" \
	-H "Authorization: Bearer $OFFICE" "$BASE" | wrk_summary
printf 'office, 8 clients (wrk -t2 -c8 -d%s): ' "$DURATION"
SIMILAR_IDS=$IDS wrk -t2 -c8 -d"$DURATION" --latency -s "$LUA" \
	-H "Authorization: Bearer $OFFICE" "$BASE" | wrk_summary
printf '城关区, 1 client  (wrk -t1 -c1 -d%s): ' "$DURATION"
SIMILAR_IDS=$UNIT_IDS wrk -t1 -c1 -d"$DURATION" --latency -s "$LUA" \
	-H "Authorization: Bearer $UNIT" "$BASE" | wrk_summary
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
