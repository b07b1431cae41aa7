#!/usr/bin/env bash
# Where the instructions of the transform workload's first start go (issue 12): callgrind over
# node under `scope run --functions` (calls level, typescript, marked, yaml; an empty transform
# cache), each thread on its own, then the main thread's and the other threads' instructions by
# part (V8's parser and bytecode, TurboFan, builtins, GC, oxc's Rust parse, SHA-256, the code
# cache serializer, libc), by the names callgrind gives native code. Also `untraced`: node alone.
#
#   . scripts/env.sh && bash scripts/start-callgrind.sh [untraced]
#
# JIT code has no names here (scripts/callgrind-jit-names.cjs names it, with --perf-basic-prof,
# which itself costs line-end scans). Load-independent; one run takes ~1.5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
dir=$(mktemp -d /tmp/scope-start-callgrind-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required start-callgrind.sh
valgrind_build . "$dir/zig"
. "$here/scripts/lib/start-workload.sh"
vg=(valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.%p" node "$start_program" "$dir/r.json" "$start_params")
if [ "${1:-}" = untraced ]; then
  "${vg[@]}" > /dev/null 2>&1
else
  XDG_CACHE_HOME="$dir/cache" SCOPE_ADDON="$dir/zig/lib/scope.node" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
    bun src/cli/main.ts run --ring-size 64MiB \
    --functions="$start_functions" \
    --out "$dir/t.bin" -- "${vg[@]}" > /dev/null 2>&1
fi
# The parts of one or more callgrind files (threads), added up.
parts() {
  for file in "$@"; do callgrind_annotate --threshold=100 "$file" 2>/dev/null; done | awk '
    /^Ir / { on = 0 }
    /file:function/ { on = 1; next }
    on && /\[/ {
      n = $1; gsub(",", "", n); n += 0; c = "other (runtime, ICs, strings, node)"
      if ($0 ~ /parser\.linux/) c = "oxc (Rust parse)"
      else if ($0 ~ /\?\?\?:0x/ && $0 ~ /\[\?\?\?\]/) c = "JIT code"
      else if ($0 ~ /Builtins_/) c = "builtins and interpreter"
      else if ($0 ~ /compiler::|turboshaft/) c = "TurboFan"
      else if ($0 ~ /Scanner|Parser|PreParser|AstValueFactory|Scope::|DeclarationScope|AstRawString|interpreter::Bytecode|BytecodeGenerator|ConstantArrayBuilder|Zone/) c = "JS parse and bytecode"
      else if ($0 ~ /Scaveng|MarkCompact|Marking|Sweeper|Heap::|Evacuat|RememberedSet|SlotSet|MemoryAllocator|MemoryChunk|PagedSpace|LargeObject/) c = "GC"
      else if ($0 ~ /sha256|SHA256/) c = "SHA-256"
      else if ($0 ~ /Serializer|SnapshotByteSink|Deserializer/) c = "code cache (de)serializer"
      else if ($0 ~ /libc\.so/) c = "libc"
      s[c] += n; t += n
    }
    END { for (k in s) printf "  %8.1f M  %s\n", s[k] / 1e6, k; printf "  %8.1f M  total\n", t / 1e6 }' | sort -rn
}
main=$(ls "$dir"/cg.*-01)
echo "main thread:"
parts "$main"
others=$(ls "$dir"/cg.*-* | grep -v -- "-01$" || true)
if [ -n "$others" ]; then
  echo "other threads (V8's compiler and GC helpers, libuv):"
  # shellcheck disable=SC2086
  parts $others
fi
