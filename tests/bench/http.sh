#!/usr/bin/env bash
# HTTP core and authenticated-read throughput: wrk on loopback, 32 connections.
#   tests/bench/http.sh            (builds nothing: run cmake --build build first)
# Prints wrk's summary for /healthz (no database), GET /api/v1/me (JWT
# verification + one pipelined transaction with row-level security), and
# pgbench running the same SQL as /api/v1/me at the same concurrency.
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
bench_db bench_http
bench_serve --threads 64 --db-pool 8
TOKEN=$(bench_token office)

echo "== GET /healthz (wrk -t2 -c32 -d$DURATION)"
wrk -t2 -c32 -d"$DURATION" --latency "$BASE/healthz" | grep -E "Requests/sec|Latency|99%|50%"

echo "== GET /api/v1/me (authenticated, RLS) (wrk -t2 -c32 -d$DURATION)"
wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me" |
	grep -E "Requests/sec|Latency|99%|50%|Non-2xx"

uid=$("$ROOT/scripts/pg" psql -d bench_http -tAc "SELECT id FROM users WHERE username = 'office'")
epoch=$("$ROOT/scripts/pg" psql -d bench_http -tAc "SELECT token_epoch FROM users WHERE username = 'office'")
ME_SQL="SELECT json_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name, 'org_id', u.org_id, 'org', json_build_object('id', o.id, 'code', o.code, 'name', o.name, 'kind', o.kind), 'roles', u.roles, 'disabled', u.disabled, 'version', u.version, 'created_at', u.created_at, 'updated_at', u.updated_at, 'last_login_at', u.last_login_at)::text FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = rectify.user_id();"
with_rls=$(mktemp) without_rls=$(mktemp)
cat >"$with_rls" <<SQL
BEGIN;
SELECT rectify.begin_request($uid, $epoch, 'bench'), set_config('role', 'rectify_api', true);
$ME_SQL
COMMIT;
SQL
cat >"$without_rls" <<SQL
BEGIN;
SELECT set_config('rectify.user_id', '$uid', true);
$ME_SQL
COMMIT;
SQL
url=$("$ROOT/scripts/pg" url)
for f in "$with_rls:with begin_request + RLS" "$without_rls:owner, no RLS, no user check"; do
	echo "== pgbench (-M prepared -c32 -j2 -T10) the /me SQL, ${f#*:}"
	pgbench -n -M prepared -c32 -j2 -T10 -f "${f%%:*}" "${url%/postgres}/bench_http" 2>/dev/null |
		grep -E "^tps|latency average"
done
rm -f "$with_rls" "$without_rls"
