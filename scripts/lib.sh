# shellcheck shell=bash
# Shared helpers for scripts/run, scripts/test and scripts/pg.
# Sourced, never executed.  The caller has already set `set -euo pipefail`.

# The one list of Debian 12 packages the project needs.
# shellcheck disable=SC2034  # used by the scripts that source this file
# Build + run (scripts/run, the Dockerfile's build stage mirrors the -dev part;
# Node.js and npm build the API reference of /docs with the pinned Redocly CLI):
RECTIFY_PKGS_RUN=(
	build-essential cmake pkg-config
	libcivetweb-dev libcjson-dev libjwt-dev libcurl4-openssl-dev libpq-dev
	libsodium-dev libxlsxwriter-dev
	postgresql-15 postgresql-contrib
	python3 python3-yaml curl ca-certificates openssl
	nodejs npm
)
# What scripts/test needs on top of that (chromium, its driver and a CJK
# font for tests/api/test_docs_browser.py and its screenshot):
RECTIFY_PKGS_TEST=(
	clang libclang-rt-14-dev valgrind wrk postgresql-client-15
	python3-cryptography jq
	chromium chromium-driver fonts-wqy-microhei
)

RECTIFY_PGBIN=${RECTIFY_PGBIN:-/usr/lib/postgresql/15/bin}

rectify_log() { printf '==> %s\n' "$*" >&2; }
rectify_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# rectify_pkg_present PKG: true when PKG (or what it provides) is installed.
rectify_pkg_present() {
	local pkg=$1
	case $pkg in
	# Node.js may come from another distribution channel that bundles npm
	# (and conflicts with Debian's npm package): the commands are what count.
	nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
	npm) command -v npm >/dev/null 2>&1 && return 0 ;;
	esac
	dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed
}

# rectify_ensure_packages PKG...: install the missing ones with apt-get.
rectify_ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		rectify_pkg_present "$pkg" || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0

	local sudo=()
	if ((EUID != 0)); then
		if command -v sudo >/dev/null 2>&1 && { [[ -t 0 ]] || sudo -n true 2>/dev/null; }; then
			sudo=(sudo)
		else
			printf 'error: missing Debian packages: %s\n' "${missing[*]}" >&2
			printf 'install them as root with:\n  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' \
				"${missing[*]}" >&2
			exit 1
		fi
	fi
	rectify_log "installing missing packages: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# rectify_require_cmakelists ROOT: fail loudly when the build is not there.
rectify_require_cmakelists() {
	[[ -f $1/CMakeLists.txt ]] ||
		rectify_die "$1/CMakeLists.txt is missing: nothing to build"
}

# rectify_cmake_build SRC BUILDDIR [cmake configure args...]
rectify_cmake_build() {
	local src=$1 dir=$2
	shift 2
	rectify_log "configuring $dir"
	cmake -S "$src" -B "$dir" "$@" || return 1
	rectify_log "building $dir"
	cmake --build "$dir" -j"$(nproc)" || return 1
}

# rectify_jwt_secret ROOT: print the dev JWT secret, made once in .data/.
# rectify_pii_key ROOT: print the dev key for complainants' personal data
# (32 random bytes, base64), made once in .data/. Losing it loses the data.
rectify_pii_key() {
	local file=$1/.data/pii-key
	if [[ ! -s $file ]]; then
		mkdir -p "$1/.data"
		(
			umask 077
			openssl rand -base64 32 | tr -d '\n' >"$file.tmp"
			mv "$file.tmp" "$file"
		)
	fi
	chmod 600 "$file"
	cat "$file"
}

rectify_jwt_secret() {
	local file=$1/.data/jwt-secret
	if [[ ! -s $file ]]; then
		mkdir -p "$1/.data"
		(
			umask 077
			openssl rand -base64 48 | tr -d '\n' >"$file.tmp"
			mv "$file.tmp" "$file"
		)
	fi
	chmod 600 "$file"
	cat "$file"
}

# rectify_free_port: print a TCP port that is free on 127.0.0.1 right now.
rectify_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}
