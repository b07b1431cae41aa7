#!/usr/bin/env bash
# Debian's chromium for the `scope view` page tests (spec/view-page.test.ts, driven by
# playwright-core). Idempotent: nothing to do when /usr/bin/chromium is there. Needs root (apt-get).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "chromium-install: /usr/bin/chromium is missing and this is not root: apt-get install chromium" >&2
  exit 1
fi
echo "chromium-install: installing chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x /usr/bin/chromium ] || { echo "chromium-install: /usr/bin/chromium still missing after apt-get install chromium" >&2; exit 1; }
