/**
 * `scope export --perfetto`: Perfetto's native trace format (a `Trace` of `TracePacket`s
 * carrying TrackEvents), encoded by protobufjs from the schema subset in perfetto.proto.
 *
 * - Tracks: one per process (ProcessDescriptor: pid, command line) and one per thread
 *   (ThreadDescriptor); function calls nest on the thread's track (a call with no end, as
 *   the calls level records them, is an instant there), requests, queries,
 *   pool waits and framework steps (middleware, handlers: named "middleware jsonParser") on
 *   the thread's "requests" tracks, GC pauses and long tasks on its "gc" and
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
import { laneName, LanePlacer, drawingOrder, type Placement } from "./lanes";
import { callEndKinds, CallEnds, endIndexOf, spanSlice, stepSlice, ThreadsAndProcesses, type Slice, type TraceShape } from "./slices";
import { counterSamples, runtimeSlice, runtimeSliceKinds } from "./runtime-kinds";
import type { LinkWatch } from "../dump/stream";

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
  "db_connection",
  "http_step_start",
  "http_step_end",
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
  /** Order among emissions of the same time: unfinished calls' instants, then slices by track, then instants (`cat`), each in its order (`a`, `b`). */
  cat: number;
  a: number;
  b: number;
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

const Cat = { unfinishedCall: 0, slice: 1, instant: 2 } as const;

export interface PerfettoCounts {
  packets: number;
  tracks: number;
  slices: number;
  instants: number;
  flows: number;
  counterValues: number;
}

/**
 * A trace's events in index order, as interpret gives them, walked afresh at each call of
 * `walk` (three walks: src/dump/stream.ts's TraceStream gives them without holding them);
 * `sources`: its trace_source events (a merged trace's hosts).
 */
export interface EventWalk {
  walk(): Iterable<TraceEvent>;
  sources: TraceEvent[];
  /** Walk 1's figures, when gathered already (TraceStream's link pass: `Ahead.watch`): one walk fewer. */
  ahead?: Ahead;
  /**
   * Walk 2's events: as `walk`'s, but calls, returns, ... need carry only their thread, time,
   * `call` and `function` (TraceStream's walk that does not decode them: walk 2 places their
   * slices, drawing nothing of them).
   */
  lightWalk?(): Iterable<TraceEvent>;
}

/** A slice as it is drawn: what its begin's annotations add after the start's fields. */
interface Drawn {
  slice: Slice;
  extra: Record<string, FieldValue> | null;
}

/**
 * The first walk: what a packet needs before the events that say it are read. Each call's
 * end (its time and how it ended, not the event), each request's and query's end time, the
 * threads' last times, processes' command lines, and the flows leaving each event (a send's
 * receives, a client request's server requests). Bounded by the calls, requests and messages.
 */
export class Ahead {
  readonly names: ThreadsAndProcesses;
  private readonly callEnds = new CallEnds(callEndExtra);
  private readonly endNs = new Map<number, bigint>();
  private readonly flowsOut = new Map<number, number[]>();
  /** Server requests whose peer is a client request (a flow ends at them). */
  private readonly reached = new Set<number>();
  flows = 0;
  // While gathering: an end's index → its start's (an end is always after its start: the link is made at the end).
  private readonly wanted = new Map<number, number>();
  private readonly clients = new Set<number>();
  /** Server request → its peer (the last said: the walk sees the final field). */
  private readonly peers = new Map<number, number>();
  private readonly messageFlows: [number, number][] = [];
  /** Gathered from the link pass: false when a change was not the kind it expects (then walk 1 is walked after all). */
  exact = true;

  constructor(sources: TraceEvent[]) {
    this.names = new ThreadsAndProcesses(sources);
  }

  /** Walk 1: from the linked events. */
  static of(events: EventWalk): Ahead {
    const ahead = new Ahead(events.sources);
    for (const event of events.walk()) ahead.add(event);
    return ahead.done();
  }

  private add(event: TraceEvent): void {
    const start = this.wanted.get(event.index);
    if (start !== undefined) {
      this.wanted.delete(event.index);
      this.endNs.set(start, event.timestampNs);
    }
    this.own(event);
    if (spanKinds.has(event.kind)) {
      const end = endIndexOf(event);
      if (end !== undefined) this.wanted.set(end, event.index);
      if (event.kind === "http_server_request" && typeof event.fields.peerIndex === "number") this.peers.set(event.index, event.fields.peerIndex);
    }
  }

  /** What an event says itself, as the link pass gives it (its later events' changes not yet made). */
  private own(event: TraceEvent): void {
    this.names.add(event);
    if (callEndKinds.has(event.kind)) this.callEnds.add(event);
    else if (event.kind === "http_client_request") this.clients.add(event.index);
    // A receive's link to its send is its own step's (no later event links to it).
    else if (event.kind === "message_receive" && event.linkedTo.length === 1) this.messageFlows.push([event.linkedTo[0]!, event.linkedTo[0]! + 1]);
  }

  /**
   * The same, gathered in TraceStream's link pass (no walk of its own): each event's own
   * part, and the changes later events make in it: a request's end (endIndex), a query's or
   * pool wait's (its first link), each made at the end event itself, and a server request's
   * peer (after the pass). Call done() after the pass.
   */
  readonly watch: LinkWatch = {
    event: (event) => this.own(event),
    set: (target, fields, current) => {
      if (target.kind === "http_server_request" || target.kind === "http_client_request") {
        if (typeof fields.endIndex === "number") {
          if (fields.endIndex === current.index) this.endNs.set(target.index, current.timestampNs);
          else this.exact = false;
        }
        if (target.kind === "http_server_request" && typeof fields.peerIndex === "number") this.peers.set(target.index, fields.peerIndex);
      }
    },
    link: (target, index, current) => {
      if ((target.kind === "db_query" || target.kind === "db_pool_wait") && target.linkedTo.length === 1) {
        if (index === current.index) this.endNs.set(target.index, current.timestampNs);
        else this.exact = false;
      }
    },
  };

  /** After the last event: the flows leaving each event. */
  done(): this {
    // Flow ids in shapeOf's order of links: messages, then requests (by server request).
    const add = (index: number, id: number) => {
      const list = this.flowsOut.get(index);
      if (list) list.push(id);
      else this.flowsOut.set(index, [id]);
      this.flows++;
    };
    for (const [send, id] of this.messageFlows) add(send, id);
    for (const [server, client] of [...this.peers].sort((x, y) => x[0] - y[0])) {
      if (!this.clients.has(client)) continue;
      add(client, FLOW_REQUEST_BASE + client);
      this.reached.add(server);
    }
    this.messageFlows.length = 0;
    this.peers.clear();
    this.clients.clear();
    return this;
  }

  /** The slice `event` starts, as shapeOf (and runtimeSlices) make it, with what its begin adds; undefined: it starts none. */
  drawn(event: TraceEvent): Drawn | undefined {
    if (event.kind === "function_call") {
      const end = this.callEnds.of(event);
      const slice: Slice = { kind: "call", pid: event.pid, tid: event.tid, startNs: event.timestampNs, endNs: end ? end.ns : this.names.lastNs(event), finished: end !== undefined, name: String(event.fields.function), start: event, end: null, failed: end?.failed ?? false };
      return { slice, extra: end ? end.kept : { unfinished: true } };
    }
    if (spanKinds.has(event.kind)) {
      const endNs = this.endNs.get(event.index);
      return { slice: spanSlice(event, null, endNs ?? this.names.lastNs(event), endNs !== undefined), extra: endNs === undefined ? { unfinished: true } : null };
    }
    if (event.kind === "http_step_start") {
      const slice = stepSlice(event, this.names.lastNs(event));
      return { slice, extra: slice.finished ? null : { unfinished: true } };
    }
    const slice = runtimeSlice(event);
    return slice ? { slice, extra: null } : undefined;
  }

  flowsFrom(event: TraceEvent): number[] | undefined {
    return this.flowsOut.get(event.index);
  }

  flowsTo(event: TraceEvent): number[] | undefined {
    if (event.kind === "message_receive") return event.linkedTo.length === 1 ? [event.linkedTo[0]! + 1] : undefined;
    return this.reached.has(event.index) ? [FLOW_REQUEST_BASE + (event.fields.peerIndex as number)] : undefined;
  }
}

const spanKinds = new Set(["http_server_request", "http_client_request", "db_query", "db_pool_wait"]);

/**
 * The walk's events one at a time (`onEvent`, with the slice each starts), and after the last
 * event of each time its slices in drawing order (`onTime`): the order placeSlices and the
 * tracks' begins take them in. A time's slices: calls, requests and queries first, then GC
 * pauses and long tasks, as the whole trace's list of slices had them, then stably sorted.
 */
function walkByTime(events: Iterable<TraceEvent>, ahead: Ahead, onEvent: (event: TraceEvent, drawn: Drawn | undefined) => void, onTime: (ns: bigint, slices: Drawn[]) => void): void {
  let at: bigint | undefined;
  let spans: Drawn[] = [];
  let runtime: Drawn[] = [];
  const time = () => {
    const slices = runtime.length ? spans.concat(runtime) : spans;
    if (slices.length > 1) slices.sort((x, y) => drawingOrder(x.slice, y.slice));
    onTime(at!, slices);
    spans = [];
    runtime = [];
  };
  for (const event of events) {
    if (at !== undefined && event.timestampNs !== at) time();
    at = event.timestampNs;
    const drawn = ahead.drawn(event);
    // A call with no end is an instant (drawn by the caller), not a slice to place.
    if (drawn && (drawn.slice.kind !== "call" || drawn.slice.finished)) (runtimeSliceKinds.has(event.kind) ? runtime : spans).push(drawn);
    onEvent(event, drawn);
  }
  if (at !== undefined) time();
}

/**
 * Writes the trace as Perfetto packets through `write` (chunks of about 64 KiB); `collectors`:
 * scope's own pids (model.ts collectorsOf). Returns what was written, for the command's summary line.
 *
 * In bounded memory ("scope export --perfetto, dump --chrome and --why in bounded memory",
 * BENCHMARKS.md): three walks over the events, none held. 1: what packets need ahead (Ahead). 2: every slice
 * placed on its lane (LanePlacer), for the tracks, whose descriptors come first. 3: the
 * packets in time order: at the end of each time, its slices placed again (the same lanes)
 * and begun on their tracks, the ends up to that time closed, and what waits (that time's
 * begins, ends and instants) sorted and written. Their order is the whole trace's sort of
 * every emission by time and creation (unfinished calls' instants, then each track's begins
 * and ends in nesting order, tracks in their first slice's order, then instants).
 */
export function writePerfetto(events: TraceEvent[] | EventWalk, write: (chunk: Uint8Array) => void, collectors: ReadonlySet<number> = new Set()): PerfettoCounts {
  const source: EventWalk = Array.isArray(events) ? { walk: () => events, sources: events } : events;
  const { TracePacket } = perfettoSchema();
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

  // Walk 1 (unless gathered in the stream's link pass).
  const ahead = source.ahead ?? Ahead.of(source);
  counts.flows = ahead.flows;
  const { threads, processes } = ahead.names;

  // Tracks: uuids handed out in order (≥ 1): processes, threads, lanes (in the order of their
  // first slice: calls, requests and queries, then GC pauses and long tasks), counters.
  let nextUuid = 1;
  const processTrack = new Map<number, number>();
  const threadTrack = new Map<string, number>();
  const descriptors: Record<string, unknown>[] = [];
  for (const process of processes.values()) {
    const uuid = nextUuid++;
    processTrack.set(process.pid, uuid);
    // A merged trace's processes say their host and their own pid.
    const where = process.host ? `${process.host} ${process.hostPid}` : `${process.pid}`;
    // Named as `scope view` names it (model.ts processName): scope's own process is "scope (collector)".
    const what = processName(process.argv, collectors.has(process.pid));
    const name = what !== null ? `${where}: ${what}` : process.host ? `${where}` : `pid ${process.pid}`;
    descriptors.push({ uuid, process: { pid: process.pid, processName: name, cmdline: process.argv ? process.argv.split(" ") : [] } });
  }
  for (const thread of threads.values()) {
    const uuid = nextUuid++;
    threadTrack.set(`${thread.pid}/${thread.tid}`, uuid);
    descriptors.push({ uuid, parentUuid: processTrack.get(thread.pid), thread: { pid: thread.pid, tid: perfettoTid(thread.pid, thread.tid), threadName: thread.name } });
  }
  const laneKey = (slice: Slice, placement: Placement) => `${slice.pid}/${slice.tid}/${placement.group}/${placement.lane}`;

  // Walk 2: every slice placed, for its track; and the counter tracks.
  interface Lane {
    key: string;
    slice: Slice;
    placement: Placement;
  }
  const spanLanes = new Map<string, Lane>();
  const runtimeLanes = new Map<string, Lane>();
  const counterKeys = new Map<string, { pid: number; name: string; unit: number }>();
  {
    const placer = new LanePlacer();
    walkByTime(
      source.lightWalk?.() ?? source.walk(),
      ahead,
      (event) => {
        if (notInstants.has(event.kind) || runtimeSliceKinds.has(event.kind)) return;
        for (const sample of counterSamples(event) ?? []) {
          const key = `${event.pid}/${sample.name}`;
          if (!counterKeys.has(key)) counterKeys.set(key, { pid: event.pid, name: sample.name, unit: sample.unit });
        }
      },
      (_ns, slices) => {
        const placed = slices.map(({ slice }) => ({ slice, placement: placer.place(slice) }));
        // First appearances in the whole trace's list order: a time's calls, requests and queries in index order.
        placed.sort((x, y) => (runtimeSliceKinds.has(x.slice.start.kind) ? 1 : 0) - (runtimeSliceKinds.has(y.slice.start.kind) ? 1 : 0) || x.slice.start.index - y.slice.start.index);
        for (const { slice, placement } of placed) {
          const key = laneKey(slice, placement);
          const lanes = runtimeSliceKinds.has(slice.start.kind) ? runtimeLanes : spanLanes;
          if (!lanes.has(key)) lanes.set(key, { key, slice, placement });
        }
      },
    );
  }
  // Each track's state in walk 3: its rank (the order of its first slice), what is open on it.
  interface Track {
    uuid: number;
    rank: number;
    open: bigint[];
    emitted: number;
  }
  const tracks = new Map<string, Track>();
  for (const lane of [...spanLanes.values(), ...runtimeLanes.values()]) {
    const { slice, placement } = lane;
    let uuid: number;
    if (placement.group === "calls" && placement.lane === 0) uuid = threadTrack.get(`${slice.pid}/${slice.tid}`)!;
    else {
      uuid = nextUuid++;
      descriptors.push({ uuid, parentUuid: threadTrack.get(`${slice.pid}/${slice.tid}`), name: laneName(slice.tid === 0 ? "main" : `worker ${slice.tid}`, placement) });
    }
    tracks.set(lane.key, { uuid, rank: tracks.size, open: [], emitted: 0 });
  }
  spanLanes.clear();
  runtimeLanes.clear();
  const counterTrack = new Map<string, number>();
  for (const [key, { pid, name, unit }] of counterKeys) {
    const uuid = nextUuid++;
    counterTrack.set(key, uuid);
    descriptors.push({ uuid, parentUuid: processTrack.get(pid), name, counter: { unit } });
  }
  counts.tracks = descriptors.length;

  // Walk 3: the packets.
  const names = new Map<string, number>();
  const annotationNames = new Map<string, number>();
  let started = false;
  // The sequence's first packet clears its incremental state (its time: the first emission's); descriptors follow.
  const start = (ts: bigint | undefined) => {
    started = true;
    packet({ trustedPacketSequenceId: SEQUENCE_ID, sequenceFlags: SEQ_INCREMENTAL_STATE_CLEARED, firstPacketOnSequence: true, timestamp: ts === undefined ? 0 : Number(ts) });
    for (const trackDescriptor of descriptors) packet({ trustedPacketSequenceId: SEQUENCE_ID, trackDescriptor });
    descriptors.length = 0;
  };
  const encode = (e: Emission) => {
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
  };

  // What waits for its time to end: emissions of that time (and ends up to it).
  let waiting: Emission[] = [];
  let order = 0;
  const flush = () => {
    waiting.sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : x.cat - y.cat || x.a - y.a || x.b - y.b));
    if (!started && waiting.length) start(waiting[0]!.ts);
    for (const e of waiting) encode(e);
    waiting = [];
  };
  const placer = new LanePlacer();
  const active = new Set<Track>();
  // Ends of slices over by `until` (all: null), in nesting order.
  const close = (track: Track, until: bigint | null) => {
    const open = track.open;
    while (open.length && (until === null || open[open.length - 1]! <= until)) waiting.push({ ts: open.pop()!, cat: Cat.slice, a: track.rank, b: track.emitted++, type: TYPE_SLICE_END, track: track.uuid });
    if (!open.length) active.delete(track);
  };
  walkByTime(
    source.walk(),
    ahead,
    (event, drawn) => {
      if (drawn) {
        const { slice } = drawn;
        if (slice.kind === "call" && !slice.finished) {
          waiting.push({ ts: slice.startNs, cat: Cat.unfinishedCall, a: order++, b: 0, type: TYPE_INSTANT, track: threadTrack.get(`${slice.pid}/${slice.tid}`)!, name: slice.name, index: event.index, fields: event.fields, extra: drawn.extra });
          counts.instants++;
        }
        return;
      }
      if (notInstants.has(event.kind)) return;
      const counter = counterSamples(event);
      if (counter) {
        for (const sample of counter) {
          waiting.push({ ts: event.timestampNs, cat: Cat.instant, a: order++, b: 0, type: TYPE_COUNTER, track: counterTrack.get(`${event.pid}/${sample.name}`)!, counter: sample.value });
          counts.counterValues++;
        }
        return;
      }
      waiting.push({
        ts: event.timestampNs,
        cat: Cat.instant,
        a: order++,
        b: 0,
        type: TYPE_INSTANT,
        track: threadTrack.get(`${event.pid}/${event.tid}`)!,
        name: event.kind,
        index: event.index,
        fields: event.fields,
        flowIds: ahead.flowsFrom(event),
        terminatingFlowIds: ahead.flowsTo(event),
      });
      counts.instants++;
    },
    (ns, slices) => {
      for (const { slice, extra } of slices) {
        const track = tracks.get(laneKey(slice, placer.place(slice)))!;
        close(track, slice.startNs);
        waiting.push({
          ts: slice.startNs,
          cat: Cat.slice,
          a: track.rank,
          b: track.emitted++,
          type: TYPE_SLICE_BEGIN,
          track: track.uuid,
          name: slice.name,
          index: slice.start.index,
          fields: slice.start.fields,
          extra,
          flowIds: ahead.flowsFrom(slice.start),
          terminatingFlowIds: ahead.flowsTo(slice.start),
        });
        track.open.push(slice.endNs);
        active.add(track);
        counts.slices++;
      }
      for (const track of active) close(track, ns);
      flush();
    },
  );
  for (const track of active) close(track, null);
  flush();
  if (!started) start(undefined);
  write(writer.finish());
  return counts;
}

function annotation(nameIid: number, value: FieldValue): Record<string, unknown> {
  if (typeof value === "string") return { nameIid, stringValue: value };
  if (typeof value === "boolean") return { nameIid, boolValue: value };
  if (typeof value === "number" && Number.isSafeInteger(value)) return { nameIid, intValue: value };
  return { nameIid, doubleValue: Number(value) };
}

/** What a call's begin says of how it ended (its value, its error): its end event's fields. */
function callEndExtra(end: TraceEvent): Record<string, FieldValue> {
  const f = end.fields;
  if (end.kind === "function_throw") return { threw: true, errorType: f.errorType ?? null, errorMessage: f.errorMessage ?? null };
  if (f.rejected === true) return { rejected: true, errorMessage: f.errorMessage ?? null };
  return { value: f.value ?? null };
}

export type { TraceShape };
