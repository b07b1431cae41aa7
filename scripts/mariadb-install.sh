#!/usr/bin/env bash
# Installs Debian's MariaDB server for the MySQL tests (spec/mysql-harness.ts) when
# mariadb-install-db/mariadbd are missing. Needs root (apt-get); a machine that has them does nothing.
set -euo pipefail
have() { command -v mariadb-install-db >/dev/null 2>&1 && { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; }; }
have && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "mariadb-install: MariaDB is not installed and this is not root: apt-get install mariadb-server" >&2
  exit 1
fi
echo "mariadb-install: installing mariadb-server (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The package's own server is not needed (the tests install their own data dir): do not start it.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.scope && chmod +x /usr/sbin/policy-rc.d.scope
[ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.scope /usr/sbin/policy-rc.d
apt-get install -y -qq mariadb-server >/dev/null
cmp -s /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.scope && rm -f /usr/sbin/policy-rc.d
rm -f /usr/sbin/policy-rc.d.scope
have || { echo "mariadb-install: mariadbd still missing after apt-get install mariadb-server" >&2; exit 1; }
