#!/usr/bin/env bash
# A Python venv with the official generated protobuf classes the export tests decode with
# (spec/export-*.test.ts): PyPI `perfetto` (perfetto_trace_pb2) and `opentelemetry-proto`
# (ExportTraceServiceRequest). Into .tools/pycheck (idempotent: kept when the pins match).
set -euo pipefail
cd "$(dirname "$0")/.."
PERFETTO_VERSION=0.59.1
OTEL_PROTO_VERSION=1.45.2
PROTOBUF_VERSION=7.36.2   # the runtime both generated modules need
venv=.tools/pycheck
stamp="perfetto==$PERFETTO_VERSION opentelemetry-proto==$OTEL_PROTO_VERSION protobuf==$PROTOBUF_VERSION"
[ -x "$venv/bin/python" ] && [ "$(cat "$venv/pins" 2>/dev/null)" = "$stamp" ] && exit 0
echo "export-check-install: installing $stamp into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check $stamp
echo "$stamp" > "$venv/pins"
