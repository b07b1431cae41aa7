#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the database tests (spec/postgres-harness.ts) when
# initdb/pg_ctl are missing. Needs root (apt-get); a machine that has them does nothing.
set -euo pipefail
have() { command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
have && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "postgres-install: PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2
  exit 1
fi
echo "postgres-install: installing postgresql (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The package's own cluster is not needed (the tests initdb their own): do not start it.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.scope && chmod +x /usr/sbin/policy-rc.d.scope
[ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.scope /usr/sbin/policy-rc.d
apt-get install -y -qq postgresql >/dev/null
cmp -s /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.scope && rm -f /usr/sbin/policy-rc.d
rm -f /usr/sbin/policy-rc.d.scope
have || { echo "postgres-install: pg_ctl still missing after apt-get install postgresql" >&2; exit 1; }
