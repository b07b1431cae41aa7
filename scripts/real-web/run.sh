#!/usr/bin/env bash
# Real projects, web frameworks (BENCHMARKS.md "Real projects: web frameworks"): each app of
# this directory untraced and under `scope run` (default settings), on each Node given, its
# output compared byte for byte, and the CPU (user + sys of the program, and of scope's
# collector when traced) of a run with ROUNDS of load less a run with none (start and exit
# cancel out), per request (per message for socket.io), the median of REPS.
#
#   scripts/real-web/run.sh [node...]        (default: node, i.e. Node 20)
#
# REPS (3), ONLY (a regular expression the app's line must match, e.g. 'nest'), SCOPE (another
# build of scope, e.g. a base tree's dist/scope, to compare two).
#
# The packages (package.json here, exact versions) are installed once into $REAL_WEB_DIR
# (default /tmp/scope-real-web), never into the repo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir=${REAL_WEB_DIR:-/tmp/scope-real-web}
reps=${REPS:-3}
scope=${SCOPE:-$repo/dist/scope}
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/.installed" ]; then
  cp "$here/package.json" "$dir/package.json"
  (cd "$dir" && npm install --before=2026-11-28 --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  touch "$dir/node_modules/.installed"
fi
cp "$here"/*.cjs "$dir/"
nodes=("$@")
[ ${#nodes[@]} -eq 0 ] && nodes=(node)
# app, its arguments, the load variable, its value, and the requests (messages) it makes
apps=(
  "nest.cjs express|ROUNDS|300|3300"
  "nest.cjs fastify|ROUNDS|300|3300"
  "apollo.cjs|ROUNDS|600|3000"
  "trpc.cjs|ROUNDS|500|3000"
  "socketio.cjs|N|1000|5000"
)
cpu() { awk '{ printf "%.3f", $1 + $2 }' "$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
cd "$dir"
printf '%-8s %-20s %10s %10s %8s %s\n' node app "µs/req" "µs/req" ratio "output same, lost"
printf '%-8s %-20s %10s %10s %8s\n' "" "" untraced traced ""
for node in "${nodes[@]}"; do
  version=$("$node" --version)
  for entry in "${apps[@]}"; do
    [[ "$entry" =~ ${ONLY:-.} ]] || continue
    IFS='|' read -r app var load count <<<"$entry"
    u=() t=() same=yes lost=""
    for _ in $(seq "$reps"); do
      env "$var=0" /usr/bin/time -f '%U %S' -o u0.time "$node" $app >/dev/null 2>&1
      env "$var=$load" /usr/bin/time -f '%U %S' -o u1.time "$node" $app >u.out 2>u.err
      env "$var=0" /usr/bin/time -f '%U %S' -o t0.time "$scope" run -o real-web.bin -- "$node" $app >/dev/null 2>&1
      env "$var=$load" /usr/bin/time -f '%U %S' -o t1.time "$scope" run -o real-web.bin -- "$node" $app >t.out 2>t.err
      cmp -s u.out t.out || same=no
      lost=$(grep -o 'lost: .*' t.err | head -1)
      u+=("$(awk -v a="$(cpu u1.time)" -v b="$(cpu u0.time)" -v n="$count" 'BEGIN { printf "%.1f", (a - b) * 1e6 / n }')")
      t+=("$(awk -v a="$(cpu t1.time)" -v b="$(cpu t0.time)" -v n="$count" 'BEGIN { printf "%.1f", (a - b) * 1e6 / n }')")
    done
    um=$(printf '%s\n' "${u[@]}" | median)
    tm=$(printf '%s\n' "${t[@]}" | median)
    printf '%-8s %-20s %10s %10s %8s %s, %s\n' "$version" "$app" "$um" "$tm" "$(awk -v a="$tm" -v b="$um" 'BEGIN { printf "%.2f", a / b }')" "$same" "$lost"
  done
done
