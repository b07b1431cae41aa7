#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ (idempotent) and the npm dependencies.
# Everything scope needs comes from here: a fresh machine runs this once.
set -euo pipefail
cd "$(dirname "$0")/.."
ZIG_VERSION=0.17.1   # newest stable `ziglang` on PyPI; all Zig in zig/ is written for it
BUN_VERSION=1.4.5    # npm package `bun`
root=$PWD
mkdir -p .tools

if [ "$(.tools/zig/ziglang/zig version 2>/dev/null || true)" != "$ZIG_VERSION" ]; then
  echo "bootstrap: installing zig $ZIG_VERSION (PyPI ziglang)" >&2
  rm -rf .tools/zig
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target .tools/zig "ziglang==$ZIG_VERSION"
fi
if [ "$(.tools/bun/node_modules/.bin/bun --version 2>/dev/null || true)" != "$BUN_VERSION" ]; then
  echo "bootstrap: installing bun $BUN_VERSION (npm bun)" >&2
  rm -rf .tools/bun
  npm install --silent --no-audit --no-fund --prefix .tools/bun "bun@$BUN_VERSION" 2>&1 | grep -v 'Unknown user config' >&2 || true
  [ -x .tools/bun/node_modules/.bin/bun ] || { echo "bootstrap: bun install failed" >&2; exit 1; }
fi
mkdir -p .tools/bin
# Through .tools' own real path: a .tools shared by several worktrees (a symlink) keeps
# links that do not depend on the worktree that made them.
tools=$(cd .tools && pwd -P)
ln -sf "$tools/zig/ziglang/zig" .tools/bin/zig
ln -sf "$tools/bun/node_modules/.bin/bun" .tools/bin/bun
export PATH="$root/.tools/bin:$PATH"
# npm_config_nodedir for better-sqlite3's addon build (see env.sh).
. "$root/scripts/env.sh"
bun install --frozen-lockfile --silent
