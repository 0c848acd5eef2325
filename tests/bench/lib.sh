# shellcheck shell=bash
# Shared set-up for the benchmarks: a private cluster, a migrated database, a
# running service with demo users. Sourced by tests/bench/*.sh. Benchmarks
# are run by hand (they are not part of ./scripts/test); their output is what
# the issue notes quote.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=${RECTIFY_BIN:-$ROOT/build/rectify}
export RECTIFY_PGDATA=${RECTIFY_PGDATA:-$ROOT/.data/bench-pg}
export RECTIFY_PGPORT=${RECTIFY_PGPORT:-54390}
export RECTIFY_JWT_SECRET=${RECTIFY_JWT_SECRET:-bench-secret-0123456789-abcdefghijklmnopq}
export RECTIFY_PII_KEY=${RECTIFY_PII_KEY:-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
BENCH_PORT=${BENCH_PORT:-18555}
BASE=http://127.0.0.1:$BENCH_PORT

bench_db() { # bench_db NAME: fresh database, migrated, demo users; sets
	# RECTIFY_DATABASE_URL and DBURL (the same), q SQL runs one statement on it
	echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	"$ROOT/scripts/pg" start >/dev/null
	"$ROOT/scripts/pg" psql -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
	local url
	url=$("$ROOT/scripts/pg" url)
	export RECTIFY_DATABASE_URL=${url%/postgres}/$1
	DBURL=$RECTIFY_DATABASE_URL
	"$BIN" migrate 2>/dev/null
	RECTIFY_BIN=$BIN "$ROOT/scripts/seed-demo" 2>/dev/null
}

q() { psql -X -qtA "$DBURL" -c "$1"; }

bench_serve() { # bench_serve [serve args]: starts the service in the background
	RECTIFY_LOG_LEVEL=warn "$BIN" serve --listen "127.0.0.1:$BENCH_PORT" "$@" 2>/tmp/rectify-bench.log &
	SERVICE_PID=$!
	trap 'kill $SERVICE_PID 2>/dev/null || true' EXIT
	for _ in $(seq 100); do
		curl -sf "$BASE/readyz" >/dev/null && return 0
		sleep 0.1
	done
	echo "service did not start" >&2
	return 1
}

bench_token() { # bench_token USER: prints an access token
	curl -sf "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"password\":\"${RECTIFY_DEMO_PASSWORD:-Demo-Passw0rd-2026}\"}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
