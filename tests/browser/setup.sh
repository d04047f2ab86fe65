#!/usr/bin/env bash
# Installs what tests/browser/check.mjs needs: Debian's Chromium and the pinned
# npm packages (puppeteer-core, axe-core; neither downloads a browser).
# Idempotent: apt is skipped when /usr/bin/chromium exists, `npm ci` when
# node_modules already matches package-lock.json. Call it from .ci/run:
#   tests/browser/setup.sh
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Node.js and npm (present on the project's machines; Debian 12's own are v18/npm 9, enough here).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== browser setup: installing nodejs and npm from apt"
  apt_install nodejs npm ca-certificates
fi

# Chromium from Debian (never a browser download: the network only reaches the
# registries). Chromium only *recommends* a font; DejaVu keeps screenshots legible.
if [ ! -x /usr/bin/chromium ]; then
  echo "== browser setup: installing chromium from apt"
  apt_install chromium fonts-dejavu-core ca-certificates
fi

# npm packages, exactly as locked. The stamp records the lock file and node
# version that node_modules was installed from.
stamp="node_modules/.shire-setup-stamp"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1) $(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -d node_modules/puppeteer-core ] && [ -f node_modules/axe-core/axe.min.js ]; then
  echo "== browser setup: node_modules up to date"
else
  echo "== browser setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# The Debian launcher script may print a harmless "[: ... unexpected operator" on stderr.
echo "== browser setup: $(node --version), $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium: version unknown')"
