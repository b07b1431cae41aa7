#!/bin/bash
# One ORM program untraced, then under `scope run` (SCOPE_OPTS adds options): stdout, stderr
# (less scope's summary) and exit status compared byte for byte; the statements the servers
# logged in each run (PostgreSQL, MariaDB; Redis's commandstats, the Lua scripts' own calls
# included) against the trace's queries and pool waits; CPU (user + system) of each run.
#   cd scripts/orm-audit && npm ci && bun servers.ts &   # then:
#   scripts/orm-audit/compare.sh LABEL RUNTIME apps/knex-app.js pg
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"
LABEL=$1; shift
SCOPE=${SCOPE:-$HERE/../../dist/scope}
OUT=${OUT:-$HERE/out}
mkdir -p "$OUT"
cd "$HERE"
count_pg() { grep -cE 'LOG:  (statement|execute [^:]*):' "$PG_LOG"; }
count_my() { if [ -f "$MY_LOG" ]; then grep -cE '\s(Query|Execute)\s' "$MY_LOG" || true; else echo 0; fi; }
count_rd() { redis-cli -u "$REDIS_URL" info commandstats | awk -F'[=,:]' '/^cmdstat_/{s+=$3} END{print s}'; }
TIMEFORMAT="%U %S"
set -f
p0=$(count_pg); m0=$(count_my); r0=$(count_rd)
{ time "$@" > "$OUT/$LABEL.u.out" 2> "$OUT/$LABEL.u.err"; echo $? > "$OUT/$LABEL.u.rc"; } 2> "$OUT/$LABEL.u.time"
p1=$(count_pg); m1=$(count_my); r1=$(count_rd)
{ time $SCOPE run ${SCOPE_OPTS} -o "$OUT/$LABEL.bin" -- "$@" > "$OUT/$LABEL.t.out" 2> "$OUT/$LABEL.t.err"; echo $? > "$OUT/$LABEL.t.rc"; } 2> "$OUT/$LABEL.t.time"
p2=$(count_pg); m2=$(count_my); r2=$(count_rd)
sed "\#^scope: $OUT/#,\$d" "$OUT/$LABEL.t.err" > "$OUT/$LABEL.t.err.prog"
same=yes
cmp -s "$OUT/$LABEL.u.out" "$OUT/$LABEL.t.out" || same="NO(stdout)"
cmp -s "$OUT/$LABEL.u.err" "$OUT/$LABEL.t.err.prog" || same="$same NO(stderr)"
cmp -s "$OUT/$LABEL.u.rc" "$OUT/$LABEL.t.rc" || same="$same NO(rc)"
tq=$($SCOPE query --csv "$OUT/$LABEL.bin" "select count(*) from queries" | tail -1)
tw=$($SCOPE query --csv "$OUT/$LABEL.bin" "select count(*) from pool_waits" | tail -1)
nr=$($SCOPE query --csv "$OUT/$LABEL.bin" "select count(*) from queries where request is null" | tail -1)
ut=$(awk '{print $1+$2}' "$OUT/$LABEL.u.time"); tt=$(awk '{print $1+$2}' "$OUT/$LABEL.t.time")
# Each INFO of count_rd is one command more.
echo "$LABEL: same=$same rc=$(cat "$OUT/$LABEL.u.rc") server statements pg $((p1-p0))/$((p2-p1)) mysql $((m1-m0))/$((m2-m1)) redis $((r1-r0-1))/$((r2-r1-1)) trace queries=$tq (no request: $nr) waits=$tw cpu ${ut}s/${tt}s $(grep -o 'lost: .*' "$OUT/$LABEL.t.err")"
