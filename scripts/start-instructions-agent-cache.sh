#!/usr/bin/env bash
# Instructions of the transform workload's first and cached start (as start-instructions.sh)
# through the compiled CLI, whose agent files stay where they were extracted between runs (as
# for a user, and as in `scope bench`, whose agent directory lives as long as the bench):
# without the functions agent's V8 code cache (src/agent/node/functions-agent.ts) and with it.
#
#   . scripts/env.sh && SCOPE_BUILD_CPU=x86_64_v3 bun run build && bash scripts/start-instructions-agent-cache.sh
#
# valgrind cannot run native code built for this CPU (AVX-512): dist/scope must embed the
# x86-64-v3 build, hence SCOPE_BUILD_CPU (run `bun run build` again afterwards for a native one).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
dir=$(mktemp -d /tmp/scope-start-agent-cache-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required start-instructions-agent-cache.sh
. "$here/scripts/lib/start-workload.sh"
params="$start_params"
program="$start_program"
vg=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$program" "$dir/r.json" "$params")
traced() {
  XDG_CACHE_HOME="$dir/cache" "$here/dist/scope" run --ring-size 64MiB \
    --functions="$start_functions" \
    --out "$dir/t.bin" -- "${vg[@]}" > /dev/null 2> "$dir/err"
  cachegrind_refs "$dir/err"
}
"${vg[@]}" > /dev/null 2> "$dir/err"
untraced=$(cachegrind_refs "$dir/err")
printf '%-28s %8.3f G\n' untraced "$(awk -v a="$untraced" 'BEGIN {print a / 1e9}')"
traced > /dev/null # extracts the assets, writes the functions agent's code cache
for mode in "without agent cache" "with agent cache"; do
  rm -rf "$dir"/cache/scope/transforms-*
  without() { [ "$mode" = "without agent cache" ] && rm -f "$dir"/cache/scope/*/functions.cjs.*v8cache* || true; }
  without
  first=$(traced)
  without
  cached=$(traced)
  awk -v name="$mode" -v u="$untraced" -v f="$first" -v c="$cached" \
    'BEGIN {printf "%-28s first %8.3f G (%.2fx untraced)   cached %8.3f G (%.2fx)\n", name, f / 1e9, f / u, c / 1e9, c / u}'
done
ls "$dir"/cache/scope/*/ | grep -q 'functions.cjs.*v8cache$' || echo "scope: no functions agent code cache was written" >&2
