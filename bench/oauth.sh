#!/usr/bin/env bash
# bench/oauth.sh: throughput and latency of ward's authorization server,
# running as a live `ward serve` on a free loopback port, driven by
# bench/loadgen. Prints a markdown table on stdout (progress and each
# scenario's full report go to stderr).
#
#   bench/oauth.sh                      # SQLite in a temporary data dir
#   bench/oauth.sh --postgres URL       # a fresh database on that server,
#                                       # created with psql, dropped after
#
# URL is a PostgreSQL connection URL whose user may CREATE DATABASE, on
# this machine, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#
# Environment:
#   DURATION=10s      how long each scenario is measured
#   WARMUP=1s         unmeasured run before each scenario
#   SCENARIOS="cc-opaque cc-jwt introspect authcode"   which to run
#   AUTHCODE_CLIENT=confidential   or public (no secret, PKCE only)
#   AUD=              SMART aud parameter for authorize (the FHIR base URL)
#   WARD_LOG_LEVEL=warn   the server's log level (info logs every request)
#
# Only loopback is ever targeted; every scenario stops by itself. The
# server and loadgen share this machine's cores, so the figures are for
# the pair, not for the server alone.
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$script")/.."

usage() { sed -n '2,24p' "$script" | sed 's/^# \{0,1\}//'; }

pg_url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) pg_url="${2:?--postgres needs a URL}"; shift 2 ;;
    --postgres=*) pg_url="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "oauth.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
SCENARIOS=${SCENARIOS:-cc-opaque cc-jwt introspect authcode}
AUTHCODE_CLIENT=${AUTHCODE_CLIENT:-confidential}
export WARD_LOG_LEVEL=${WARD_LOG_LEVEL:-warn}
# The bench decides where ward listens and keeps its data; a caller's
# settings must not send it to a real database.
unset WARD_DATABASE_URL WARD_ISSUER WARD_ADDR WARD_DATA_DIR

log() { printf '%s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ward-oauth-bench.XXXXXX")
server_pid=""
pg_db=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true # graceful shutdown
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ]; then
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$pg_db\"" >/dev/null ||
      log "warning: could not drop database $pg_db"
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- database -----------------------------------------------------------
backend=sqlite
if [ -n "$pg_url" ]; then
  case "$pg_url" in
    postgres://* | postgresql://*) ;;
    *) log "--postgres: want a postgres:// URL"; exit 2 ;;
  esac
  scheme=${pg_url%%://*}
  rest=${pg_url#*://}
  query=""
  if [[ "$rest" == *\?* ]]; then
    query="?${rest#*\?}"
    rest=${rest%%\?*}
  fi
  authority=${rest%%/*}
  hostport=${authority##*@}
  case "$hostport" in
    "" | localhost | localhost:* | 127.[0-9]* | "[::1]" | "[::1]:"*) ;;
    *) log "--postgres: host ${hostport} is not on loopback"; exit 2 ;;
  esac
  command -v psql >/dev/null || { log "--postgres needs psql"; exit 2; }
  pg_db="ward_bench_$$_${RANDOM}"
  psql "$pg_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$pg_db\"" >/dev/null
  export WARD_DATABASE_URL="${scheme}://${authority}/${pg_db}${query}"
  backend="postgres (${hostport:-socket})"
fi

# --- build --------------------------------------------------------------
log "building ward and loadgen"
go build -o "$tmp/ward" ./cmd/ward
go build -o "$tmp/loadgen" ./bench/loadgen
loadgen="$tmp/loadgen"
data="$tmp/data"
mkdir -p "$data"
ward() { "$tmp/ward" --data-dir "$data" "$@"; }

# --- fixtures -----------------------------------------------------------
redirect_uri="http://127.0.0.1:9/cb"
user_scope="openid fhirUser offline_access launch/patient patient/*.rs"
patient_email="patient@bench.example.org"
patient_password="bench river passphrase 0123456789"

log "migrating (${backend})"
ward migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }

ward client create --name bench-cc-opaque --grant client_credentials --scope 'system/*.rs' \
  --token-format opaque --json >"$tmp/cc-opaque.json"
ward client create --name bench-cc-jwt --grant client_credentials --scope 'system/*.rs' \
  --token-format jwt --json >"$tmp/cc-jwt.json"
authcode_flags=()
if [ "$AUTHCODE_CLIENT" = public ]; then
  authcode_flags+=(--public)
fi
ward client create --name bench-authcode --grant authorization_code --grant refresh_token \
  --scope "$user_scope" --redirect-uri "$redirect_uri" ${authcode_flags[@]+"${authcode_flags[@]}"} \
  --json >"$tmp/authcode.json"
ward add-user --email "$patient_email" --password "$patient_password" --role patient >/dev/null

# --- server -------------------------------------------------------------
port=$("$loadgen" -free-port)
base="http://127.0.0.1:${port}"
log "starting ward serve on ${base}"
"$tmp/ward" --data-dir "$data" serve --addr "127.0.0.1:${port}" >"$tmp/server.log" 2>&1 &
server_pid=$!

server_failed() {
  log "ward serve $1; the end of its log:"
  tail -n 40 "$tmp/server.log" >&2 || true
  exit 1
}
ready=false
for _ in $(seq 1 60); do
  kill -0 "$server_pid" 2>/dev/null || server_failed "exited"
  if "$loadgen" -url "$base" -scenario ready -wait-ready 1s 2>/dev/null; then
    ready=true
    break
  fi
done
[ "$ready" = true ] || server_failed "was not ready within a minute"

# --- scenarios ----------------------------------------------------------
rows=()
failed=0
# measure LABEL CLIENT_JSON SCENARIO CONCURRENCY [loadgen flags...]
measure() {
  local label=$1 client=$2 scenario=$3 c=$4
  shift 4
  kill -0 "$server_pid" 2>/dev/null || server_failed "died"
  log ""
  log "== ${label}, concurrency ${c}"
  local row
  if row=$("$loadgen" -url "$base" -client-json "$client" -scenario "$scenario" -c "$c" \
    -duration "$DURATION" -warmup "$WARMUP" -format markdown -label "$label" "$@"); then
    rows+=("$row")
  else
    rows+=("| ${label} | ${c} | failed | - | - | - |")
    failed=$((failed + 1))
  fi
}

authcode_args=(-user "$patient_email" -password "$patient_password" -redirect-uri "$redirect_uri" -scope "$user_scope")
if [ -n "${AUD:-}" ]; then
  authcode_args+=(-aud "$AUD")
fi

for s in $SCENARIOS; do
  case "$s" in
    cc-opaque) for c in 1 8 32; do measure "cc (opaque)" "$tmp/cc-opaque.json" cc "$c"; done ;;
    cc-jwt) for c in 1 8 32; do measure "cc (jwt)" "$tmp/cc-jwt.json" cc "$c"; done ;;
    introspect) for c in 8 32; do measure "introspect (opaque)" "$tmp/cc-opaque.json" introspect "$c"; done ;;
    authcode) for c in 1 8; do measure "authcode (${AUTHCODE_CLIENT})" "$tmp/authcode.json" authcode "$c" "${authcode_args[@]}"; done ;;
    *) log "unknown scenario $s (want cc-opaque, cc-jwt, introspect, authcode)"; exit 2 ;;
  esac
done

# --- report -------------------------------------------------------------
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then
  rev="${rev}+dirty"
fi
echo
echo "ward ${rev}, ${backend}, $(nproc 2>/dev/null || echo '?') cores shared by server and load generator," \
  "${DURATION} per scenario after ${WARMUP} warm-up; authcode req/s are whole rounds" \
  "(authorize, sign-in, consent, token)."
echo
echo "| scenario | concurrency | req/s | p50 | p99 | errors |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
[ "$failed" -eq 0 ]
