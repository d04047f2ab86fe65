#!/usr/bin/env bash
# Benchmarks Shire side by side with nginx (static files) and Verdaccio (npm
# registry), on loopback, and prints one table: work, Shire's figure, the
# other's, the ratio Shire/other, the target and whether it is met.
#
#   bench/run.sh            full run (several minutes: fills Verdaccio to 10,000)
#   bench/run.sh --quick    under two minutes once installed and built
#   bench/run.sh --smoke    Shire only, tiny counts, no installs, no network:
#                           what CI runs (bench/smoke.sh)
#
# Installs what is missing: nginx and wrk (apt-get), Verdaccio (npm, into
# bench/.cache/verdaccio), Shire in release mode (cargo). Every server runs on
# 127.0.0.1 with its data in a temporary folder, and everything started is
# stopped on exit. Extra options after `--` go to the driver (e.g. `-- --json out.json`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/bench/.cache
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

mode=full
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
  shift
done

# Every process the driver starts is written here; the trap stops each one.
PIDS=$(mktemp "${TMPDIR:-/tmp}/shire-bench-pids.XXXXXX")
cleanup() {
  if [ -s "$PIDS" ]; then
    while read -r pid; do
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
      fi
    done <"$PIDS"
  fi
  rm -f "$PIDS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

apt_updated=no
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$apt_updated" = no ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    apt_updated=yes
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }

install_tools() {
  if [ -z "$(find_nginx)" ] || ! command -v wrk >/dev/null 2>&1; then
    say "installing nginx and wrk (apt-get)"
    apt_install nginx-light wrk || apt_install nginx wrk || say "could not install nginx/wrk: those columns will say n/a"
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "installing node and npm (apt-get)"
    apt_install nodejs npm || say "could not install node/npm: the Verdaccio columns will say n/a"
  fi
  VERDACCIO_DIR=$CACHE/verdaccio
  VERDACCIO=$VERDACCIO_DIR/node_modules/verdaccio/bin/verdaccio
  if [ ! -f "$VERDACCIO" ] && command -v npm >/dev/null 2>&1; then
    say "installing Verdaccio (npm) into $VERDACCIO_DIR"
    mkdir -p "$VERDACCIO_DIR"
    # verdaccio-audit's node-fetch 3 is ESM-only and breaks the require; pin 2.7.0.
    cat >"$VERDACCIO_DIR/package.json" <<'JSON'
{
  "name": "shire-bench-verdaccio",
  "private": true,
  "dependencies": { "verdaccio": "^6" },
  "overrides": { "verdaccio-audit": { "node-fetch": "2.7.0" } }
}
JSON
    (cd "$VERDACCIO_DIR" && npm install --no-audit --no-fund --loglevel=error) ||
      say "could not install Verdaccio: its columns will say n/a"
  fi
}

machine() {
  local commit dirty=""
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if ! git diff --quiet HEAD -- registry-server crates 2>/dev/null; then dirty=" (+ uncommitted server/core changes)"; fi
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r); commit $commit$dirty; $(date -u +%Y-%m-%dT%H:%MZ)"
}

# The S3 API the shared rows use outside smoke mode: s3s-fs (crates.io), a
# Rust server over a folder, which costs the machine far less per request
# than moto's Python server (6.5 ms of CPU per publish here, on the cores
# the node is measured on). Installed into bench/.cache; started on loopback;
# prints its address. A real bucket costs the node's machine nothing.
S3S_VERSION=0.14.1
start_s3s() {
  local bin=$CACHE/s3s-fs/bin/s3s-fs
  if [ ! -x "$bin" ]; then
    say "installing s3s-fs $S3S_VERSION (cargo) into $CACHE/s3s-fs"
    cargo install --quiet --locked s3s-fs --version "$S3S_VERSION" --features binary \
      --root "$CACHE/s3s-fs" >&2 || return 1
  fi
  local root port
  root=$(mktemp -d "${TMPDIR:-/tmp}/shire-bench-s3s.XXXXXX")
  mkdir -p "$root/shire-test"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" --host 127.0.0.1 --port "$port" --access-key test --secret-key test "$root" \
    >"$root.log" 2>&1 </dev/null &
  echo $! >>"$PIDS"
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && { echo "http://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  return 1
}

# The shared backend's rows need PostgreSQL and an S3 API on loopback
# (tests/services/up.sh; in smoke mode only when the caller started them, as
# .ci/run does) and a new, empty database.
shared_config() {
  if [ "$mode" = smoke ] && [ -z "${SHIRE_TEST_POSTGRES:-}" ]; then return 1; fi
  eval "$(tests/services/up.sh)" || return 1
  if [ "$mode" != smoke ]; then
    local s3s
    if s3s=$(start_s3s); then
      SHIRE_TEST_S3=$s3s
      say "shared rows: S3 API from s3s-fs at $s3s"
    else
      say "shared rows: s3s-fs did not start; using moto at $SHIRE_TEST_S3"
    fi
  fi
  local db="shire_bench_$(date +%s)_$$"
  psql "$SHIRE_TEST_POSTGRES" -qXc "CREATE DATABASE $db" >/dev/null || return 1
  local cfg
  cfg=$(mktemp "${TMPDIR:-/tmp}/shire-bench-shared.XXXXXX")
  cat >"$cfg" <<TOML
[storage]
backend = "shared"
postgres = "${SHIRE_TEST_POSTGRES%/*}/$db"
objects = "s3://shire-test/$db"

[storage.options]
aws_endpoint = "$SHIRE_TEST_S3"
aws_allow_http = "true"
aws_region = "eu-west-2"
aws_access_key_id = "test"
aws_secret_access_key = "test"
TOML
  echo "$cfg"
}

args=(--pid-file "$PIDS")
if cfg=$(shared_config); then
  args+=(--shared-config "$cfg")
else
  say "no PostgreSQL or S3 API: the shared-backend rows are left out"
fi
if [ "$mode" = smoke ]; then
  # No installs, no network, no release build: reuse the debug build CI made.
  say "building shire-registry, shire and shire-bench (debug)"
  cargo build --quiet --offline -p shire-registry -p shire -p shire-bench
  machine
  set +e
  "$TARGET/debug/shire-bench" --smoke --shire-bin "$TARGET/debug/shire-registry" \
    --client-bin "$TARGET/debug/shire" "${args[@]}" "${extra[@]}"
  code=$?
  set -e
  exit $code
fi

install_tools
say "building shire-registry, shire and shire-bench (release)"
cargo build --quiet --release -p shire-registry -p shire -p shire-bench
args+=(--client-bin "$TARGET/release/shire")
command -v npm >/dev/null 2>&1 && args+=(--npm "$(command -v npm)")

nginx_bin=$(find_nginx)
[ -n "$nginx_bin" ] && args+=(--nginx "$nginx_bin")
command -v wrk >/dev/null 2>&1 && args+=(--wrk "$(command -v wrk)")
if [ -f "$VERDACCIO" ] && command -v node >/dev/null 2>&1; then
  args+=(--verdaccio "$VERDACCIO" --node "$(command -v node)")
fi
[ "$mode" = quick ] && args+=(--quick)

machine
set +e
"$TARGET/release/shire-bench" --shire-bin "$TARGET/release/shire-registry" "${args[@]}" "${extra[@]}"
code=$?
set -e
exit $code
