#!/usr/bin/env bash
# Bun under --functions: CPU (user + system, process.cpuUsage, ms) of importing FILES ES modules
# of a package of type "module" (each `export const v = N; export function fN(x) { ... }`), which
# the instrument plugin hands back as text (bun-module-kind.ts esModuleText marks each). The
# transforms are cached by a first run per tree (its own cache directory); then RUNS runs, the
# trees alternated; prints each tree's runs sorted (the middle one is the median).
# Usage: bash scripts/bench-bun-esm-load.sh RUNS FILES <scope tree>...
set -euo pipefail
runs=${1:?runs}; files=${2:?files}; shift 2
dir=$(mktemp -d /tmp/bench-bun-esm-load.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/app"
echo '{"type":"module"}' > "$dir/app/package.json"
for ((i = 0; i < files; i++)); do echo "export const v = $i; export function f$i(x) { return x + $i; }" > "$dir/app/m$i.js"; done
cat > "$dir/app/main.mjs" <<JS
const t0 = process.cpuUsage();
for (let i = 0; i < $files; i++) await import(\`./m\${i}.js\`);
const d = process.cpuUsage(t0);
console.log(((d.user + d.system) / 1000).toFixed(1));
JS
cd "$dir/app"
run() { XDG_CACHE_HOME="$dir/cache-$2" "$1/dist/scope" run --functions --out "$dir/t.bin" -- bun main.mjs 2>/dev/null; }
n=0; for tree in "$@"; do run "$tree" $((n++)) >/dev/null; done
for ((r = 0; r < runs; r++)); do n=0; for tree in "$@"; do echo "$tree $(run "$tree" $((n++)))"; done; done |
  sort -k1,1 -k2,2n | awk '{a[$1] = a[$1] " " $2} END {for (k in a) print k ":" a[k]}'
echo "untraced: $(bun main.mjs)"
