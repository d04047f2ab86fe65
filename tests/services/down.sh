#!/usr/bin/env bash
# Stops what tests/services/up.sh started and removes its data.
set -uo pipefail
STATE="${SHIRE_TEST_SERVICES:-${TMPDIR:-/tmp}/shire-test-services}"
[ -d "$STATE" ] || exit 0
pg_ctl_bin="$(command -v pg_ctl || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1)"
if [ -n "$pg_ctl_bin" ] && [ -d "$STATE/pg" ]; then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pg_ctl_bin" -D "$STATE/pg" -m fast stop; else "$pg_ctl_bin" -D "$STATE/pg" -m fast stop; fi
fi
[ -f "$STATE/s3.pid" ] && kill "$(cat "$STATE/s3.pid")" 2>/dev/null
rm -rf "$STATE"
