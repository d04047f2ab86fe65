#!/usr/bin/env bash
# CI's benchmark check: Shire only, tiny counts, no installs, no network. It
# prints the table; figures are never asserted. Fails only when Shire's part
# cannot start or answer.
set -euo pipefail
exec "$(dirname "$0")/run.sh" --smoke "$@"
