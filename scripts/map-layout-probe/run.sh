#!/bin/bash
# Prints, for a few records, each map's words (instance size, in-object start, instance type,
# bit_field3), its DescriptorArray's entries (key, PropertyDetails' kind, location,
# representation, field index) and each field's value (Smi, HeapNumber, string, oddball), and the
# read-only roots: the layouts zig/napi.zig "One crossing a send" reads (BENCHMARKS.md "One
# crossing a send"). Usage: scripts/map-layout-probe/run.sh [NODE...] (default: node).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../env.sh"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
zig cc -O2 -shared -fPIC -I/usr/include/node -o "$out/probe.node" "$here/probe.c" -Wl,--allow-shlib-undefined
for node in "${@:-node}"; do "$node" "$here/records.cjs" "$out/probe.node"; done
