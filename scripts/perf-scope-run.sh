#!/bin/bash
# Where `scope run`'s own process spends CPU while the program runs, by thread and function
# (BENCHMARKS.md "scope run's own CPU while the program runs"): starts `<scope> run`, and
# from when its child appears until the child has ended records scope's process (every
# thread, -p) with perf; then:
#   perf report -i <out.data> --no-children --stdio --sort pid -g none          # by thread
#   perf report -i <out.data> --tid <drain tid> --children --stdio --sort sym -g none
# usage: bash scripts/perf-scope-run.sh <scope> <out.data> -- <program...>
set -u
SCOPE=$1
OUT=$2
shift 3
"$SCOPE" run --out /tmp/perf-scope-run-$$.bin -- "$@" >/dev/null 2>/tmp/perf-scope-run-$$.err &
SP=$!
while :; do
  # The program (scope's group probe, a `cat`, is its child too).
  CHILD=$(ps -o pid=,comm= --ppid "$SP" | awk -v c="$(basename "$1")" '$2 == c {print $1; exit}')
  [ -n "$CHILD" ] && break
  sleep 0.001
done
perf record -F 25000 -g -p "$SP" -o "$OUT" >/dev/null 2>&1 &
PP=$!
while [ -e "/proc/$CHILD" ] && [ "$(awk '{print $3}' "/proc/$CHILD/stat" 2>/dev/null)" != Z ]; do sleep 0.002; done
kill -INT "$PP"
wait "$PP"
wait "$SP"
tail -1 /tmp/perf-scope-run-$$.err
rm -f /tmp/perf-scope-run-$$.bin /tmp/perf-scope-run-$$.err
