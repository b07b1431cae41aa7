#!/usr/bin/env bash
# Builds Jaeger v2 (an OpenTelemetry Collector distribution: OTLP receiver, in-memory storage,
# query API) from the Go module proxy for the OTLP export tests (spec/otlp-harness.ts), into
# .tools/jaeger-<version>/jaeger. Idempotent: a cached binary is kept.
# `go install module@version` refuses Jaeger's module (its go.mod has a replace directive), so
# the module's source is fetched from the proxy (`go mod download`) and built as the main
# module, where the replace applies. The build takes minutes on a small machine
# (BENCHMARKS.md "Export"): scripts/test.sh starts it in the background first.
set -euo pipefail
cd "$(dirname "$0")/.."
JAEGER_VERSION=v1.76.0   # the Go module's tag of the Jaeger v2 release (module path has no /v2)
dir="$PWD/.tools/jaeger-$JAEGER_VERSION"
[ -x "$dir/jaeger" ] && exit 0
command -v go >/dev/null 2>&1 || { echo "jaeger-install: go is not installed (needed to build Jaeger)" >&2; exit 1; }
echo "jaeger-install: building jaeger $JAEGER_VERSION (go module proxy)" >&2
start=$(date +%s)
src=$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "jaeger-install: go mod download gave no source directory" >&2; exit 1; }
mkdir -p "$dir"
work="$dir/src.$$"
rm -rf "$work"
cp -r "$src" "$work"
chmod -R u+w "$work"
(cd "$work" && GOFLAGS="-trimpath -mod=mod" go build -o "$dir/jaeger.tmp" ./cmd/jaeger)
mv "$dir/jaeger.tmp" "$dir/jaeger"
rm -rf "$work"
echo "jaeger-install: built in $(( $(date +%s) - start )) s" >&2
