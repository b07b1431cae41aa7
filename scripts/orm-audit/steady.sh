#!/bin/bash
# The join route 2000 times after 200 of warm-up, per ORM, untraced and traced alternated,
# PAIRS pairs: the program's own CPU (process.cpuUsage) per request, medians.
#   scripts/orm-audit/steady.sh RUNTIME [PAIRS]
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/env.sh"
cd "$HERE"; mkdir -p out
RT=$1; PAIRS=${2:-3}; SCOPE=${SCOPE:-$HERE/../../dist/scope}
rm -f out/steady-u.txt out/steady-t.txt
for i in $(seq "$PAIRS"); do
  for a in "knex-app.js pg" "knex-app.js mysql2" "sequelize-app.js" "typeorm-app.js" "drizzle-app.js pg" "drizzle-app.js postgres" "kysely-app.js"; do
    set -- $a
    ORM_STEADY=2000 ORM_STEADY_OUT=out/steady-u.txt "$RT" apps/$1 $2 > /dev/null 2>&1
    ORM_STEADY=2000 ORM_STEADY_OUT=out/steady-t.txt $SCOPE run -o out/steady.bin -- "$RT" apps/$1 $2 > /dev/null 2>&1
  done
done
python3 - out/steady-u.txt out/steady-t.txt <<'PY'
import sys, statistics, collections
u, t = collections.defaultdict(list), collections.defaultdict(list)
for path, into in ((sys.argv[1], u), (sys.argv[2], t)):
    for line in open(path):
        name, value = line.split()
        into[name].append(int(value))
for name in sorted(u):
    a, b = statistics.median(u[name]), statistics.median(t[name])
    print(f"{name:18s} untraced {a:6.0f} µs  traced {b:6.0f} µs  {b - a:+5.0f}  x{b / a:.2f}")
PY
