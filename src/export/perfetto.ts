/**
 * `scope export --perfetto`: Perfetto's native trace format (a `Trace` of `TracePacket`s
 * carrying TrackEvents), encoded by protobufjs from the schema subset in perfetto.proto.
 *
 * - Tracks: one per process (ProcessDescriptor: pid, command line) and one per thread
 *   (ThreadDescriptor); function calls nest on the thread's track (a call with no end, as
 *   the calls level records them, is an instant there), requests, queries and
 *   pool waits on the thread's "requests" tracks, GC pauses and long tasks on its "gc" and
 *   "long tasks" tracks (lanes.ts: extra tracks where slices overlap without nesting); loop
 *   delay, loop utilisation and heap samples as counters under their process (runtime-kinds.ts).
 * - Every other event is an instant on its thread's track with its fields as debug
 *   annotations. A message's send and receive are joined by a flow (flow ids are fixed64:
 *   the send's index + 1), a client request and the server request it reached (the
 *   model's peerIndex) by another (FLOW_REQUEST_BASE + the client request's index).
 * - One packet sequence: its first packet clears the incremental state; event names and
 *   annotation names are interned (InternedData, iid ≥ 1) in the packet that first uses them.
 * Packets are written in time order (begin/end pairs of one track in nesting order).
 */
import protobuf from "protobufjs";
import { processName, type TraceEvent, type FieldValue } from "../core/model";
import perfettoProto from "./perfetto.proto" with { type: "text" };
import { laneName, placeSlices, drawingOrder, type Placement } from "./lanes";
import { shapeOf, type Slice, type TraceShape } from "./slices";
import { counterSamples, runtimeSlices, runtimeSliceKinds } from "./runtime-kinds";

const SEQUENCE_ID = 1;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;
const TYPE_SLICE_BEGIN = 1;
const TYPE_SLICE_END = 2;
const TYPE_INSTANT = 3;
const TYPE_COUNTER = 4;
/** Flow ids of request links: apart from message flows (event index + 1). */
export const FLOW_REQUEST_BASE = 1_000_000_000_000;

/** Kinds drawn as slices or folded into them, or only naming things: no instant of their own. */
const notInstants = new Set([
  "string",
  "function_table",
  "function_call",
  "function_return",
  "function_throw",
  "function_settle",
  "http_server_request",
  "http_server_response",
  "http_client_request",
  "http_client_response",
  "http_connection",
  "http_client_connection",
  "http_traceparent",
  "http_route",
  "db_query",
  "db_query_end",
  "db_pool_wait",
  "db_pool_wait_end",
]);

/**
 * A thread's tid as Perfetto takes it: tids are the system's, unique across processes, and
 * tid 0 is the kernel's idle thread (every process's main thread would merge into it). So a
 * main thread is its pid (as on Linux) and worker N of process P is P + N·2^32 (above any
 * pid, a merged trace's shifted ones too; the thread's name says "worker N").
 */
export function perfettoTid(pid: number, tid: number): number {
  return tid === 0 ? pid : pid + tid * 2 ** 32;
}

let schema: { Trace: protobuf.Type; TracePacket: protobuf.Type } | undefined;

/** The schema (parsed once): exported for the tests that compare it with Perfetto's own. */
export function perfettoSchema(): { Trace: protobuf.Type; TracePacket: protobuf.Type } {
  if (!schema) {
    const root = protobuf.parse(perfettoProto).root;
    schema = { Trace: root.lookupType("perfetto.protos.Trace"), TracePacket: root.lookupType("perfetto.protos.TracePacket") };
  }
  return schema;
}

interface Emission {
  ts: bigint;
  /** Order among emissions of the same time (their creation order). */
  seq: number;
  type: number;
  track: number;
  name?: string;
  /** Debug annotations: `index`, then the event's fields, then `extra` (read at encoding, not copied). */
  index?: number;
  fields?: Record<string, FieldValue>;
  extra?: Record<string, FieldValue> | null;
  flowIds?: number[];
  terminatingFlowIds?: number[];
  counter?: number;
}

export interface PerfettoCounts {
  packets: number;
  tracks: number;
  slices: number;
  instants: number;
  flows: number;
  counterValues: number;
}

/**
 * Writes the trace as Perfetto packets through `write` (chunks of about 64 KiB); `collectors`:
 * scope's own pids (model.ts collectorsOf). Returns what was written, for the command's summary line.
 */
export function writePerfetto(events: TraceEvent[], write: (chunk: Uint8Array) => void, collectors: ReadonlySet<number> = new Set()): PerfettoCounts {
  const { TracePacket } = perfettoSchema();
  const shape = shapeOf(events);
  const counts: PerfettoCounts = { packets: 0, tracks: 0, slices: 0, instants: 0, flows: 0, counterValues: 0 };
  let writer = protobuf.Writer.create();
  const packet = (message: Record<string, unknown>) => {
    // Trace.packet (field 1, length-delimited), one at a time: the file is a Trace.
    writer.uint32((1 << 3) | 2).fork();
    TracePacket.encode(message, writer);
    writer.ldelim();
    counts.packets++;
    if (writer.len >= 65536) {
      write(writer.finish());
      writer = protobuf.Writer.create();
    }
  };

  // Tracks: uuids handed out in order (≥ 1).
  let nextUuid = 1;
  const processTrack = new Map<number, number>();
  const threadTrack = new Map<string, number>();
  const laneTrack = new Map<string, number>();
  const descriptors: Record<string, unknown>[] = [];
  for (const process of shape.processes) {
    const uuid = nextUuid++;
    processTrack.set(process.pid, uuid);
    // A merged trace's processes say their host and their own pid.
    const where = process.host ? `${process.host} ${process.hostPid}` : `${process.pid}`;
    // Named as `scope view` names it (model.ts processName): scope's own process is "scope (collector)".
    const what = processName(process.argv, collectors.has(process.pid));
    const name = what !== null ? `${where}: ${what}` : process.host ? `${where}` : `pid ${process.pid}`;
    descriptors.push({ uuid, process: { pid: process.pid, processName: name, cmdline: process.argv ? process.argv.split(" ") : [] } });
  }
  for (const thread of shape.threads) {
    const uuid = nextUuid++;
    threadTrack.set(`${thread.pid}/${thread.tid}`, uuid);
    descriptors.push({ uuid, parentUuid: processTrack.get(thread.pid), thread: { pid: thread.pid, tid: perfettoTid(thread.pid, thread.tid), threadName: thread.name } });
  }
  const trackOf = (pid: number, tid: number, placement: Placement): number => {
    if (placement.group === "calls" && placement.lane === 0) return threadTrack.get(`${pid}/${tid}`)!;
    const key = `${pid}/${tid}/${placement.group}/${placement.lane}`;
    let uuid = laneTrack.get(key);
    if (uuid === undefined) {
      laneTrack.set(key, (uuid = nextUuid++));
      descriptors.push({ uuid, parentUuid: threadTrack.get(`${pid}/${tid}`), name: laneName(tid === 0 ? "main" : `worker ${tid}`, placement) });
    }
    return uuid;
  };
  const counterTrack = new Map<string, number>();
  const counterTrackOf = (pid: number, name: string, unit: number): number => {
    const key = `${pid}/${name}`;
    let uuid = counterTrack.get(key);
    if (uuid === undefined) {
      counterTrack.set(key, (uuid = nextUuid++));
      descriptors.push({ uuid, parentUuid: processTrack.get(pid), name, counter: { unit } });
    }
    return uuid;
  };

  const emissions: Emission[] = [];
  let seq = 0;
  const emit = (e: Omit<Emission, "seq">) => {
    (e as Emission).seq = seq++;
    emissions.push(e as Emission);
  };
  const flowsFrom = new Map<number, number[]>();
  const flowsTo = new Map<number, number[]>();
  const addFlow = (map: Map<number, number[]>, index: number, id: number) => {
    const list = map.get(index);
    if (list) list.push(id);
    else map.set(index, [id]);
  };
  for (const link of shape.links) {
    const id = link.kind === "message" ? link.from.index + 1 : FLOW_REQUEST_BASE + link.from.index;
    addFlow(flowsFrom, link.from.index, id);
    addFlow(flowsTo, link.to.index, id);
    counts.flows++;
  }

  // Slices: per track, begins and ends in nesting order (ends of slices over before a begin first).
  // A call with no end (recorded at the calls level, or still running when the trace
  // ended) is an instant: as slices to the thread's end they would stack without limit.
  const slices = [...shape.slices.filter((slice) => slice.kind !== "call" || slice.finished), ...runtimeSlices(events)];
  for (const slice of shape.slices) {
    if (slice.kind !== "call" || slice.finished) continue;
    emit({ ts: slice.startNs, type: TYPE_INSTANT, track: threadTrack.get(`${slice.pid}/${slice.tid}`)!, name: slice.name, index: slice.start.index, fields: slice.start.fields, extra: sliceExtra(slice) });
    counts.instants++;
  }
  const placement = placeSlices(slices);
  const perTrack = new Map<number, Slice[]>();
  for (const slice of slices) {
    const track = trackOf(slice.pid, slice.tid, placement.get(slice)!);
    let list = perTrack.get(track);
    if (!list) perTrack.set(track, (list = []));
    list.push(slice);
  }
  for (const [track, list] of perTrack) {
    list.sort(drawingOrder);
    const open: Slice[] = [];
    const close = (until: bigint | null) => {
      while (open.length && (until === null || open[open.length - 1]!.endNs <= until)) emit({ ts: open.pop()!.endNs, type: TYPE_SLICE_END, track });
    };
    for (const slice of list) {
      close(slice.startNs);
      emit({
        ts: slice.startNs,
        type: TYPE_SLICE_BEGIN,
        track,
        name: slice.name,
        index: slice.start.index,
        fields: slice.start.fields,
        extra: sliceExtra(slice),
        flowIds: flowsFrom.get(slice.start.index),
        terminatingFlowIds: flowsTo.get(slice.start.index),
      });
      open.push(slice);
      counts.slices++;
    }
    close(null);
  }
  for (const event of events) {
    if (notInstants.has(event.kind) || runtimeSliceKinds.has(event.kind)) continue;
    const counter = counterSamples(event);
    if (counter) {
      for (const sample of counter) {
        emit({ ts: event.timestampNs, type: TYPE_COUNTER, track: counterTrackOf(event.pid, sample.name, sample.unit), counter: sample.value });
        counts.counterValues++;
      }
      continue;
    }
    emit({
      ts: event.timestampNs,
      type: TYPE_INSTANT,
      track: threadTrack.get(`${event.pid}/${event.tid}`)!,
      name: event.kind,
      index: event.index,
      fields: event.fields,
      flowIds: flowsFrom.get(event.index),
      terminatingFlowIds: flowsTo.get(event.index),
    });
    counts.instants++;
  }
  emissions.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.seq - b.seq));

  // The sequence's first packet clears its incremental state; descriptors follow.
  packet({ trustedPacketSequenceId: SEQUENCE_ID, sequenceFlags: SEQ_INCREMENTAL_STATE_CLEARED, firstPacketOnSequence: true, timestamp: emissions.length ? Number(emissions[0]!.ts) : 0 });
  for (const trackDescriptor of descriptors) packet({ trustedPacketSequenceId: SEQUENCE_ID, trackDescriptor });
  counts.tracks = descriptors.length;
  const names = new Map<string, number>();
  const annotationNames = new Map<string, number>();
  for (const e of emissions) {
    let interned: { eventNames?: { iid: number; name: string }[]; debugAnnotationNames?: { iid: number; name: string }[] } | undefined;
    const trackEvent: Record<string, unknown> = { type: e.type, trackUuid: e.track };
    if (e.name !== undefined) {
      let iid = names.get(e.name);
      if (iid === undefined) {
        names.set(e.name, (iid = names.size + 1));
        (interned ??= {}).eventNames = [{ iid, name: e.name }];
      }
      trackEvent.nameIid = iid;
    }
    if (e.fields) {
      const list: Record<string, unknown>[] = [];
      const add = (key: string, value: FieldValue | undefined) => {
        if (value === null || value === undefined) return;
        let iid = annotationNames.get(key);
        if (iid === undefined) {
          annotationNames.set(key, (iid = annotationNames.size + 1));
          ((interned ??= {}).debugAnnotationNames ??= []).push({ iid, name: key });
        }
        list.push(annotation(iid, value));
      };
      add("index", e.index);
      for (const key in e.fields) add(key, e.fields[key]);
      if (e.extra) for (const key in e.extra) add(key, e.extra[key]);
      if (list.length) trackEvent.debugAnnotations = list;
    }
    if (e.flowIds) trackEvent.flowIds = e.flowIds;
    if (e.terminatingFlowIds) trackEvent.terminatingFlowIds = e.terminatingFlowIds;
    if (e.counter !== undefined) {
      if (Number.isInteger(e.counter)) trackEvent.counterValue = e.counter;
      else trackEvent.doubleCounterValue = e.counter;
    }
    packet({
      timestamp: Number(e.ts),
      trustedPacketSequenceId: SEQUENCE_ID,
      sequenceFlags: SEQ_NEEDS_INCREMENTAL_STATE,
      trackEvent,
      ...(interned ? { internedData: interned } : {}),
    });
  }
  write(writer.finish());
  return counts;
}

function annotation(nameIid: number, value: FieldValue): Record<string, unknown> {
  if (typeof value === "string") return { nameIid, stringValue: value };
  if (typeof value === "boolean") return { nameIid, boolValue: value };
  if (typeof value === "number" && Number.isSafeInteger(value)) return { nameIid, intValue: value };
  return { nameIid, doubleValue: Number(value) };
}

/** What a slice's start event does not say: unfinished, or how a call ended (its value, its error). */
function sliceExtra(slice: Slice): Record<string, FieldValue> | null {
  if (!slice.finished) return { unfinished: true };
  if (!slice.end || slice.kind !== "call") return null;
  const f = slice.end.fields;
  if (slice.end.kind === "function_throw") return { threw: true, errorType: f.errorType ?? null, errorMessage: f.errorMessage ?? null };
  if (f.rejected === true) return { rejected: true, errorMessage: f.errorMessage ?? null };
  return { value: f.value ?? null };
}

export type { TraceShape };
