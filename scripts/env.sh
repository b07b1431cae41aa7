# Source this to put the pinned toolchain first on PATH: `. scripts/env.sh`
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/bin:$PATH"
