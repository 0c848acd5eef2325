#!/usr/bin/env bash
# GET /api/v1/complaints (the list) over N (default 100 000) complaints.
#   tests/bench/complaints_list.sh          (builds nothing: cmake --build build first)
#   COMPLAINTS=100000 DURATION=5s ONLY_PLANS=1 tests/bench/complaints_list.sh
# 1. loads the complaints with tests/bench/complaints_load.sql (generate_series
#    as the owner, triggers off; 21 counties, 60 % received, 30 % investigating
#    and overdue, 10 % resolved), then gives the planted repeats (2 %) and their
#    originals a repeat group and the resolved ones a verdict;
# 2. EXPLAIN (ANALYZE, BUFFERS) of the list's statements as the service runs
#    them (auto_explain on the service's connection, nested statements too, so
#    the plan of rectify.complaint_list_ids shows) for each filter combination,
#    as the office (province-wide) and as the 城关区 unit; fails if a plan
#    reads complaints with a Seq Scan;
# 3. wrk, one client, each combination: p50/p90/p99 of the whole request.
# Target (issue 5, as for the ledger): p50 < 10 ms for any filter combination
# over 100 000 rows, no sequential scans.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
COMPLAINTS=${COMPLAINTS:-100000}
DURATION=${DURATION:-5s}
DB=bench_clist
PGLOG=$RECTIFY_PGDATA.log

bench_db $DB

echo "== loading $COMPLAINTS complaints"
start=$(date +%s.%N)
psql -X -q "$DBURL" -v n="$((COMPLAINTS * 49 / 50))" -f "$ROOT/tests/bench/complaints_load.sql"
psql -X -q "$DBURL" <<'SQL'
\set ON_ERROR_STOP 1
SET session_replication_role = replica;
-- repeat groups: each planted repeat with its original
CREATE TEMP TABLE s_pair AS
SELECT o.id AS orig, r.id AS rep, row_number() OVER (ORDER BY o.id) AS n
  FROM complaints o JOIN complaints r ON r.campaign_id = o.campaign_id AND r.handover_no = o.handover_no || 'R';
INSERT INTO complaint_repeat_groups (case_plan) SELECT '并案办理' FROM s_pair ORDER BY n;
CREATE TEMP TABLE s_group AS SELECT id, row_number() OVER (ORDER BY id) AS n FROM complaint_repeat_groups;
UPDATE complaints c SET repeat_group_id = g.id FROM s_pair p JOIN s_group g ON g.n = p.n
 WHERE c.id IN (p.orig, p.rep);
UPDATE complaints SET verdict = (ARRAY['true', 'partly_true', 'false'])[1 + id % 3] WHERE status = 'resolved';
RESET session_replication_role;
VACUUM ANALYZE complaints;
SELECT count(*) FILTER (WHERE repeat_group_id IS NOT NULL) AS in_repeat_groups,
       count(*) FILTER (WHERE verdict IS NOT NULL) AS with_verdict FROM complaints;
SQL
printf 'loaded in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
echo "   schema: $(q "SELECT max(name) FROM rectify_schema_migrations")"

CG=$(q "SELECT id FROM orgs WHERE code = '620102'")      # 城关区 (county)
LZ=$(q "SELECT id FROM orgs WHERE code = '620100'")      # 兰州市 (prefecture: 4 of the counties)
QLH=$(q "SELECT id FROM orgs WHERE code = '620103'")     # 七里河区
CAMPAIGN=$(q "SELECT id FROM campaigns WHERE round = 91")
BATCH=$(q "SELECT id FROM complaint_batches WHERE campaign_id = $CAMPAIGN AND batch_no = 7")
u() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
# who|query (limit=50 everywhere)
LISTS=(
	"office|complaints?limit=50"
	"office|complaints?q=$(u 尾矿库)&limit=50"
	"office|complaints?q=$(u 没有这个词)&limit=50"
	"office|complaints?q=$(u 西固区宏达化工)&limit=50"
	"office|complaints?q=$(u 已经持续半年多，请尽快核实)&limit=50"
	"office|complaints?status=investigating&limit=50"
	"office|complaints?status=resolved&verdict=true&limit=50"
	"office|complaints?type=noise&grade=key&limit=50"
	"office|complaints?type=radiation&limit=50"
	"office|complaints?county=$CG&limit=50"
	"office|complaints?county=$LZ&status=received&limit=50"
	"office|complaints?responsible_org_id=$QLH&overdue=true&limit=50"
	"office|complaints?overdue=false&has_repeats=true&limit=50"
	"office|complaints?received_from=2023-12-10&received_to=2023-12-10&limit=50"
	"office|complaints?campaign_id=$CAMPAIGN&batch_id=$BATCH&type=water&q=$(u 城关区)&limit=50"
	"chengguan|complaints?limit=50"
	"chengguan|complaints?q=$(u 尾矿库)&limit=50"
	"chengguan|complaints?q=$(u 没有这个词)&limit=50"
	"chengguan|complaints?status=investigating&overdue=true&limit=50"
	"chengguan|complaints?type=ecology&has_repeats=true&limit=50"
	"chengguan|complaints?county=$QLH&limit=50"
	"chengguan|complaints?received_from=2023-12-10&received_to=2023-12-20&grade=key&limit=50"
)

# --- 2. plans -------------------------------------------------------------------
echo "== EXPLAIN (ANALYZE, BUFFERS) of the list's statements as the service runs them"
q "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'"
q "ALTER DATABASE $DB SET auto_explain.log_min_duration = 0"
q "ALTER DATABASE $DB SET auto_explain.log_analyze = on"
q "ALTER DATABASE $DB SET auto_explain.log_buffers = on"
q "ALTER DATABASE $DB SET auto_explain.log_timing = on"
q "ALTER DATABASE $DB SET auto_explain.log_nested_statements = on"
bench_serve --threads 8 --db-pool 1
declare -A TOKENS
for who in office chengguan; do TOKENS[$who]=$(bench_token "$who"); done
seq_scans=0
for entry in "${LISTS[@]}"; do
	who=${entry%%|*} query=${entry#*|}
	# twice: the first use on a connection prepares; show the second
	curl -sf -o /dev/null -H "Authorization: Bearer ${TOKENS[$who]}" "$BASE/api/v1/$query"
	before=$(stat -c %s "$PGLOG")
	n=$(curl -sf -H "Authorization: Bearer ${TOKENS[$who]}" "$BASE/api/v1/$query" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
	sleep 0.2
	# every plan logged for the request but the identity statement's
	plan=$(tail -c +"$((before + 1))" "$PGLOG" |
		awk '/duration: .* plan:/ {p = 0; d = $0} /Query Text:/ && !/begin_request|set_config|FROM users u/ {p = 1; print d} p' |
		sed -e 's/^.*LOG:  duration: /duration: /' -e '/Query Text:/d' |
		grep -v -E '^\s*(Output|->  Result  \(cost=0\.00\.\.0\.01)' || true)
	echo "--- GET /api/v1/$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "$query")  (as $who, $n items)"
	echo "$plan" | grep -E -- '->|duration|Index Cond|Filter|Rows Removed|Heap Blocks|Buffers: shared' |
		grep -v 'never executed' | cut -c1-180 | sed 's/^/    /' | sed -n '1,60p' || true
	if [[ -z $plan ]]; then
		echo "    !!! no plan found in $PGLOG"
		seq_scans=$((seq_scans + 1))
	elif echo "$plan" | grep -E 'Seq Scan on complaints' | grep -q -v 'never executed'; then
		echo "    !!! Seq Scan on complaints"
		seq_scans=$((seq_scans + 1))
	fi
done
kill "$SERVICE_PID"
wait "$SERVICE_PID" 2>/dev/null || true
q "ALTER DATABASE $DB RESET ALL"
if [[ -n ${ONLY_PLANS:-} ]]; then
	[[ $seq_scans -eq 0 ]] || { echo "$seq_scans plan(s) with a Seq Scan on complaints" >&2; exit 1; }
	exit 0
fi

# --- 3. latency -------------------------------------------------------------------
bench_serve --threads 16 --db-pool 4
for who in office chengguan; do TOKENS[$who]=$(bench_token "$who"); done
wrk_summary() {
	awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 90%/ {p90=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
	     END {printf "%s req/s  p50 %s  p90 %s  p99 %s%s\n", rps, p50, p90, p99, bad ? "  NON-2XX " bad : ""}'
}
echo "== one client each (wrk -t1 -c1 -d$DURATION; load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
for entry in "${LISTS[@]}"; do
	who=${entry%%|*} query=${entry#*|}
	printf '%-9s %-70s ' "$who" "$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "${query#complaints?}")"
	wrk -t1 -c1 -d"$DURATION" --latency -H "Authorization: Bearer ${TOKENS[$who]}" \
		"$BASE/api/v1/$query" | wrk_summary
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ $seq_scans -eq 0 ]] || { echo "$seq_scans plan(s) with a Seq Scan on complaints" >&2; exit 1; }
