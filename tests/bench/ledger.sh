#!/usr/bin/env bash
# The ledger over 100 000 tasks (issue 4, "Performance"):
#   tests/bench/ledger.sh          (builds nothing: run cmake --build build first)
#   TASKS=100000 PROBLEMS=20000 DURATION=10s LIST_DURATION=5s tests/bench/ledger.sh
#   ONLY_PLANS=1 tests/bench/ledger.sh   (steps 1 and 2 only)
#   SKIP_C32=1 tests/bench/ledger.sh     (lists at one connection only)
# 1. loads TASKS tasks and PROBLEMS problems (+ a campaign, reports) with
#    generate_series as the owner (tests/bench/ledger_load.sql), ANALYZE;
# 2. EXPLAIN (ANALYZE, BUFFERS) of the list statements exactly as the service
#    runs them (auto_explain on the service's connections, real parameters,
#    real row-level security) for the task and problem filter combinations
#    below — the plans are printed and the script fails if one has a Seq
#    Scan on tasks or problems;
# 3. wrk on loopback, 32 connections, authenticated: GET /api/v1/tasks/{id}
#    with random ids (tests/bench/random_task.lua), beside it pgbench
#    (-M prepared -c32 -j2) running the same SQL as the handler — the
#    identity statement and the read in one transaction; then the list
#    combinations as the office and as a county unit (城关区).
# Targets: single GET >= 75 % of pgbench's rate, p99 < 20 ms; list < 10 ms p50.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
LIST_DURATION=${LIST_DURATION:-5s}
TASKS=${TASKS:-100000}
PROBLEMS=${PROBLEMS:-20000}
DB=bench_ledger
PGLOG=$RECTIFY_PGDATA.log

bench_db $DB

echo "== loading $TASKS tasks, $PROBLEMS problems (tests/bench/ledger_load.sql)"
start=$(date +%s.%N)
psql -X -q "$DBURL" -v tasks="$TASKS" -v problems="$PROBLEMS" -f "$ROOT/tests/bench/ledger_load.sql" | sed -n '/tasks/,$p'
printf 'loaded in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"

id_of() { q "SELECT id FROM orgs WHERE code = '$1'"; }
LANZHOU=$(id_of 620100) CHENGGUAN=$(id_of 620102) PINGLIANG=$(id_of 620800)
CAMPAIGN=$(q "SELECT id FROM campaigns WHERE round = 90")
export TASK_ID_MIN TASK_ID_MAX
TASK_ID_MIN=$(q "SELECT min(id) FROM tasks WHERE campaign_id = $CAMPAIGN")
TASK_ID_MAX=$(q "SELECT max(id) FROM tasks WHERE campaign_id = $CAMPAIGN")

# "who|list?query" — the list combinations measured.  %E5%B0%BE%E7%9F%BF%E5%BA%93
# = 尾矿库 (5 % of tasks and problems), %E7%8E%8B = 王 (a surname: 5 %),
# %E7%8E%8B%E5%BB%BA%E5%86%9B = 王建军 (one official: 0.2 %).
LISTS=(
	"office|tasks?lead_org=$LANZHOU&status=in_progress&limit=50"
	"office|tasks?lead_org=$CHENGGUAN&status=pending,in_progress&limit=50"
	"office|tasks?lead_org=$PINGLIANG&status=completed&sort=-updated_at&limit=50"
	"office|tasks?status=in_progress&warning=red&limit=50"
	"office|tasks?warning=yellow&limit=50"
	"office|tasks?lead_org=$LANZHOU&overdue=true&limit=50"
	"office|tasks?campaign=$CAMPAIGN&due_before=2025-06-30&due_after=2025-01-01&limit=50"
	"office|tasks?q=%E5%B0%BE%E7%9F%BF%E5%BA%93&status=in_progress&limit=50"
	"office|tasks?q=%E5%B0%BE%E7%9F%BF%E5%BA%93&limit=50"
	"office|tasks?official=%E7%8E%8B%E5%BB%BA%E5%86%9B&limit=50"
	"office|tasks?official=%E7%8E%8B&status=in_progress&limit=50"
	"office|tasks?reopened=true&sort=code&limit=50"
	"office|tasks?limit=50"
	"chengguan|tasks?limit=50"
	"chengguan|tasks?status=in_progress&warning=red&limit=50"
	"chengguan|tasks?official=%E7%8E%8B%E5%BB%BA%E5%86%9B&limit=50"
	"ee_dept|tasks?status=in_progress&limit=50"
	"office|problems?limit=50"
	"office|problems?campaign=$CAMPAIGN&status=in_progress&sort=deadline&limit=50"
	"office|problems?lead_org=$LANZHOU&limit=50"
	"office|problems?region=$CHENGGUAN&limit=50"
	"office|problems?official=%E7%8E%8B%E5%BB%BA%E5%86%9B&limit=50"
	"office|problems?q=%E5%B0%BE%E7%9F%BF%E5%BA%93&sort=-updated_at&limit=50"
	"office|problems?category=local_specific&due_after=2026-01-01&sort=-deadline&limit=50"
	"chengguan|problems?limit=50"
	"chengguan|problems?q=%E5%B0%BE%E7%9F%BF%E5%BA%93&limit=50"
	"ee_dept|problems?status=completed&limit=50"
)

# --- 2. plans -------------------------------------------------------------------
echo "== EXPLAIN (ANALYZE, BUFFERS) of the list statements as the service runs them"
q "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'"
q "ALTER DATABASE $DB SET auto_explain.log_min_duration = 0"
q "ALTER DATABASE $DB SET auto_explain.log_analyze = on"
q "ALTER DATABASE $DB SET auto_explain.log_buffers = on"
q "ALTER DATABASE $DB SET auto_explain.log_timing = on"
bench_serve --threads 8 --db-pool 1
declare -A TOKENS
for who in office chengguan ee_dept; do TOKENS[$who]=$(bench_token "$who"); done
seq_scans=0
curl -sf -o /dev/null -H "Authorization: Bearer ${TOKENS[office]}" "$BASE/api/v1/tasks/$TASK_ID_MIN"
for entry in "${LISTS[@]}"; do
	who=${entry%%|*} query=${entry#*|}
	# twice: the first use on a connection prepares; show the second (custom plan)
	curl -sf -o /dev/null -H "Authorization: Bearer ${TOKENS[$who]}" "$BASE/api/v1/$query"
	before=$(stat -c %s "$PGLOG")
	n=$(curl -sf -H "Authorization: Bearer ${TOKENS[$who]}" "$BASE/api/v1/$query" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
	sleep 0.2
	plan=$(tail -c +"$((before + 1))" "$PGLOG" | awk '/duration: .* plan:/ {d=$0} /Query Text: WITH (page|cand) AS/ {p=1; print d} p && /Query Text: SELECT rectify.begin_request/ {p=0} p' |
		sed -e 's/^.*LOG:  duration: /duration: /' -e '/Query Text:/d' |
		grep -v -E '^\s*(Output|->  Result  \(cost=0\.00\.\.0\.01)' | grep -E -- '->|duration|Index Cond|Recheck|Filter|Rows Removed|Buffers|Execution|Sort Method|Heap Blocks|Limit|Planning' || true)
	echo "--- GET /api/v1/$query  (as $who, $n items)"
	# q= lists hold both strategies (tasks.c TASK_LIST_Q): the one not taken is "never executed"
	echo "$plan" | grep -E -- '->|duration|Index Cond|Rows Removed|Heap Blocks|Buffers: shared' | grep -v 'never executed' |
		sed 's/^/    /' | sed -n '1,40p' || true
	if [[ -z $plan ]]; then
		echo "    !!! no plan found in $PGLOG"
		seq_scans=$((seq_scans + 1))
	elif echo "$plan" | grep -E 'Seq Scan on (tasks|problems)' | grep -q -v 'never executed'; then
		echo "    !!! Seq Scan on tasks or problems"
		seq_scans=$((seq_scans + 1))
	fi
done
if [[ -n ${ONLY_PLANS:-} ]]; then
	[[ $seq_scans -eq 0 ]] || { echo "$seq_scans plan(s) with a Seq Scan on tasks or problems" >&2; exit 1; }
	exit 0
fi
kill "$SERVICE_PID"
wait "$SERVICE_PID" 2>/dev/null || true
q "ALTER DATABASE $DB RESET ALL"

# --- 3. throughput ----------------------------------------------------------------
bench_serve --threads 64   # the pool: its default, two connections per core
for who in office chengguan ee_dept; do TOKENS[$who]=$(bench_token "$who"); done
wrk_summary() {
	awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 90%/ {p90=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
	     END {printf "%s req/s  p50 %s  p90 %s  p99 %s%s\n", rps, p50, p90, p99, bad ? "  NON-2XX " bad : ""}'
}

echo "== GET /api/v1/tasks/{id}, random ids, one client (wrk -t1 -c1 -d$LIST_DURATION)"
wrk -t1 -c1 -d"$LIST_DURATION" --latency -s "$ROOT/tests/bench/random_task.lua" \
	-H "Authorization: Bearer ${TOKENS[office]}" "$BASE" | wrk_summary
echo "== GET /api/v1/tasks/{id}, random ids $TASK_ID_MIN..$TASK_ID_MAX (wrk -t2 -c32 -d$DURATION, office)"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
wrk -t2 -c32 -d"$DURATION" --latency -s "$ROOT/tests/bench/random_task.lua" \
	-H "Authorization: Bearer ${TOKENS[office]}" "$BASE" | wrk_summary

uid=$(q "SELECT id FROM users WHERE username = 'office'")
epoch=$(q "SELECT token_epoch FROM users WHERE username = 'office'")
# The handler's statement, taken from the service's own text (Query Text of
# auto_explain above), with $1 → :id.
get_sql=$(awk '/Query Text: SELECT t.version, json_build_object/ {sub(/.*Query Text: /, ""); print; exit}' "$PGLOG")
if [[ -z $get_sql ]]; then
	echo "could not find the GET statement in $PGLOG" >&2
	exit 1
fi
script=$(mktemp)
cat >"$script" <<SQL
\set id random($TASK_ID_MIN, $TASK_ID_MAX)
BEGIN;
SELECT rectify.begin_request($uid, $epoch, 'bench'), set_config('role', 'rectify_api', true);
${get_sql//\$1/:id};
COMMIT;
SQL
echo "== pgbench -M prepared -c32 -j2 -T${DURATION%s}: identity statement + the GET statement"
pgbench -n -M prepared -c32 -j2 -T"${DURATION%s}" -f "$script" "$DBURL" 2>&1 |
	grep -E "^tps|latency average|ERROR|error" | sed -n '1,5p'
rm -f "$script"

echo "== lists: one client (wrk -t1 -c1 -d$LIST_DURATION: the request's own latency) and 32 (wrk -t2 -c32)"
for entry in "${LISTS[@]}"; do
	who=${entry%%|*} query=${entry#*|}
	printf '%-9s %s\n' "$who" "$query"
	printf '    c1:  '
	wrk -t1 -c1 -d"$LIST_DURATION" --latency -H "Authorization: Bearer ${TOKENS[$who]}" \
		"$BASE/api/v1/$query" | wrk_summary
	[[ -n ${SKIP_C32:-} ]] && continue
	printf '    c32: '
	wrk -t2 -c32 -d"$LIST_DURATION" --latency -H "Authorization: Bearer ${TOKENS[$who]}" \
		"$BASE/api/v1/$query" | wrk_summary
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ $seq_scans -eq 0 ]] || { echo "$seq_scans plan(s) with a Seq Scan on tasks or problems" >&2; exit 1; }
