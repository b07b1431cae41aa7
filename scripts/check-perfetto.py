"""Decodes a `scope export --perfetto` file with Perfetto's own generated classes (PyPI
perfetto: perfetto_trace_pb2) and checks it as Perfetto's importer reads it: the first packet
clears the sequence's incremental state, every interned name is defined before use, every
track is declared (parents first), slices on each track begin and end in nesting order and
all end, every flow has one start and one end. Prints a JSON summary (processes, threads,
slice/instant/counter names with counts, flows and the names they join, nesting depth) for the test to compare with
scope's own model; exits 1 listing what is wrong.

usage: check-perfetto.py trace.pftrace [schema.json]
  schema.json: protobufjs's JSON of src/export/perfetto.proto, checked field by field
  (number, type, repetition) against perfetto_trace_pb2's descriptors.
"""
import json
import sys
from collections import Counter, defaultdict

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

errors = []


def check_schema(path):
    with open(path) as f:
        root = json.load(f)
    scalar = {1: "double", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 8: "bool", 9: "string", 13: "uint32"}

    def walk(nested, prefix):
        for name, node in nested.items():
            full = f"{prefix}.{name}" if prefix else name
            if "fields" in node:
                descriptor = pb.DESCRIPTOR.pool.FindMessageTypeByName(full)
                for field_name, field in node["fields"].items():
                    theirs = None
                    for candidate in descriptor.fields:
                        if candidate.camelcase_name == field_name or candidate.name == field_name:
                            theirs = candidate
                    if theirs is None:
                        errors.append(f"schema: {full}.{field_name} is not in Perfetto's {full}")
                        continue
                    if theirs.number != field["id"]:
                        errors.append(f"schema: {full}.{field_name} is field {field['id']}, Perfetto's is {theirs.number}")
                    kind = theirs.message_type.name if theirs.message_type else theirs.enum_type.name if theirs.enum_type else scalar.get(theirs.type, str(theirs.type))
                    if field["type"].split(".")[-1] != kind:
                        errors.append(f"schema: {full}.{field_name} is {field['type']}, Perfetto's is {kind}")
                    if (field.get("rule") == "repeated") != theirs.is_repeated:
                        errors.append(f"schema: {full}.{field_name} repetition differs from Perfetto's")
            if "nested" in node:
                walk(node["nested"], full)

    walk(root["nested"], "")


def main():
    if len(sys.argv) > 2:
        check_schema(sys.argv[2])
    trace = pb.Trace()
    with open(sys.argv[1], "rb") as f:
        trace.ParseFromString(f.read())
    packets = trace.packet
    if not packets or not (packets[0].sequence_flags & pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED):
        errors.append("the first packet does not clear the incremental state")
    tracks = {}
    names = {}
    annotation_names = {}
    stacks = defaultdict(list)
    last_ts = {}
    depth = defaultdict(int)
    slices = Counter()
    instants = Counter()
    counters = Counter()
    flow_starts = Counter()
    flow_ends = Counter()
    flow_from = {}
    flow_to = {}
    for index, packet in enumerate(packets):
        if packet.HasField("interned_data"):
            for entry in packet.interned_data.event_names:
                if entry.iid in names and names[entry.iid] != entry.name:
                    errors.append(f"event name iid {entry.iid} redefined")
                names[entry.iid] = entry.name
            for entry in packet.interned_data.debug_annotation_names:
                annotation_names[entry.iid] = entry.name
        if packet.HasField("track_descriptor"):
            d = packet.track_descriptor
            if d.uuid in tracks:
                errors.append(f"track {d.uuid} declared twice")
            if d.HasField("parent_uuid") and d.parent_uuid not in tracks:
                errors.append(f"track {d.uuid}: parent {d.parent_uuid} not declared before it")
            tracks[d.uuid] = d
        if not packet.HasField("track_event"):
            continue
        if packet.sequence_flags & pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE == 0:
            errors.append(f"packet {index}: a track event without SEQ_NEEDS_INCREMENTAL_STATE")
        e = packet.track_event
        if e.track_uuid not in tracks:
            errors.append(f"packet {index}: track {e.track_uuid} not declared")
            continue
        for a in e.debug_annotations:
            if a.HasField("name_iid") and a.name_iid not in annotation_names:
                errors.append(f"packet {index}: annotation name iid {a.name_iid} not interned before")
        name = None
        if e.HasField("name_iid"):
            if e.name_iid not in names:
                errors.append(f"packet {index}: name iid {e.name_iid} not interned before")
            name = names.get(e.name_iid)
        elif e.HasField("name"):
            name = e.name
        if packet.timestamp < last_ts.get(e.track_uuid, 0):
            errors.append(f"packet {index}: time goes back on track {e.track_uuid}")
        last_ts[e.track_uuid] = packet.timestamp
        for flow in e.flow_ids:
            flow_starts[flow] += 1
            flow_from[flow] = name
        for flow in e.terminating_flow_ids:
            flow_ends[flow] += 1
            flow_to[flow] = name
        stack = stacks[e.track_uuid]
        if e.type == pb.TrackEvent.TYPE_SLICE_BEGIN:
            stack.append(name)
            slices[name] += 1
            depth[e.track_uuid] = max(depth[e.track_uuid], len(stack))
        elif e.type == pb.TrackEvent.TYPE_SLICE_END:
            if not stack:
                errors.append(f"packet {index}: a slice end with no slice open on track {e.track_uuid}")
            else:
                stack.pop()
        elif e.type == pb.TrackEvent.TYPE_INSTANT:
            instants[name] += 1
        elif e.type == pb.TrackEvent.TYPE_COUNTER:
            d = tracks[e.track_uuid]
            if not d.HasField("counter"):
                errors.append(f"packet {index}: a counter value on track {e.track_uuid}, which is no counter track")
            counters[d.name] += 1
    for uuid, stack in stacks.items():
        if stack:
            errors.append(f"track {uuid}: {len(stack)} slices never end ({stack[-1]})")
    for flow in set(flow_starts) | set(flow_ends):
        if flow_starts[flow] != 1 or flow_ends[flow] != 1:
            errors.append(f"flow {flow}: {flow_starts[flow]} starts, {flow_ends[flow]} ends")
    summary = {
        "packets": len(packets),
        "processes": sorted([d.process.pid, d.process.process_name] for d in tracks.values() if d.HasField("process")),
        "threads": sorted([d.thread.pid, d.thread.tid, d.thread.thread_name, tracks[d.parent_uuid].process.pid if d.parent_uuid in tracks else None] for d in tracks.values() if d.HasField("thread")),
        "laneTracks": sorted(d.name for d in tracks.values() if not d.HasField("process") and not d.HasField("thread") and not d.HasField("counter")),
        "slices": dict(slices),
        "instants": dict(instants),
        "counters": dict(counters),
        "flows": len(set(flow_starts) & set(flow_ends)),
        "flowPairs": dict(Counter(f"{flow_from.get(f)} -> {flow_to.get(f)}" for f in set(flow_starts) & set(flow_ends))),
        "maxDepth": max(depth.values(), default=0),
        "errors": errors,
    }
    print(json.dumps(summary))
    sys.exit(1 if errors else 0)


main()
