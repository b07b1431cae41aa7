#!/usr/bin/env bash
# Instructions (valgrind cachegrind, load-independent) of one cold instrument() pass over the
# transform corpus in node (typescript.js, marked, yaml: 9.2 MB, "full" level), as a first
# start transforms: with column shifts for stacks (the default under Node >= 20.19) and with
# the inline maps (SCOPE_INLINE_MAPS=1), and a run that only reads the files (node's own start).
#   . scripts/env.sh && bash scripts/pipeline-instructions.sh [level]
# Needs valgrind (apt-get install valgrind). The runs go in parallel; MODES="shifts" runs only that one.
set -euo pipefail
level="${1:-full}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d /tmp/scope-pipeline-instructions-XXXXXX)"
trap 'rm -rf "$out"' EXIT
cd "$root"
. scripts/lib/valgrind.sh
valgrind_required pipeline-instructions.sh
bun -e "
const { oxcBindingPlugin } = require('./src/core/oxc-plugin');
const r = await Bun.build({ entrypoints: ['src/instrument/index.ts'], outdir: '$out', target: 'node', format: 'cjs', naming: 'instrument.cjs', plugins: [oxcBindingPlugin()] });
if (!r.success) throw new Error(r.logs.map(String).join('\n'));
const { corpusFiles } = require('./src/bench/instrument');
require('fs').writeFileSync('$out/files.json', JSON.stringify(corpusFiles));
"
binding="$(bun -e "console.log(require('./src/core/assets').oxcBindingSource() ?? '')")"
cat >"$out/pass.cjs" <<JS
const files = require("./files.json").map((f) => [f, require("fs").readFileSync(f, "utf8")]);
if (process.argv[2] !== "none") {
  const lib = require("./instrument.cjs");
  const config = { root: "/", include: ["**/node_modules/**"], level: "$level", ...(process.argv[2] === "shifts" ? { shiftsForStacks: true } : {}) };
  for (const [f, c] of files) if (lib.instrument(c, f, { config }).status !== "instrumented") throw new Error(f);
}
JS
for mode in ${MODES:-none maps shifts}; do
  SCOPE_OXC_BINDING="$binding" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$out/pass.cjs" "$mode" >"$out/$mode.log" 2>&1 &
done
wait
for mode in ${MODES:-none maps shifts}; do
  printf '%-7s %s instructions\n' "$mode" "$(cachegrind_refs "$out/$mode.log")"
done
