# Shared by scripts/*-instructions.sh: counting instructions under valgrind, a figure the
# machine's load does not move. Source it after scripts/env.sh.

# Fails with one line when valgrind is missing. $1: the calling script's name.
valgrind_required() {
  command -v valgrind > /dev/null || { echo "scope: $1 needs valgrind (apt-get install valgrind)" >&2; exit 1; }
}

# Checks for valgrind ($1: the calling script's name) and makes the script's work dir, in the
# global `out`, removed at exit with any further paths given unless KEEP is set (then its
# path is printed).
valgrind_work_dir() {
  valgrind_required "$1"
  shift
  out="$(mktemp -d)"
  local remove
  printf -v remove ' %q' "$out" "$@"
  if [ -n "${KEEP:-}" ]; then echo "work dir: $out" >&2; else trap "rm -rf$remove" EXIT; fi
}

# Builds a tree's native artifacts into a prefix for valgrind, which cannot decode the
# AVX-512 a native (-Dcpu=native) build may use. $1: tree, $2: prefix, $3: cpu (x86_64_v3
# unless given).
valgrind_build() {
  (cd "$1" && zig build -Doptimize=ReleaseFast -Dcpu="${3:-x86_64_v3}" --prefix "$2" > /dev/null)
}

# Instructions counted by cachegrind, read from the log holding its summary. $1: log file.
cachegrind_refs() {
  grep -E 'I +refs' "$1" | tr -d ',' | awk '{print $NF}'
}

# Instructions spent in V8's optimizing compilers (Maglev and TurboFan, OSR too) in a
# callgrind profile: the inclusive counts of Compiler::CompileOptimized and
# Compiler::CompileOptimizedOSR. Whole only when node ran with --single-threaded (otherwise the
# compile jobs run on V8's background threads, not under these). $1: callgrind out file.
optimizing_compile_refs() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk '/v8::internal::Compiler::CompileOptimized(OSR)?\(/ { gsub(",", "", $1); sum += $1 } END { printf "%d\n", sum }'
}

# What tracing adds per unit of a workload, from cachegrind logs at two sizes: the slope of
# traced over untraced between them, and the fixed part (the intercept: start-up, JIT).
# Logs: $1/untraced-SIZE.log and $1/NAME-SIZE.log (a traced run's summary says `lost: none`).
# $1: dir, $2: low size, $3: high size, $4: the sizes' unit ("calls"), $5: events a unit,
# $6: what the added figure is per ("call"), $7: what the fixed part holds; then the names.
slope_report() {
  local dir=$1 low=$2 high=$3 unit=$4 per=$5 label=$6 fixed=$7 name untraced_low untraced_high
  shift 7
  untraced_low=$(cachegrind_refs "$dir/untraced-$low.log")
  untraced_high=$(cachegrind_refs "$dir/untraced-$high.log")
  echo "untraced: $untraced_low instructions at $low $unit, $untraced_high at $high"
  for name in "$@"; do
    grep -q 'lost: none' "$dir/$name-$high.log" || echo "$name: records lost or run failed (see a rerun)"
    awk -v n="$name" -v l="$low" -v h="$high" -v ul="$untraced_low" -v uh="$untraced_high" \
      -v tl="$(cachegrind_refs "$dir/$name-$low.log")" -v th="$(cachegrind_refs "$dir/$name-$high.log")" \
      -v unit="$unit" -v per="$per" -v label="$label" -v fixed="$fixed" 'BEGIN {
      added = ((th - tl) - (uh - ul)) / (h - l)
      printf "%s: %.0f instructions at %d %s, %.0f at %d; added per %s %.1f, fixed (%s) %.0f M\n", n, tl, l, unit, th, h, label, added / per, fixed, ((tl - ul) - added * l) / 1e6
    }'
  done
}

# The preview walk's own cost in each tree (none given: $here): the tree's
# src/agent/shared/preview.ts bundled alone, `node LOOP BUNDLE N EXTRA...` counted at two loop
# lengths, the slope printed per iteration (start-up and JIT out). Uses $out.
# $1: the loop script, $2: low N, $3: high N, $4: what an iteration is; then EXTRA args, `--`, the trees.
preview_walk_slope() {
  local loop=$1 low=$2 high=$3 label=$4 tree name counts n
  local extra=()
  shift 4
  while [ $# -gt 0 ] && [ "$1" != -- ]; do extra+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for tree in "${@:-$here}"; do
    name="$(basename "$(cd "$tree" && pwd)")"
    (cd "$tree" && bun build src/agent/shared/preview.ts --target node --format cjs --outfile "$out/$name.cjs" >/dev/null)
    counts=()
    for n in "$low" "$high"; do
      valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$loop" "$out/$name.cjs" "$n" "${extra[@]}" >"$out/log" 2>&1
      counts+=("$(cachegrind_refs "$out/log")")
    done
    echo "$name: $(( (counts[1] - counts[0]) / (high - low) )) instructions per $label"
  done
}
