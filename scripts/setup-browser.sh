#!/usr/bin/env bash
# Idempotent: installs Debian's chromium for the browser tests (test/profile/browser.test.ts opens the
# flame graphs and the evaluation report in it through puppeteer-core). puppeteer-core downloads no
# browser of its own; the tests find this one at /usr/bin/chromium (or $DOCKLOCK_CHROMIUM).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
chromium --version 2>/dev/null | head -1
