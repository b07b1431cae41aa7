#!/usr/bin/env bash
# Next.js under scope (BENCHMARKS.md "Real projects: Next.js"): the app in app/ (a static page,
# a dynamic page that queries PostgreSQL, a route handler that fetches from a local upstream
# and queries, a server action, a page that throws) with each Next version given, on each Node
# given, untraced and under `scope run` (default settings):
# - `next build`: its output byte for byte (timings masked), exit status, processes and their
#   endings, lost; CPU (user + sys of the whole tree, scope's collector with it) and wall.
# - `next start`: ROUNDS passes of load.cjs (18 requests each, 8 at a time), its responses byte
#   for byte, the server's exit status on Ctrl-C (SIGINT to its group), lost; what the trace
#   says (check.cjs: every request with its status and Next's route, the thrown error as a
#   failed onRequestError step, each pg query and upstream fetch in the request that made
#   it); CPU of the serving (the process group's user + sys over the load) per request.
# - Node 20 only: `next start` with `--functions --include '.next/server/app/**'` and the
#   summary's hint for `--include 'app/**'`; `bun --bun next start`; `next dev` (a few
#   requests, then Ctrl-C).
#
#   scripts/real-next/run.sh [node...]      (default: node, i.e. Node 20)
#
# NEXT_VERSIONS ("15.5.29 16.4.6"), ROUNDS (200), SCOPE (another build of scope), ONLY=start
# (`next start` alone, on the build there is: to compare two builds of scope). Each version
# is installed once into $REAL_NEXT_DIR/next-<version> (default /tmp/scope-real-next), never
# into the repo; PostgreSQL and the upstream come from services.ts (the repo's harness).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir=${REAL_NEXT_DIR:-/tmp/scope-real-next}
scope=${SCOPE:-$repo/dist/scope}
rounds=${ROUNDS:-200}
versions=(${NEXT_VERSIONS:-15.5.29 16.4.6})
nodes=("$@")
[ ${#nodes[@]} -eq 0 ] && nodes=(node)
mkdir -p "$dir"
export NEXT_TELEMETRY_DISABLED=1
hz=$(getconf CLK_TCK)

# PostgreSQL and the upstream, for the whole run.
rm -f "$dir/services.env"
bun "$here/services.ts" "$dir/services.env" >"$dir/services.log" 2>&1 &
services=$!
trap 'kill $services 2>/dev/null; wait $services 2>/dev/null' EXIT
for _ in $(seq 150); do [ -s "$dir/services.env" ] && break; sleep 0.2; done
[ -s "$dir/services.env" ] || { echo "services did not start: $(cat "$dir/services.log")" >&2; exit 1; }
set -a; . "$dir/services.env"; set +a

# CPU seconds (user + sys, reaped children included) of the processes of group $1 now.
group_cpu() {
  local ticks=0 t p
  for p in $(pgrep -g "$1"); do
    t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
    ticks=$((ticks + ${t:-0}))
  done
  awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'
}
mask_times() { sed -E 's/[0-9]+(\.[0-9]+)?(ms|s|min)\b/T/g' "$1"; }
summary_of() { grep -E '^scope:|^  lost:|^  ends:|^  [0-9]+ processes' "$1" | sed 's/^ *//' | tr '\n' ' '; }

# serve OUT PORT ROUNDS CMD...: next start in a group of its own, the load, Ctrl-C; sets cpu, status.
serve() {
  local out=$1 port=$2 n=$3
  shift 3
  setsid "$@" >"$out.out" 2>"$out.err" &
  local pid=$!
  for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
  local c0 c1
  c0=$(group_cpu "$pid")
  ACTION_ID=$action PORT=$port ROUNDS=$n node "$here/load.cjs" >"$out.load" 2>&1
  c1=$(group_cpu "$pid")
  kill -INT -- -"$pid"
  wait "$pid"
  status=$?
  cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
}

port=3300
for version in "${versions[@]}"; do
  app="$dir/next-$version"
  if [ ! -f "$app/node_modules/.installed" ]; then
    mkdir -p "$app"
    echo '{ "name": "scope-real-next", "private": true }' >"$app/package.json"
    (cd "$app" && npm install --before=2026-11-28 --no-audit --no-fund --loglevel=error --save-exact "next@$version" react@19.3.1 react-dom@19.3.1 pg@8.23.1 typescript@5.9.3 @types/react@19.3.3 @types/node@22.20.7 @types/pg@8.23.1 >/dev/null) || exit 1
    touch "$app/node_modules/.installed"
  fi
  cp -r "$here/app/." "$app/"
  cd "$app"
  for node in "${nodes[@]}"; do
    nv=$("$node" --version)
    next=(node_modules/.bin/next)
    if [ "${ONLY:-}" = start ]; then
      [ -f .next/BUILD_ID ] || { rm -rf .next; "$node" "${next[@]}" build >/dev/null 2>&1; }
    else
    # A first build: Next rewrites tsconfig.json at its first (its message is in that output only).
    rm -rf .next && "$node" "${next[@]}" build >/dev/null 2>&1
    rm -rf .next && /usr/bin/time -f '%U %S %e' -o build-u.time "$node" "${next[@]}" build >build-u.out 2>build-u.err
    bu=$?
    rm -rf .next && /usr/bin/time -f '%U %S %e' -o build-t.time "$scope" run -o build.bin -- "$node" "${next[@]}" build >build-t.out 2>build-t.err
    bt=$?
    same=no
    cmp -s <(mask_times build-u.out) <(mask_times build-t.out) && cmp -s <(mask_times build-u.err) <(sed '/^scope: /,$d' build-t.err | mask_times /dev/stdin) && same=yes
    read -r uu us uw <build-u.time
    read -r tu ts tw <build-t.time
    printf 'next %s %s build: output same %s, exit %s/%s, cpu %.1f/%.1f s (%.2f), wall %.1f/%.1f s | %s\n' "$version" "$nv" "$same" "$bu" "$bt" "$(echo "$uu + $us" | bc)" "$(echo "$tu + $ts" | bc)" "$(echo "($tu + $ts) / ($uu + $us)" | bc -l)" "$uw" "$tw" "$(summary_of build-t.err)"
    fi
    action=$("$node" -e 'console.log(Object.keys(require("./.next/server/server-reference-manifest.json").node)[0])')
    # next start: untraced, traced.
    port=$((port + 1))
    serve "$dir/u" "$port" "$rounds" "$node" "${next[@]}" start -p "$port"
    us_=$status ucpu=$cpu
    port=$((port + 1))
    serve "$dir/t" "$port" "$rounds" "$scope" run -o "$dir/start.bin" -- "$node" "${next[@]}" start -p "$port"
    ts_=$status tcpu=$cpu
    requests=$(awk '/^requests/ { print $2 }' "$dir/u.load")
    same=no
    cmp -s "$dir/u.load" "$dir/t.load" && same=yes
    printf 'next %s %s start: %s requests, responses same %s, exit %s/%s, cpu %.0f/%.0f µs a request (%.2f) | %s\n' "$version" "$nv" "$requests" "$same" "$us_" "$ts_" "$(echo "$ucpu * 1000000 / $requests" | bc -l)" "$(echo "$tcpu * 1000000 / $requests" | bc -l)" "$(echo "$tcpu / $ucpu" | bc -l)" "$(summary_of "$dir/t.err")"
    printf '  trace: %s\n' "$("$scope" dump --json "$dir/start.bin" | node "$here/check.cjs")"
  done
  [ "${ONLY:-}" = start ] && { cd "$dir"; continue; }
  # Node 20 (the first node given) only: functions, Bun, next dev.
  node=${nodes[0]}
  # The glob the summary's hint names for app/** (compiled-hint.ts): Turbopack's chunks, else webpack's route bundles.
  glob='.next/server/app/**'
  [ -e '.next/server/chunks/[turbopack]_runtime.js' ] && glob='.next/server/chunks/**'
  port=$((port + 1))
  serve "$dir/f" "$port" 5 "$scope" run --functions --include 'app/**' --include "$glob" -o "$dir/functions.bin" -- "$node" "${next[@]}" start -p "$port"
  fcalls=$("$scope" dump --json "$dir/functions.bin" | grep -c '"kind":"function_call"')
  port=$((port + 1))
  serve "$dir/fu" "$port" 5 "$node" "${next[@]}" start -p "$port"
  same=no
  cmp -s "$dir/f.load" "$dir/fu.load" && same=yes
  printf 'next %s --functions: responses same %s, %s function calls of %s; hint for app/**: %s\n' "$version" "$same" "$fcalls" "$glob" "$(grep -o '(app/ holds.*' "$dir/f.err")"
  if command -v bun >/dev/null; then
    port=$((port + 1))
    serve "$dir/bu" "$port" 20 bun --bun "${next[@]}" start -p "$port"
    bs=$status
    port=$((port + 1))
    serve "$dir/bt" "$port" 20 "$scope" run -o "$dir/bun.bin" -- bun --bun "${next[@]}" start -p "$port"
    same=no
    cmp -s "$dir/bu.load" "$dir/bt.load" && same=yes
    printf 'next %s bun %s start: responses same %s, exit %s/%s | %s\n  trace: %s\n' "$version" "$(bun --version)" "$same" "$bs" "$status" "$(summary_of "$dir/bt.err")" "$("$scope" dump --json "$dir/bun.bin" | node "$here/check.cjs")"
  fi
  # next dev: a few requests (each page compiled at its first), then Ctrl-C.
  port=$((port + 1))
  rm -rf .next
  setsid "$scope" run -o "$dir/dev.bin" -- "$node" "${next[@]}" dev -p "$port" >"$dir/dev.out" 2>"$dir/dev.err" &
  pid=$!
  for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
  codes=""
  for path in /cats/3 /api/cats /boom /nowhere; do codes="$codes $path $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")"; done
  kill -INT -- -"$pid"
  wait "$pid"
  dstatus=$?
  sleep 1
  left=$(pgrep -g "$pid" | wc -l)
  printf 'next %s dev:%s, exit %s, processes left %s | %s\n  trace: %s\n' "$version" "$codes" "$dstatus" "$left" "$(summary_of "$dir/dev.err")" "$("$scope" dump --json "$dir/dev.bin" | node "$here/check.cjs")"
  cd "$dir"
done
