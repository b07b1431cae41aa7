"""Decodes an OTLP trace export with the official generated classes (PyPI opentelemetry-proto:
ExportTraceServiceRequest) and prints its spans as JSON for the test to compare with scope's
own model. protobuf: parsed as the binary message. JSON (OTLP/JSON): trace and span ids must
be lowercase hex of 32 and 16 digits (not base64 as protobuf's JSON mapping would have them);
they are turned into base64 and the document parsed by json_format into the message, which
rejects any field the definitions do not have. Exits 1 listing what is wrong.

usage: check-otlp.py FILE protobuf|json
"""
import base64
import json
import re
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

errors = []
HEX = {"traceId": re.compile(r"^[0-9a-f]{32}$"), "spanId": re.compile(r"^[0-9a-f]{16}$"), "parentSpanId": re.compile(r"^([0-9a-f]{16})?$")}


def hex_to_base64(node, where):
    for key, pattern in HEX.items():
        if key in node:
            if not pattern.match(node[key]):
                errors.append(f"{where}: {key} {node[key]!r} is not lowercase hex")
            else:
                node[key] = base64.b64encode(bytes.fromhex(node[key])).decode()


def load(path, fmt):
    with open(path, "rb") as f:
        data = f.read()
    request = ExportTraceServiceRequest()
    if fmt == "protobuf":
        request.ParseFromString(data)
        return request
    document = json.loads(data)
    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                hex_to_base64(span, span.get("name"))
                for link in span.get("links", []):
                    hex_to_base64(link, f"link of {span.get('name')}")
    json_format.ParseDict(document, request)
    return request


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def main():
    request = load(sys.argv[1], sys.argv[2])
    spans = []
    ids = set()
    for rs in request.resource_spans:
        resource = {a.key: value(a.value) for a in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                if len(s.trace_id) != 16 or len(s.span_id) != 8:
                    errors.append(f"{s.name}: trace id {len(s.trace_id)} bytes, span id {len(s.span_id)} bytes")
                if s.end_time_unix_nano < s.start_time_unix_nano:
                    errors.append(f"{s.name}: ends before it starts")
                key = (s.trace_id.hex(), s.span_id.hex())
                if key in ids:
                    errors.append(f"{s.name}: span id {key[1]} twice in trace {key[0]}")
                ids.add(key)
                spans.append({
                    "name": s.name,
                    "kind": s.kind,
                    "traceId": s.trace_id.hex(),
                    "spanId": s.span_id.hex(),
                    "parentSpanId": s.parent_span_id.hex(),
                    "startNs": str(s.start_time_unix_nano),
                    "endNs": str(s.end_time_unix_nano),
                    "status": s.status.code,
                    "statusMessage": s.status.message,
                    "attributes": {a.key: value(a.value) for a in s.attributes},
                    "links": [[l.trace_id.hex(), l.span_id.hex()] for l in s.links],
                    "resource": resource,
                    "scope": ss.scope.name,
                })
    print(json.dumps({"spans": spans, "errors": errors}))
    sys.exit(1 if errors else 0)


main()
