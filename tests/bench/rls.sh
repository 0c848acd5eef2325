#!/usr/bin/env bash
# What row-level security costs per request: wrk against GET /api/v1/orgs/{id}
# and GET /api/v1/me, 16 connections, as the service runs (every transaction
# switches to role rectify_api, RLS on), and again with --db-role=postgres
# (the superuser owner: same pipeline, same round trips, RLS bypassed).
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
bench_db bench_rls
run() { # run LABEL [serve args]
	bench_serve --db-pool 8 "${@:2}"
	local token
	token=$(bench_token chengguan)
	for path in /api/v1/orgs/3 /api/v1/me; do
		printf '== %-22s %-16s ' "$1" "$path"
		wrk -t2 -c16 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$BASE$path" |
			awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
			     END {printf "%s req/s  p50 %s  p99 %s%s\n", rps, p50, p99, bad ? "  NON-2XX " bad : ""}'
	done
	kill "$SERVICE_PID"
	wait "$SERVICE_PID" 2>/dev/null || true
}
run "RLS (rectify_api)"
run "no RLS (owner)" --db-role postgres
