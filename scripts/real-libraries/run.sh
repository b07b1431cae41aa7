#!/bin/bash
# Widely used libraries under `scope run --functions --include 'node_modules/**'` (BENCHMARKS.md
# "Real projects: libraries"): each program here untraced and traced at the given level, stdout,
# stderr (scope's summary apart) and exit status compared byte for byte, the summary's lost line.
#   bash scripts/real-libraries/run.sh LEVEL [runtime ...]     # e.g. full node /path/to/node24 bun
# Needs npm (the registry) once and dist/scope built. WORK defaults to /tmp/scope-real-libraries.
set -u
here=$(cd "$(dirname "$0")" && pwd)
scope=$here/../../dist/scope
level=${1:-calls}
shift
[ $# -gt 0 ] || set -- node
# A runtime given as a path is resolved before the cd below.
runtimes=()
for runtime in "$@"; do case $runtime in */*) runtimes+=("$(realpath "$runtime")") ;; *) runtimes+=("$runtime") ;; esac; done
WORK=${WORK:-/tmp/scope-real-libraries}
mkdir -p "$WORK" && cd "$WORK" || exit 1
if [ ! -e node_modules/.complete ]; then
  echo '{"name":"scope-real-libraries","private":true}' > package.json
  npm install --no-audit --no-fund --loglevel=error lodash@4.18.1 moment@2.31.0 dayjs@1.11.23 zod@4.6.7 rxjs@7.8.2 yup@1.7.1 \
    uuid@14.0.3 date-fns@4.4.0 commander@14.0.3 yargs@18.2.0 ajv@8.20.0 immer@11.2.13 bluebird@3.7.2 async@3.2.6 semver@7.8.6 \
    qs@6.17.1 validator@13.15.35 handlebars@4.7.10 ejs@7.0.2 pug@3.0.4 cheerio@1.2.0 luxon@3.7.2 joi@18.3.2 reflect-metadata@0.2.2 \
    tslib@2.9.1 graphql@16.15.0 superstruct@2.0.2 mobx@7.1.3 @reduxjs/toolkit@2.15.0 immutable@5.2.1 ramda@0.32.0 fp-ts@2.16.11 \
    inversify@8.2.3 core-js@3.51.0 || exit 1
  touch node_modules/.complete
fi
cp "$here"/*.js "$here"/*.mjs .
status=0
for runtime in "${runtimes[@]}"; do
  for program in $(cd "$here" && ls *.js *.mjs); do
    "$runtime" "$program" > out.plain 2> err.plain
    plain=$?
    "$scope" run -o trace.bin --functions --include 'node_modules/**' --level "$level" -- "$runtime" "$program" > out.traced 2> err.traced
    traced=$?
    # scope's summary is the stderr from its first "scope: " line on.
    sed -n '/^scope: /q;p' err.traced > err.program
    if [ "$plain" != "$traced" ] || ! cmp -s out.plain out.traced || ! cmp -s err.plain err.program; then
      echo "DIFFERS $runtime $program (exit $plain, traced $traced)"; diff out.plain out.traced | head -5; diff err.plain err.program | head -5; status=1
    else
      echo "same    $runtime $program $(grep -o '[0-9]* records' err.traced), $(grep -o 'lost: .*' err.traced)"
    fi
  done
done
exit $status
