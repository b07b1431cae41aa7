#!/bin/bash
# Instructions a stack formatting (`new Error().stack` at a depth of 20) costs untraced and
# under `scope run --functions` (the workload instrumented), counted by cachegrind: the slope
# between two counts of formattings, per formatting, without start-up (the intercept).
#   scripts/stack-format-instructions.sh top|later COUNT_LOW COUNT_HIGH TREE...
#   e.g. scripts/stack-format-instructions.sh top 2000 6000 /tmp/before .
# top: in a module's top level (scope's frames on the stack, its limit raised: callsites.ts);
# later: in a callback after the modules ran. Needs valgrind.
set -euo pipefail
when=$1
low=$2
high=$3
shift 3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_work_dir stack-format-instructions.sh
cp "$here/scripts/stack-format-workload.cjs" "$here/scripts/stack-format-workload-top.cjs" "$out/"
names=()
for tree in "$@"; do
  name="$(basename "$(cd "$tree" && pwd)")"
  names+=("$name")
  valgrind_build "$tree" "$out/$name-zig" x86_64_v2
done
for count in "$low" "$high"; do
  (cd "$out" && valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node stack-format-workload.cjs "$count" "$when" >"$out/untraced-$count.log" 2>&1) &
  i=0
  for tree in "$@"; do
    name="${names[$i]}"
    (cd "$tree" && SCOPE_ADDON="$out/$name-zig/lib/scope.node" XDG_CACHE_HOME="$out/cache-$name" bun src/cli/main.ts run --functions --include "$out/*.cjs" --out "$out/$name-$count.bin" -- \
      valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$out/stack-format-workload.cjs" "$count" "$when" >"$out/$name-$count.log" 2>&1) &
    i=$((i + 1))
  done
  wait
done
slope_report "$out" "$low" "$high" formattings 1 formatting "start-up, transform, JIT" "${names[@]}"
