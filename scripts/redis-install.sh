#!/usr/bin/env bash
# Installs Debian's Redis server for the Redis tests (spec/redis-harness.ts) when
# redis-server is missing. Needs root (apt-get); a machine that has it does nothing.
set -euo pipefail
have() { command -v redis-server >/dev/null 2>&1; }
have && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "redis-install: Redis is not installed and this is not root: apt-get install redis-server" >&2
  exit 1
fi
echo "redis-install: installing redis-server (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
# Another apt run (another install script) may hold dpkg's lock: wait for it.
apt-get -o DPkg::Lock::Timeout=600 update -qq
# The package's own server is not needed (the tests start their own): do not start it.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.scope && chmod +x /usr/sbin/policy-rc.d.scope
[ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.scope /usr/sbin/policy-rc.d
apt-get -o DPkg::Lock::Timeout=600 install -y -qq redis-server >/dev/null
cmp -s /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.scope && rm -f /usr/sbin/policy-rc.d
rm -f /usr/sbin/policy-rc.d.scope
have || { echo "redis-install: redis-server still missing after apt-get install redis-server" >&2; exit 1; }
