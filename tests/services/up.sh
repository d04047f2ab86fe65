#!/usr/bin/env bash
# Starts the shared backend's services for the tests, on loopback, with their
# data in a temporary folder: PostgreSQL (Debian's `postgresql` package) and
# an S3 API (the `moto` server from PyPI, in a virtualenv). Installs them
# first when they are missing. Idempotent: services already started by an
# earlier call are reused. Prints the settings the tests read:
#
#   eval "$(tests/services/up.sh)"   # SHIRE_TEST_POSTGRES, SHIRE_TEST_S3
#
# tests/services/down.sh stops them.
set -euo pipefail

STATE="${SHIRE_TEST_SERVICES:-${TMPDIR:-/tmp}/shire-test-services}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/shire-test-services"
mkdir -p "$STATE" "$CACHE"
exec 9>"$STATE/lock"
flock 9

say() { echo "up.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    as_root apt-get update -qq >&2
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2
}

# What this script itself runs.
for tool in python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || apt_install "$tool"
done

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_bin() {
  local tool="$1"
  if command -v "$tool" >/dev/null 2>&1; then command -v "$tool"; return; fi
  ls -d /usr/lib/postgresql/*/bin/"$tool" 2>/dev/null | sort -V | tail -1
}

# ---- PostgreSQL
if [ -z "$(pg_bin initdb)" ]; then
  say "installing PostgreSQL (apt)"
  apt_install postgresql postgresql-client
fi
INITDB="$(pg_bin initdb)"; PG_CTL="$(pg_bin pg_ctl)"; PSQL="$(pg_bin psql)"
# PostgreSQL refuses to run as root: run it as the `postgres` account then.
run_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
PGDATA="$STATE/pg"
if [ -f "$STATE/pg.port" ] && run_pg "$PG_CTL" -D "$PGDATA" status >/dev/null 2>&1; then
  PG_PORT="$(cat "$STATE/pg.port")"
else
  rm -rf "$PGDATA"
  mkdir -p "$PGDATA"
  [ "$(id -u)" = 0 ] && chown postgres "$STATE" "$PGDATA"
  run_pg "$INITDB" -D "$PGDATA" -U postgres -A trust --no-sync >/dev/null
  PG_PORT="$(free_port)"
  # Tests make and drop many small databases: durability as in production
  # (fsync on), but a small footprint.
  run_pg "$PG_CTL" -D "$PGDATA" -l "$PGDATA/log" -w \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PGDATA -c max_connections=400 -c shared_buffers=64MB" start >&2 9>&-
  echo "$PG_PORT" >"$STATE/pg.port"
fi

# ---- S3 (moto)
MOTO="$CACHE/venv/bin/moto_server"
if [ ! -x "$MOTO" ]; then
  say "installing moto[server] (PyPI) into $CACHE/venv"
  if ! python3 -m venv "$CACHE/venv" >&2 2>&1; then
    apt_install python3-venv
    rm -rf "$CACHE/venv"
    python3 -m venv "$CACHE/venv" >&2
  fi
  "$CACHE/venv/bin/pip" install -q 'moto[server]==5.1.*' >&2
fi
if [ -f "$STATE/s3.pid" ] && kill -0 "$(cat "$STATE/s3.pid")" 2>/dev/null; then
  S3_PORT="$(cat "$STATE/s3.port")"
else
  S3_PORT="$(free_port)"
  nohup "$MOTO" -H 127.0.0.1 -p "$S3_PORT" >"$STATE/s3.log" 2>&1 9>&- &
  echo $! >"$STATE/s3.pid"
  echo "$S3_PORT" >"$STATE/s3.port"
  up=no
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$S3_PORT/" >/dev/null 2>&1; then up=yes; break; fi
    sleep 0.1
  done
  if [ "$up" = no ]; then
    say "moto did not start; its log:"; cat "$STATE/s3.log" >&2; exit 1
  fi
fi
# The tests' bucket (moto keeps it in memory: made again after a restart;
# making it again is harmless).
curl -fsS -X PUT "http://127.0.0.1:$S3_PORT/shire-test" >/dev/null ||
  { say "cannot make the test bucket"; exit 1; }

echo "export SHIRE_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "export SHIRE_TEST_S3=http://127.0.0.1:$S3_PORT"
