/**
 * The index `scope view` serves windows from: the trace read once into columns (typed
 * arrays, no object per event), so a window of a 10 M-event trace is answered by binary
 * searches, not by walking every event.
 *
 * - Slices (things with a duration) are calls (sync functions, nested by the thread's
 *   stack: a flame chart per thread), async functions and generators (call → settle or
 *   return, on lanes of their own: their time spans awaits, so they do not nest in the
 *   stack), requests (start → response) and queries (start → end), the last three on
 *   lanes assigned greedily (a lane is free once its last slice ended).
 * - Instants: messages, spawns, starts and exits, errors, GC and long tasks.
 * - Arrows: message send → receive, spawn → the child's start, request client → server.
 * - Counters: heap and loop delay, when recorded.
 *
 * Each (track, row) list of slices is sorted by start and, since slices of one row never
 * overlap, by end too: a window is one binary search per row, and slices smaller than a
 * pixel are merged by jumping to the first slice a pixel further (one more binary search),
 * so the cost follows what is drawn, not what is recorded.
 */
import { StringTable, decodeRecord } from "../core/events";
import { ChannelCloseFlag, ChannelKind, EventKind, eventKindName, ExitFlag, HttpEndFlag, RECORD_SIZE, STEP_ORDINAL_LIMIT, StepStartFlag } from "../core/layout";
import { ChannelKindName, collectorPids, GcKindName, hostPid, interpret, MERGE_PID_SHIFT, mergedCollectorPid, processName, type FieldValue, type RawEvent } from "../core/model";
import { readTrace, type TraceHeader } from "../core/trace-file";
import { damageText, UNCLOSED_WHY } from "../core/trace-ending";
import { Grow, lowerBound, lowerBoundBy } from "./grow";
import { type TrackKind, type TrackInfo, InstantKind, SliceKind, ArrowKind, type TraceStatus, type Meta, type WindowQuery, type WindowAnswer, type Link, type Details, type SearchHit } from "./wire";

const SliceFlag = { unfinished: 1, failed: 2 } as const;

export interface TopEntry {
  name: string;
  selfNs: number;
  totalNs: number;
  calls: number;
}

interface Thread {
  pid: number;
  tid: number;
  calls: Track;
  lanes: Partial<Record<LaneKind, Track>>;
  counters: Map<string, Track>;
  stackSlice: number[];
  stackCall: number[];
  asyncOpen: Map<number, number>;
  requests: Map<number, number>;
  /** Framework steps still open, by "requestId/step". */
  steps: Map<string, number>;
  queries: Map<number, number>;
  waits: Map<number, number>;
  functions: Map<number, number>;
  /** HTTP connections by id: "local:port>remote:port" as this side wrote it. */
  connections: Map<number, { local: string; remote: string }>;
  asyncFunctions: Set<number>;
  /** --async: callbacks' begins (+id) and ends (-id) with their times, in write order. */
  asyncMarks: { t: number; id: number }[];
  /** --async: per async id, when it was created and the async id whose callback ran then. */
  asyncInit: Map<number, { t: number; parent: number }>;
  /** --async: calls with nothing traced below them (a callback's first call), to find their cause. */
  topCalls: number[];
  /** scope attach: live-traced functions by id, as labels. */
  attachFunctions: Map<number, number>;
  /** Functions recorded without their returns (the "calls" level): their calls do not nest. */
  callsOnly: Set<number>;
  /** The thread recorded no return, throw or settle at all (the whole run at the "calls" level). */
  noReturns: boolean;
  /** Records of its function_table events (for details). */
  tableRecords: number[];
  pendingReceive: number;
  startInstant: number;
  lastNs: number;
  argv: string | null;
  mainThread: boolean;
}

type LaneKind = "async" | "requests" | "steps" | "queries" | "loop";

interface Track {
  info: TrackInfo;
  /** Per row: slice ids, ascending by start (and by end). */
  rows: Grow<Uint32Array>[];
  /** Lanes only: when each row is free again (NaN while its last slice is open). */
  freeAt: number[];
  instants: Grow<Uint32Array>;
  counter?: { times: Grow<Float64Array>; values: Grow<Float64Array> };
  thread: Thread | null;
}

const TWO_32 = 4294967296;

export class TraceIndex {
  readonly path: string;
  readonly header: TraceHeader;
  readonly status: TraceStatus;
  private readonly batches: Uint8Array[] = [];
  private readonly batchStart: number[] = [];
  private records = 0;
  /** The records read (all of a whole trace's, those before the damage of a damaged one's). */
  get recordCount(): number {
    return this.records;
  }
  private readonly strings = new StringTable({ maxStrings: 10_000_000 });

  readonly labels: string[] = [""];
  private readonly labelIds = new Map<string, number>();

  // Slices.
  private readonly sStart = new Grow(Float64Array);
  private readonly sEnd = new Grow(Float64Array);
  private readonly sLabel = new Grow(Uint32Array);
  private readonly sRec = new Grow(Uint32Array);
  private readonly sEndRec = new Grow(Int32Array);
  private readonly sTrack = new Grow(Uint32Array);
  private readonly sRow = new Grow(Uint16Array);
  private readonly sParent = new Grow(Int32Array);
  private readonly sKind = new Grow(Uint8Array);
  private readonly sFlags = new Grow(Uint8Array);
  /** A failed slice's error ("TypeError: x is not a function", a query's code and message) as a label, for search. */
  private readonly sliceErrors = new Map<number, number>();
  private readonly handles = new Map<number, number>();

  // Instants.
  private readonly iTime = new Grow(Float64Array);
  private readonly iTrack = new Grow(Uint32Array);
  private readonly iKind = new Grow(Uint8Array);
  private readonly iRec = new Grow(Uint32Array);
  private readonly iLabel = new Grow(Uint32Array);
  private readonly handledBy = new Map<number, number>();
  private readonly peers = new Map<number, number[]>();

  // Arrows, sorted by their start once built.
  private aFromT = new Float64Array(0);
  private aToT = new Float64Array(0);
  private aFromTrack = new Uint32Array(0);
  private aToTrack = new Uint32Array(0);
  private aFromRec = new Uint32Array(0);
  private aToRec = new Uint32Array(0);
  private aKind = new Uint8Array(0);
  private arrowMaxSpan = 0;

  /** Record → item: slice s as s+1, instant i as -(i+1), 0 for none. */
  private recItem = new Int32Array(0);

  private readonly threads = new Map<number, Map<number, Thread>>();
  /** A merged trace's hosts by input (trace_source); empty otherwise (the header's host). */
  private readonly hosts = new Map<number, string>();
  /** The `scope` processes' own pids (their records: drops, recording stops). */
  private readonly collectors = new Set<number>();
  private readonly tracks: Track[] = [];
  private ordered: TrackInfo[] = [];
  private durationNs = 0;
  private readonly anchorHi: number;
  private readonly anchorLo: number;

  private constructor(path: string, header: TraceHeader, status: TraceStatus) {
    this.path = path;
    this.header = header;
    this.status = status;
    this.anchorHi = Number(header.monotonicAnchorNs >> 32n);
    this.anchorLo = Number(header.monotonicAnchorNs & 0xffff_ffffn);
  }

  /** Reads and indexes a trace; throws (TraceFileError) only when its header is unreadable. */
  static open(path: string): TraceIndex {
    const trace = readTrace(path);
    const batches: Uint8Array[] = [];
    for (const batch of trace.batches(65536)) batches.push(batch);
    const end = trace.end;
    const error = trace.error;
    const dropped = end ? Number(end.dropped) : 0;
    const overwritten = end ? Number(end.overwritten) : 0;
    // The page's sentence; `scope view` says the trace's ending on stderr as every reading command does (core/trace-ending.ts).
    let warning: string | null = null;
    if (error) warning = `This trace is damaged: ${damageText(error)}. Everything before it is shown.`;
    else if (!end) warning = `This ${UNCLOSED_WHY}: everything recorded so far is shown.`;
    else if (dropped > 0) warning = `${dropped} records were dropped while recording: the trace has gaps.`;
    const index = new TraceIndex(path, trace.header, { closed: end !== null, error: error ? damageText(error) : null, dropped, overwritten, warning });
    index.build(batches);
    return index;
  }

  // ---------------------------------------------------------------------------------------
  // Building.

  private time(view: DataView, base: number): number {
    return (view.getUint32(base + 12, true) - this.anchorHi) * TWO_32 + (view.getUint32(base + 8, true) - this.anchorLo);
  }

  private label(text: string): number {
    let id = this.labelIds.get(text);
    if (id === undefined) {
      id = this.labels.push(text) - 1;
      this.labelIds.set(text, id);
    }
    return id;
  }

  private thread(pid: number, tid: number): Thread {
    let byTid = this.threads.get(pid);
    if (!byTid) this.threads.set(pid, (byTid = new Map()));
    let thread = byTid.get(tid);
    if (!thread) {
      thread = {
        pid,
        tid,
        calls: undefined as unknown as Track,
        lanes: {},
        counters: new Map(),
        stackSlice: [],
        stackCall: [],
        asyncOpen: new Map(),
        requests: new Map(),
        steps: new Map(),
        queries: new Map(),
        waits: new Map(),
        functions: new Map(),
        connections: new Map(),
        asyncFunctions: new Set(),
        callsOnly: new Set(),
        attachFunctions: new Map(),
        asyncMarks: [],
        asyncInit: new Map(),
        topCalls: [],
        noReturns: false,
        tableRecords: [],
        pendingReceive: -1,
        startInstant: -1,
        lastNs: 0,
        argv: null,
        mainThread: tid === 0,
      };
      thread.calls = this.newTrack(thread, "calls");
      byTid.set(tid, thread);
    }
    return thread;
  }

  private newTrack(thread: Thread | null, kind: TrackKind, pid = thread?.pid ?? 0, tid = thread?.tid ?? 0, label = ""): Track {
    const track: Track = {
      info: { id: this.tracks.length, host: this.header.hostName, pid, tid, kind, label, process: "", rows: 0 },
      rows: [],
      freeAt: [],
      instants: new Grow(Uint32Array, 16),
      thread,
    };
    this.tracks.push(track);
    return track;
  }

  private lane(thread: Thread, kind: LaneKind, startNs: number): { track: Track; row: number } {
    let track = thread.lanes[kind];
    if (!track) thread.lanes[kind] = track = this.newTrack(thread, kind);
    let row = track.freeAt.findIndex((free) => free <= startNs);
    if (row < 0) {
      row = track.freeAt.push(0) - 1;
      track.rows.push(new Grow(Uint32Array, 64));
    }
    track.freeAt[row] = Number.NaN;
    return { track, row };
  }

  private slice(track: Track, row: number, startNs: number, label: number, rec: number, kind: number, parent: number): number {
    while (track.rows.length <= row) track.rows.push(new Grow(Uint32Array, 64));
    const id = this.sStart.push(startNs);
    this.sEnd.push(Number.NaN);
    this.sLabel.push(label);
    this.sRec.push(rec);
    this.sEndRec.push(-1);
    this.sTrack.push(track.info.id);
    this.sRow.push(row);
    this.sParent.push(parent);
    this.sKind.push(kind);
    this.sFlags.push(0);
    track.rows[row]!.push(id);
    return id;
  }

  private close(slice: number, endNs: number, rec: number, failed = false, error?: string): void {
    if (!Number.isNaN(this.sEnd.data[slice]!)) return;
    this.sEnd.data[slice] = Math.max(endNs, this.sStart.data[slice]!);
    this.sEndRec.data[slice] = rec;
    if (failed) this.sFlags.data[slice]! |= SliceFlag.failed;
    if (failed && error) this.sliceErrors.set(slice, this.label(error.length > 200 ? `${error.slice(0, 197)}...` : error));
    const track = this.tracks[this.sTrack.data[slice]!]!;
    if (track.info.kind !== "calls") track.freeAt[this.sRow.data[slice]!] = this.sEnd.data[slice]!;
  }

  private instant(track: Track, timeNs: number, kind: number, rec: number, label: number): number {
    const id = this.iTime.push(timeNs);
    this.iTrack.push(track.info.id);
    this.iKind.push(kind);
    this.iRec.push(rec);
    this.iLabel.push(label);
    track.instants.push(id);
    return id;
  }

  private build(batches: Uint8Array[]): void {
    let records = 0;
    for (const batch of batches) {
      this.batches.push(batch);
      this.batchStart.push(records);
      records += batch.byteLength / RECORD_SIZE;
    }
    this.records = records;
    // Pass 1: which strings name things (functions, processes, messages, requests, queries:
    // kept; argument and value previews are read only when an event is opened, see
    // stringNear) and which threads recorded calls but no ends (the "calls" level: a stack
    // would only grow).
    const calls = new Set<number>();
    const ends = new Set<number>();
    const wanted = new Map<number, Set<number>>();
    const threadKey = (view: DataView, base: number) => view.getUint32(base + 16, true) * 65536 + (view.getUint32(base + 20, true) % 65536);
    let lastCall = -1;
    let lastEnd = -1;
    for (const batch of batches) {
      const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      for (let base = 0; base < batch.byteLength; base += RECORD_SIZE) {
        const kind = view.getUint16(base + 4, true);
        if (kind === EventKind.string) continue;
        if (kind === EventKind.function_call) {
          const key = threadKey(view, base);
          if (key !== lastCall) calls.add((lastCall = key));
          continue;
        }
        if (kind === EventKind.function_return || kind === EventKind.function_throw || kind === EventKind.function_settle) {
          const key = threadKey(view, base);
          if (key !== lastEnd) ends.add((lastEnd = key));
          if (kind === EventKind.function_return) continue;
        }
        const fields = namingFields[kind];
        if (!fields) continue;
        const key = threadKey(view, base);
        let ids = wanted.get(key);
        if (!ids) wanted.set(key, (ids = new Set()));
        for (const field of fields) ids.add(view.getUint32(base + field, true));
      }
    }
    let lastKey = -1;
    let ids: Set<number> | undefined;
    for (const batch of batches) {
      const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      for (let base = 0; base < batch.byteLength; base += RECORD_SIZE) {
        if (view.getUint16(base + 4, true) !== EventKind.string) continue;
        const key = threadKey(view, base);
        if (key !== lastKey) {
          lastKey = key;
          ids = wanted.get(key);
        }
        if (ids?.has(view.getUint32(base + 24, true))) this.strings.add(decodeRecord(batch, base));
      }
    }
    const noReturns = new Set([...calls].filter((key) => !ends.has(key)));
    this.recItem = new Int32Array(records);
    const sends = new Map<string, number>();
    const receives: { instant: number; key: string }[] = [];
    const spawns: { instant: number; pid: number; tid: number }[] = [];
    const traceparents = new Map<string, { out: number[]; in: number[] }>();
    // Client and server requests by connection (as the client saw it) and ordinal on it.
    const byConnection = new Map<string, { out: number[]; in: number[] }>();
    const side = (map: Map<string, { out: number[]; in: number[] }>, key: string) => {
      let pair = map.get(key);
      if (!pair) map.set(key, (pair = { out: [], in: [] }));
      return pair;
    };
    let rec = 0;
    let lastPid = -1;
    let lastTid = -1;
    let thread: Thread | undefined;
    // The record being read, for the field readers below (made once, not per record).
    let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
    let base = 0;
    let pid = 0;
    let tid = 0;
    const u64 = (field: number) => view.getUint32(base + field, true) + view.getUint32(base + field + 4, true) * TWO_32;
    const str = (field: number) => {
      const id = view.getUint32(base + field, true);
      return id === 0 ? null : (this.strings.get(pid, tid, id) ?? null);
    };
    for (const batch of batches) {
      view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      for (base = 0; base < batch.byteLength; base += RECORD_SIZE, rec++) {
        const kind = view.getUint16(base + 4, true);
        if (kind === EventKind.string || kind === EventKind.invalid) continue;
        pid = view.getUint32(base + 16, true);
        tid = view.getUint32(base + 20, true);
        if (pid !== lastPid || tid !== lastTid || !thread) {
          thread = this.thread(pid, tid);
          if (noReturns.size > 0 && noReturns.has(threadKey(view, base))) thread.noReturns = true;
          lastPid = pid;
          lastTid = tid;
        }
        const t = this.time(view, base);
        if (t > thread.lastNs) thread.lastNs = t;
        if (t > this.durationNs) this.durationNs = t;
        // Another runtime event between a receive and a call: that call is not the message's
        // handler. Loop, GC, async and merge records (80 and up) are written outside that
        // ordered stream and say nothing about it.
        const isFunction = kind >= EventKind.function_table && kind <= EventKind.function_level;
        if (!isFunction && kind < 80) thread.pendingReceive = -1;
        switch (kind) {
          case EventKind.function_table: {
            const name = str(32) ?? "<anonymous>";
            const file = str(40) ?? "?";
            thread.functions.set(u64(24), this.label(`${name} (${file}:${u64(48)}:${u64(56)})`));
            if ((view.getUint16(base + 6, true) & 3) !== 0) thread.asyncFunctions.add(u64(24));
            thread.tableRecords.push(rec);
            break;
          }
          case EventKind.function_call: {
            const fid = u64(24);
            const call = u64(32);
            const label = thread.functions.get(fid) ?? this.label(`<function ${fid}>`);
            // The first traced call of a callback: nothing traced below it.
            const topLevel = thread.stackSlice.length === 0;
            let slice: number;
            if (thread.noReturns || thread.callsOnly.has(fid)) {
              // No end will come: a mark of no length at the current depth, never on the stack.
              const depth = thread.stackSlice.length;
              slice = this.slice(thread.calls, depth, t, label, rec, SliceKind.call, depth ? thread.stackSlice[depth - 1]! : -1);
              this.close(slice, t, -1);
            } else if (thread.asyncFunctions.has(fid)) {
              const { track, row } = this.lane(thread, "async", t);
              slice = this.slice(track, row, t, label, rec, SliceKind.async, -1);
              thread.asyncOpen.set(call, slice);
            } else {
              const depth = thread.stackSlice.length;
              slice = this.slice(thread.calls, depth, t, label, rec, SliceKind.call, depth ? thread.stackSlice[depth - 1]! : -1);
              thread.stackSlice.push(slice);
              thread.stackCall.push(call);
            }
            this.recItem[rec] = slice + 1;
            if (topLevel && thread.asyncInit.size > 0) thread.topCalls.push(slice);
            if (thread.pendingReceive >= 0) {
              this.handles.set(slice, thread.pendingReceive);
              this.handledBy.set(thread.pendingReceive, slice);
              thread.pendingReceive = -1;
            }
            break;
          }
          case EventKind.function_return:
          case EventKind.function_throw:
          case EventKind.function_settle: {
            const call = u64(32);
            const failed = kind === EventKind.function_throw || (kind === EventKind.function_settle && (view.getUint16(base + 6, true) & 1) !== 0);
            // A throw's type and message; a rejected settle's message (its c is the value's preview).
            const error = failed ? errorText(kind === EventKind.function_throw ? str(40) : null, str(48)) : undefined;
            const open = thread.asyncOpen.get(call);
            if (open !== undefined) {
              // An async function ends when it settles (no return is recorded for it), a generator when it returns.
              thread.asyncOpen.delete(call);
              this.close(open, t, rec, failed, error);
              break;
            }
            const at = thread.stackCall.lastIndexOf(call);
            if (at < 0) break;
            while (thread.stackSlice.length > at) {
              const slice = thread.stackSlice.pop()!;
              thread.stackCall.pop();
              this.close(slice, t, thread.stackSlice.length === at ? rec : -1, thread.stackSlice.length === at && failed, error);
            }
            break;
          }
          // Written outside the ordered stream of function events: placed by their times (causes()).
          case EventKind.async_init:
            thread.asyncInit.set(u64(24), { t, parent: u64(48) });
            break;
          case EventKind.async_before:
          case EventKind.async_after:
            thread.asyncMarks.push({ t, id: kind === EventKind.async_before ? u64(24) : -u64(24) });
            break;
          case EventKind.attach_start: {
            const instant = this.instant(thread.calls, t, InstantKind.start, rec, this.label(`scope attached (running ${Math.round(u64(24) / 1000)} s)`));
            this.recItem[rec] = -(instant + 1);
            break;
          }
          case EventKind.attach_end:
            this.recItem[rec] = -(this.instant(thread.calls, t, InstantKind.exit, rec, this.label("scope detached")) + 1);
            break;
          case EventKind.attach_function_add:
            thread.attachFunctions.set(u64(24), this.label(`${str(32) ?? "<anonymous>"} (${str(40) ?? "?"}:${u64(48)}:${u64(56)})`));
            break;
          case EventKind.attach_function_call: {
            // Live tracing records calls only: marks of no length, as at the calls level.
            const fid = u64(24);
            const label = thread.attachFunctions.get(fid) ?? this.threads.get(pid)?.get(0)?.attachFunctions.get(fid) ?? this.label(`<function ${fid}>`);
            const depth = thread.stackSlice.length;
            const slice = this.slice(thread.calls, depth, t, label, rec, SliceKind.call, depth ? thread.stackSlice[depth - 1]! : -1);
            this.close(slice, t, -1);
            this.recItem[rec] = slice + 1;
            break;
          }
          case EventKind.function_level: {
            // The overhead governor moved a function to "calls" (2) or below: no returns from here on.
            if (u64(32) <= 2) thread.callsOnly.add(u64(24));
            else thread.callsOnly.delete(u64(24));
            break;
          }
          case EventKind.trace_start: {
            thread.argv = str(32);
            thread.mainThread = u64(56) === 1;
            thread.startInstant = this.instant(thread.calls, t, InstantKind.start, rec, this.label(thread.mainThread ? `start: ${thread.argv ?? "?"}` : "thread start"));
            this.recItem[rec] = -(thread.startInstant + 1);
            break;
          }
          case EventKind.process_spawn: {
            const child = u64(24);
            const instant = this.instant(thread.calls, t, InstantKind.spawn, rec, this.label(`spawn ${child}: ${str(32) ?? "?"}`));
            this.recItem[rec] = -(instant + 1);
            spawns.push({ instant, pid: child, tid: 0 });
            break;
          }
          case EventKind.thread_spawn: {
            const worker = u64(24);
            const instant = this.instant(thread.calls, t, InstantKind.threadSpawn, rec, this.label(`worker ${worker}: ${str(32) ?? "?"}`));
            this.recItem[rec] = -(instant + 1);
            spawns.push({ instant, pid, tid: worker });
            break;
          }
          case EventKind.process_exit:
          case EventKind.thread_exit: {
            const code = view.getInt32(base + 24, true);
            const flags = view.getUint16(base + 6, true);
            const error = (flags & ExitFlag.collector) === 0 ? str(40) : null;
            const label = (flags & ExitFlag.collector) !== 0 ? collectorEndingLabel(kind === EventKind.thread_exit, flags, code, view.getUint32(base + 32, true)) : `${kind === EventKind.process_exit ? "process" : "thread"} exit ${code}${error ? `: ${error}` : ""}`;
            this.recItem[rec] = -(this.instant(thread.calls, t, error ? InstantKind.error : InstantKind.exit, rec, this.label(label)) + 1);
            break;
          }
          case EventKind.child_exit:
          case EventKind.thread_exited: {
            const who = u64(24);
            const label = kind === EventKind.child_exit ? `child ${who} exited` : `worker ${who} exited`;
            this.recItem[rec] = -(this.instant(thread.calls, t, kind === EventKind.child_exit ? InstantKind.childExit : InstantKind.threadExit, rec, this.label(label)) + 1);
            break;
          }
          case EventKind.message_send:
          case EventKind.message_receive: {
            const b = u64(32);
            const channel = ChannelKindName[b & 0xff] ?? `channel ${b & 0xff}`;
            const key = `${b & 0xff}/${u64(40)}/${Math.floor(b / 0x10000)}/${(b >>> 8) & 0xff}/${u64(24)}`;
            const preview = str(56);
            const send = kind === EventKind.message_send;
            const instant = this.instant(thread.calls, t, send ? InstantKind.send : InstantKind.receive, rec, this.label(`${channel} ${send ? "send" : "receive"}${preview ? ` ${preview}` : ""}`));
            this.recItem[rec] = -(instant + 1);
            if (send) sends.set(key, instant);
            else {
              receives.push({ instant, key });
              thread.pendingReceive = instant;
            }
            break;
          }
          case EventKind.channel_open:
          case EventKind.channel_close: {
            // A connection's open or close at one end (a WebSocket's): "websocket client 5 open ws://…", "websocket client 5 close 1000 bye".
            const a = u64(24);
            const subId = Math.floor(a / 0x10000);
            const side = (a & 0xff) === ChannelKind.websocket ? (subId % 4 === 0 ? " server" : subId % 4 === 1 ? " client" : "") : "";
            const name = `${ChannelKindName[a & 0xff] ?? `channel ${a & 0xff}`}${side} ${subId}`;
            const flags = view.getUint16(base + 6, true);
            const error = kind === EventKind.channel_close ? str(56) : null;
            const label =
              kind === EventKind.channel_open
                ? `${name} open${str(40) ? ` ${str(40)}` : ""}`
                : `${name} close${u64(40) ? ` ${u64(40)}` : ""}${str(48) ? ` ${str(48)}` : ""}${(flags & ChannelCloseFlag.unclean) !== 0 ? " (no closing handshake)" : ""}${error ? `: ${error}` : ""}`;
            this.recItem[rec] = -(this.instant(thread.calls, t, (flags & ChannelCloseFlag.error) !== 0 && kind === EventKind.channel_close ? InstantKind.error : InstantKind.connection, rec, this.label(label)) + 1);
            break;
          }
          case EventKind.drop:
            // Records of this thread were lost just before (ARCHITECTURE.md "Records lost:
            // calls nest again from depth 0"): the calls on its stack end here, unfinished as
            // at the trace's end, and later calls start from depth 0. A collector's marker
            // names the collector, whose thread has no calls.
            while (thread.stackSlice.length > 0) {
              const slice = thread.stackSlice.pop()!;
              thread.stackCall.pop();
              this.close(slice, t, -1);
              this.sFlags.data[slice]! |= SliceFlag.unfinished;
            }
          // falls through: shown as a warning
          case EventKind.agent_error:
          case EventKind.recording_stop:
          case EventKind.flight_dump: {
            const label = kind === EventKind.drop ? `${u64(24)} records ${(view.getUint16(base + 6, true) & 2) !== 0 ? "overwritten" : "dropped"}` : kind === EventKind.agent_error ? `agent error: ${str(24) ?? "?"}` : kind === EventKind.recording_stop ? "recording stopped" : "flight recorder dump";
            this.recItem[rec] = -(this.instant(thread.calls, t, InstantKind.warning, rec, this.label(label)) + 1);
            break;
          }
          case EventKind.http_server_request:
          case EventKind.http_client_request: {
            const server = kind === EventKind.http_server_request;
            const { track, row } = this.lane(thread, "requests", t);
            const name = `${server ? "" : "→ "}${str(32) ?? "?"} ${str(40) ?? ""}`;
            const slice = this.slice(track, row, t, this.label(name), rec, SliceKind.request, -1);
            thread.requests.set(u64(24), slice);
            this.recItem[rec] = slice + 1;
            const connection = server ? thread.connections.get(u64(48)) : undefined;
            if (connection && u64(56) > 0) side(byConnection, `${connection.remote}>${connection.local}#${u64(56)}`).in.push(slice);
            break;
          }
          case EventKind.http_connection: {
            const address = (field: number) => {
              const text = (str(field) ?? "").toLowerCase();
              return text.startsWith("::ffff:") && text.includes(".") ? text.slice(7) : text;
            };
            thread.connections.set(u64(24), { local: `${address(32)}:${u64(40)}`, remote: `${address(48)}:${u64(56)}` });
            break;
          }
          case EventKind.http_client_connection: {
            const slice = thread.requests.get(u64(24));
            const connection = thread.connections.get(u64(32));
            if (slice !== undefined && connection && u64(40) > 0) side(byConnection, `${connection.local}>${connection.remote}#${u64(40)}`).out.push(slice);
            break;
          }
          case EventKind.trace_source: {
            // A merged trace: input a's pids are its own + a << 22, its host is b.
            this.hosts.set(u64(24), str(32) ?? "?");
            const collector = mergedCollectorPid(u64(24), str(56));
            if (collector !== null) this.collectors.add(collector);
            break;
          }
          case EventKind.http_server_response:
          case EventKind.http_client_response: {
            const slice = thread.requests.get(u64(24));
            if (slice !== undefined) this.close(slice, t, rec, u64(32) >= 500 || u64(56) !== 1);
            // A server response with HttpEndFlag.stepsEnd ends its request's steps still open (model.ts stepEnds).
            if (kind === EventKind.http_server_response && (view.getUint16(base + 6, true) & HttpEndFlag.stepsEnd) !== 0 && thread.steps.size) {
              const prefix = `${u64(24)}/`;
              for (const [key, step] of thread.steps) {
                if (!key.startsWith(prefix)) continue;
                thread.steps.delete(key);
                this.close(step, t, rec);
              }
            }
            break;
          }
          case EventKind.http_step_start: {
            // A framework step (middleware, handler, error handler): "middleware jsonParser", "handler <anonymous> /users/:id".
            const flags = view.getUint16(base + 6, true);
            const step = (flags & StepStartFlag.route) !== 0 ? u64(32) % STEP_ORDINAL_LIMIT : u64(32);
            const route = str(56);
            const { track, row } = this.lane(thread, "steps", t);
            const slice = this.slice(track, row, t, this.label(`${str(48) || "step"} ${str(40) || "<anonymous>"}${route ? ` ${route}` : ""}`), rec, SliceKind.step, -1);
            thread.steps.set(`${u64(24)}/${step}`, slice);
            this.recItem[rec] = slice + 1;
            break;
          }
          case EventKind.http_step_end: {
            const key = `${u64(24)}/${u64(32)}`;
            const slice = thread.steps.get(key);
            if (slice !== undefined) {
              thread.steps.delete(key);
              const failed = (view.getUint16(base + 6, true) & 1) !== 0;
              this.close(slice, t, rec, failed, failed ? errorText(str(40), str(48)) : undefined);
            }
            break;
          }
          case EventKind.http_traceparent: {
            const parent = str(32);
            const slice = thread.requests.get(u64(24));
            if (!parent || slice === undefined) break;
            // The trace id and parent id: the client's outgoing header is the server's incoming one.
            const pair = side(traceparents, parent.trim().toLowerCase());
            ((view.getUint16(base + 6, true) & 1) !== 0 ? pair.out : pair.in).push(slice);
            break;
          }
          case EventKind.long_task:
          case EventKind.gc: {
            // Written after they ended: b = ns from their start to the record.
            const durationNs = u64(24);
            const startNs = t - u64(32);
            const { track, row } = this.lane(thread, "loop", startNs);
            const gc = kind === EventKind.gc;
            const label = gc ? `GC ${GcKindName[u64(40)] ?? u64(40)}` : `long task${str(48) ? `: ${str(48)}` : ""}`;
            const slice = this.slice(track, row, startNs, this.label(label), rec, gc ? SliceKind.gc : SliceKind.longTask, -1);
            this.close(slice, startNs + durationNs, -1);
            this.recItem[rec] = slice + 1;
            break;
          }
          case EventKind.loop_sample: {
            const counter = this.counter(thread, "loop delay p99", "ns");
            counter.times.push(t);
            counter.values.push(u64(40));
            break;
          }
          case EventKind.memory_sample: {
            const counter = this.counter(thread, "heap used", "bytes");
            counter.times.push(t);
            counter.values.push(u64(24));
            break;
          }
          case EventKind.db_query:
          case EventKind.db_pool_wait: {
            const query = kind === EventKind.db_query;
            const { track, row } = this.lane(thread, "queries", t);
            const text = query ? (str(32) ?? "query") : "pool wait";
            const slice = this.slice(track, row, t, this.label(text.length > 200 ? `${text.slice(0, 197)}...` : text), rec, query ? SliceKind.query : SliceKind.poolWait, -1);
            (query ? thread.queries : thread.waits).set(u64(24), slice);
            this.recItem[rec] = slice + 1;
            break;
          }
          case EventKind.db_query_end:
          case EventKind.db_pool_wait_end: {
            const open = kind === EventKind.db_query_end ? thread.queries : thread.waits;
            const slice = open.get(u64(24));
            if (slice !== undefined) {
              open.delete(u64(24));
              const failed = (view.getUint16(base + 6, true) & 1) !== 0;
              this.close(slice, t, rec, failed, failed ? errorText(str(40), str(48)) : undefined);
            }
            break;
          }
          default:
            break;
        }
      }
    }
    this.finish(sends, receives, spawns, byConnection, traceparents);
  }

  private finish(
    sends: Map<string, number>,
    receives: { instant: number; key: string }[],
    spawns: { instant: number; pid: number; tid: number }[],
    byConnection: Map<string, { out: number[]; in: number[] }>,
    traceparents: Map<string, { out: number[]; in: number[] }>,
  ): void {
    // Whatever is still open ends with its thread's last event, marked unfinished.
    for (let s = 0; s < this.sStart.length; s++) {
      if (!Number.isNaN(this.sEnd.data[s]!)) continue;
      const thread = this.tracks[this.sTrack.data[s]!]!.thread!;
      this.sEnd.data[s] = Math.max(thread.lastNs, this.sStart.data[s]!);
      this.sFlags.data[s]! |= SliceFlag.unfinished;
    }
    const arrows: [number, number, number, number, number, number, number][] = [];
    const addArrow = (fromT: number, fromTrack: number, fromRec: number, toT: number, toTrack: number, toRec: number, kind: number) => {
      arrows.push([fromT, toT, fromTrack, toTrack, fromRec, toRec, kind]);
    };
    for (const { instant, key } of receives) {
      const send = sends.get(key);
      if (send === undefined) continue;
      this.link(send, instant);
      // The receive shows its send's value (it records none of its own).
      this.iLabel.data[instant] = this.label(this.labels[this.iLabel.data[send]!]!.replace(" send", " receive"));
      addArrow(this.iTime.data[send]!, this.iTrack.data[send]!, this.iRec.data[send]!, this.iTime.data[instant]!, this.iTrack.data[instant]!, this.iRec.data[instant]!, ArrowKind.message);
    }
    for (const { instant, pid, tid } of spawns) {
      const child = this.threads.get(pid)?.get(tid);
      if (!child || child.startInstant < 0) continue;
      this.link(instant, child.startInstant);
      const start = child.startInstant;
      addArrow(this.iTime.data[instant]!, this.iTrack.data[instant]!, this.iRec.data[instant]!, this.iTime.data[start]!, this.iTrack.data[start]!, this.iRec.data[start]!, ArrowKind.spawn);
    }
    // Client request → the server request it reached (as model.ts linkPeers pairs them): by
    // connection and ordinal, then by a traceparent exactly one request of each side carries.
    const paired = new Set<number>();
    const pairRequests = (from: number, to: number) => {
      paired.add(from);
      paired.add(to);
      this.linkSlices(from, to);
      addArrow(this.sStart.data[from]!, this.sTrack.data[from]!, this.sRec.data[from]!, this.sStart.data[to]!, this.sTrack.data[to]!, this.sRec.data[to]!, ArrowKind.request);
    };
    for (const pair of byConnection.values()) {
      for (let i = 0; i < Math.min(pair.out.length, pair.in.length); i++) pairRequests(pair.out[i]!, pair.in[i]!);
    }
    for (const pair of traceparents.values()) {
      if (pair.out.length !== 1 || pair.in.length !== 1 || paired.has(pair.out[0]!) || paired.has(pair.in[0]!)) continue;
      pairRequests(pair.out[0]!, pair.in[0]!);
    }
    arrows.sort((x, y) => x[0] - y[0]);
    const n = arrows.length;
    this.aFromT = new Float64Array(n);
    this.aToT = new Float64Array(n);
    this.aFromTrack = new Uint32Array(n);
    this.aToTrack = new Uint32Array(n);
    this.aFromRec = new Uint32Array(n);
    this.aToRec = new Uint32Array(n);
    this.aKind = new Uint8Array(n);
    arrows.forEach(([fromT, toT, fromTrack, toTrack, fromRec, toRec, kind], i) => {
      this.aFromT[i] = fromT;
      this.aToT[i] = toT;
      this.aFromTrack[i] = fromTrack;
      this.aToTrack[i] = toTrack;
      this.aFromRec[i] = fromRec;
      this.aToRec[i] = toRec;
      this.aKind[i] = kind;
      this.arrowMaxSpan = Math.max(this.arrowMaxSpan, Math.abs(toT - fromT));
    });
    this.sortRows();
    // The columns are complete: their spare capacity (up to half of each) goes back.
    for (const column of [this.sStart, this.sEnd, this.sLabel, this.sRec, this.sEndRec, this.sTrack, this.sRow, this.sParent, this.sKind, this.sFlags, this.iTime, this.iTrack, this.iKind, this.iRec, this.iLabel]) column.trim();
    for (const track of this.tracks) for (const row of track.rows) row.trim();
    for (const byTid of this.threads.values()) for (const thread of byTid.values()) this.findCauses(thread);
    this.orderTracks();
  }

  /** A callback's first call → the call that was running when its resource was created. */
  private readonly causes = new Map<number, number>();

  /**
   * --async: a callback's first traced call was caused by the call running when the
   * callback's resource was created (setTimeout, a promise's then, a socket...); when no
   * traced call ran then, by the one running when that resource's creator was created,
   * and so on up. The callbacks' begins and ends are replayed by time against the calls.
   */
  private findCauses(thread: Thread): void {
    if (thread.topCalls.length === 0) return;
    const marks = [...thread.asyncMarks].sort((x, y) => x.t - y.t);
    const running: number[] = [];
    let m = 0;
    for (const slice of thread.topCalls) {
      const t = this.sStart.data[slice]!;
      for (; m < marks.length && marks[m]!.t <= t; m++) {
        const id = marks[m]!.id;
        if (id > 0) running.push(id);
        else {
          const at = running.lastIndexOf(-id);
          if (at >= 0) running.length = at;
        }
      }
      let id = running[running.length - 1] ?? 0;
      for (let hop = 0; hop < 32 && id > 1; hop++) {
        const init = thread.asyncInit.get(id);
        if (!init) break;
        const cause = this.callAt(thread.calls, init.t);
        if (cause >= 0 && cause !== slice) {
          this.causes.set(slice, cause);
          break;
        }
        id = init.parent;
      }
    }
  }

  /** The deepest call of a calls track running at time t, or -1. */
  private callAt(track: Track, t: number): number {
    let found = -1;
    for (const row of track.rows) {
      const ids = row.view;
      const i = lowerBoundBy(ids, this.sEnd.data, t, 0, ids.length);
      if (i >= ids.length || this.sStart.data[ids[i]!]! > t) break;
      found = ids[i]!;
    }
    return found;
  }

  /** Client and server request slices (by their record, kept apart from instants' peers). */
  private readonly requestPeers = new Map<number, number>();

  private linkSlices(client: number, server: number): void {
    this.requestPeers.set(client, server);
    this.requestPeers.set(server, client);
  }

  private link(from: number, to: number): void {
    const a = this.peers.get(from);
    if (a) a.push(to);
    else this.peers.set(from, [to]);
    const b = this.peers.get(to);
    if (b) b.push(from);
    else this.peers.set(to, [from]);
  }

  /** Records of one thread are in time order in the file; a row out of order (lanes shared by producers) is sorted here. */
  private sortRows(): void {
    for (const track of this.tracks) {
      for (const row of track.rows) this.sortBy(row, this.sStart.data);
      this.sortBy(track.instants, this.iTime.data);
    }
  }

  private sortBy(list: Grow<Uint32Array>, values: Float64Array): void {
    const ids = list.view;
    for (let i = 1; i < ids.length; i++) {
      if (values[ids[i]!]! < values[ids[i - 1]!]!) {
        const sorted = Uint32Array.from(ids).sort();
        sorted.sort((x, y) => values[x]! - values[y]! || x - y);
        ids.set(sorted);
        return;
      }
    }
  }

  private orderTracks(): void {
    const processNames = new Map<number, string>();
    const firstSeen = new Map<number, number>();
    // Named as the exports name them (core/model.ts processName; Perfetto, Chrome JSON).
    const collectors = collectorPids(this.header.collectorPid, this.hosts.size === 0 ? null : this.collectors);
    for (const [pid, byTid] of this.threads) {
      const main = byTid.get(0);
      const name = processName(main?.argv ? shortArgv(main.argv) : null, collectors.has(pid));
      processNames.set(pid, `${hostPid(pid)}${name === null ? "" : `: ${name}`}`);
      let first = Infinity;
      for (const thread of byTid.values()) {
        const start = thread.startInstant >= 0 ? this.iTime.data[thread.startInstant]! : thread.lastNs;
        first = Math.min(first, start);
      }
      firstSeen.set(pid, first);
    }
    const sourceOf = (pid: number) => Math.floor(pid / 2 ** MERGE_PID_SHIFT);
    const kindOrder: Record<TrackKind, number> = { calls: 0, async: 1, requests: 2, steps: 3, queries: 4, loop: 5, counter: 6 };
    for (const track of this.tracks) {
      const info = track.info;
      const thread = track.thread;
      const name = thread ? (thread.tid === 0 ? "main" : `worker ${thread.tid}`) : info.label;
      info.label = info.kind === "calls" ? name : `${name} · ${info.kind === "counter" ? info.label : info.kind === "loop" ? "GC, long tasks" : info.kind}`;
      info.process = processNames.get(info.pid) ?? String(info.pid);
      if (this.hosts.size > 0) info.host = this.hosts.get(Math.floor(info.pid / 2 ** MERGE_PID_SHIFT)) ?? info.host;
      info.rows = Math.max(1, track.rows.length);
    }
    // Threads that recorded nothing but a start of a process with no name are still shown: a
    // track with no slice and no instant is left out.
    this.ordered = this.tracks
      .filter((track) => track.rows.some((row) => row.length > 0) || track.instants.length > 0 || (track.counter?.times.length ?? 0) > 0)
      .map((track) => track.info)
      .sort((x, y) => sourceOf(x.pid) - sourceOf(y.pid) || x.host.localeCompare(y.host) || firstSeen.get(x.pid)! - firstSeen.get(y.pid)! || x.pid - y.pid || x.tid - y.tid || kindOrder[x.kind] - kindOrder[y.kind] || x.label.localeCompare(y.label));
  }

  // ---------------------------------------------------------------------------------------
  // Answers.

  meta(): Meta {
    return {
      path: this.path,
      argv: this.header.argv,
      host: this.header.hostName,
      startTime: this.header.startTime.toISOString(),
      durationNs: this.durationNs,
      records: this.records,
      slices: this.sStart.length,
      instants: this.iTime.length,
      arrows: this.aFromT.length,
      tracks: this.ordered,
      status: this.status,
    };
  }

  window(query: WindowQuery): WindowAnswer {
    const { startNs, endNs } = query;
    const pxNs = Math.max((endNs - startNs) / Math.max(1, query.widthPx), 1e-9);
    const wanted = query.tracks ? new Set(query.tracks) : null;
    const slices: number[] = [];
    const instants: number[] = [];
    const labels: Record<number, string> = {};
    const starts = this.sStart.data;
    const ends = this.sEnd.data;
    for (const track of this.tracks) {
      if (wanted && !wanted.has(track.info.id)) continue;
      track.rows.forEach((row, rowIndex) => {
        const ids = row.view;
        // The first slice ending after the window's start (ends ascend within a row).
        let i = lowerBoundBy(ids, ends, startNs, 0, ids.length);
        while (i < ids.length) {
          const s = ids[i]!;
          const start = starts[s]!;
          if (start >= endNs) break;
          if (ends[s]! - start >= pxNs) {
            this.pushSlice(slices, labels, s, track.info.id, rowIndex, start, ends[s]!, 1);
            i++;
            continue;
          }
          // Smaller than a pixel: one block for every slice that starts within this pixel.
          let j = lowerBoundBy(ids, starts, start + pxNs, i + 1, ids.length);
          if (j - 1 > i && ends[ids[j - 1]!]! - starts[ids[j - 1]!]! >= pxNs) j--;
          this.pushSlice(slices, labels, s, track.info.id, rowIndex, start, ends[ids[j - 1]!]!, j - i);
          i = j;
        }
      });
      const times = this.iTime.data;
      const ids = track.instants.view;
      let i = lowerBoundBy(ids, times, startNs, 0, ids.length);
      while (i < ids.length) {
        const id = ids[i]!;
        const t = times[id]!;
        if (t > endNs) break;
        const j = lowerBoundBy(ids, times, t + pxNs, i + 1, ids.length);
        // Of the instants merged into one pixel, the first one of the rarest kind is shown.
        let best = id;
        for (let k = i + 1; k < j && k < i + 64; k++) if (this.iKind.data[ids[k]!]! !== InstantKind.send && this.iKind.data[ids[k]!]! !== InstantKind.receive) best = ids[k]!;
        const label = this.iLabel.data[best]!;
        labels[label] ??= this.labels[label]!;
        instants.push(track.info.id, times[best]!, this.iKind.data[best]!, this.iRec.data[best]!, j - i, label);
        i = j;
      }
    }
    // Arrows: those with an end in the window or spanning it; at most a few thousand.
    const arrows: number[] = [];
    let arrowsLeftOut = 0;
    const from = lowerBound(this.aFromT, startNs - this.arrowMaxSpan);
    const to = lowerBound(this.aFromT, endNs + 1e-9);
    const candidates: number[] = [];
    for (let a = from; a < to; a++) {
      const lo = Math.min(this.aFromT[a]!, this.aToT[a]!);
      const hi = Math.max(this.aFromT[a]!, this.aToT[a]!);
      if (hi < startNs || lo > endNs) continue;
      if (wanted && !wanted.has(this.aFromTrack[a]!) && !wanted.has(this.aToTrack[a]!)) continue;
      candidates.push(a);
    }
    const limit = 4000;
    const step = candidates.length > limit ? candidates.length / limit : 1;
    for (let k = 0; k < candidates.length && arrows.length / 7 < limit; k += step) {
      const a = candidates[Math.floor(k)]!;
      arrows.push(this.aFromTrack[a]!, this.aFromT[a]!, this.aToTrack[a]!, this.aToT[a]!, this.aKind[a]!, this.aFromRec[a]!, this.aToRec[a]!);
    }
    arrowsLeftOut = candidates.length - arrows.length / 7;
    const counters: Record<number, number[]> = {};
    for (const track of this.tracks) {
      if (!track.counter || (wanted && !wanted.has(track.info.id))) continue;
      counters[track.info.id] = this.counterWindow(track.counter, startNs, endNs, pxNs);
    }
    return { startNs, endNs, slices, instants, arrows, arrowsLeftOut, counters, labels };
  }

  private pushSlice(out: number[], labels: Record<number, string>, s: number, track: number, row: number, start: number, end: number, count: number): void {
    const label = this.sLabel.data[s]!;
    labels[label] ??= this.labels[label]!;
    out.push(track, row, start, end, label, this.sRec.data[s]!, count, this.sKind.data[s]!, this.sFlags.data[s]!);
  }

  /** Min and max per pixel, with the last value before the window so the line starts at its left edge. */
  private counterWindow(counter: { times: Grow<Float64Array>; values: Grow<Float64Array> }, startNs: number, endNs: number, pxNs: number): number[] {
    const times = counter.times.view;
    const values = counter.values.view;
    const out: number[] = [];
    let i = Math.max(0, lowerBound(times, startNs) - 1);
    while (i < times.length && times[i]! <= endNs + pxNs) {
      const j = Math.max(i + 1, lowerBound(times, times[i]! + pxNs, i + 1));
      let min = Infinity;
      let max = -Infinity;
      for (let k = i; k < j; k++) {
        min = Math.min(min, values[k]!);
        max = Math.max(max, values[k]!);
      }
      out.push(times[i]!, min, max);
      i = j;
    }
    return out;
  }

  /** The thread's counter track `name` (heap used, loop delay). */
  private counter(thread: Thread, name: string, unit: "bytes" | "ns"): NonNullable<Track["counter"]> {
    let track = thread.counters.get(name);
    if (!track) {
      track = this.newTrack(thread, "counter");
      track.info.label = name;
      track.info.unit = unit;
      track.counter = { times: new Grow(Float64Array, 64), values: new Grow(Float64Array, 64) };
      thread.counters.set(name, track);
    }
    return track.counter!;
  }

  private raw(rec: number): RawEvent {
    let b = lowerBound(this.batchStart, rec + 1) - 1;
    if (b < 0) b = 0;
    return decodeRecord(this.batches[b]!, (rec - this.batchStart[b]!) * RECORD_SIZE);
  }

  /**
   * A string the index did not keep (an argument or value preview): its fragments are
   * written by the same producer just before the event that uses it, so they are looked
   * for backwards from the event (then a little forwards), within a bound.
   */
  private stringNear(rec: number, pid: number, tid: number, id: number): string | undefined {
    const found = new StringTable({ maxStrings: 1 });
    const look = (r: number) => {
      const b = Math.max(0, lowerBound(this.batchStart, r + 1) - 1);
      const batch = this.batches[b]!;
      const base = (r - this.batchStart[b]!) * RECORD_SIZE;
      const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      if (view.getUint16(base + 4, true) !== EventKind.string || view.getUint32(base + 24, true) !== id) return false;
      if (view.getUint32(base + 16, true) !== pid || view.getUint32(base + 20, true) !== tid) return false;
      found.add(decodeRecord(batch, base));
      return found.entry(pid, tid, id)?.complete === true;
    };
    for (let r = rec - 1; r >= 0 && r >= rec - 4_000_000; r--) if (look(r)) return found.get(pid, tid, id);
    for (let r = rec + 1; r < this.records && r <= rec + 100_000; r++) if (look(r)) return found.get(pid, tid, id);
    return found.get(pid, tid, id);
  }

  private fieldsOf(rec: number): { kind: string; pid: number; tid: number; fields: Record<string, FieldValue> } {
    const raw = this.raw(rec);
    const tables = this.threads.get(raw.pid)?.get(raw.tid)?.tableRecords ?? [];
    const events = interpret([...tables.map((r) => this.raw(r)), raw], (pid, tid, id) => this.strings.get(pid, tid, id) ?? this.stringNear(rec, pid, tid, id));
    // The record's own event (a handler's step start with its route also gives the request's http_route before it).
    const own = typeof raw.kind === "number" ? eventKindName[raw.kind] : raw.kind;
    const event = events.find((e) => e.kind === own) ?? events.find((e) => e.kind !== "function_table") ?? events[0]!;
    return { kind: event.kind, pid: raw.pid, tid: raw.tid, fields: event.fields };
  }

  private itemLink(label: string, rec: number): Link | null {
    if (rec < 0 || rec >= this.recItem.length) return null;
    const item = this.recItem[rec]!;
    if (item > 0) {
      const s = item - 1;
      return { label, id: rec, timeNs: this.sStart.data[s]!, track: this.sTrack.data[s]!, name: this.labels[this.sLabel.data[s]!]! };
    }
    if (item < 0) {
      const i = -item - 1;
      return { label, id: rec, timeNs: this.iTime.data[i]!, track: this.iTrack.data[i]!, name: this.labels[this.iLabel.data[i]!]! };
    }
    return null;
  }

  /** An event (slice or instant) by its record number, with what it is linked to. */
  details(rec: number): Details | null {
    if (!Number.isInteger(rec) || rec < 0 || rec >= this.recItem.length) return null;
    const item = this.recItem[rec]!;
    if (item === 0) return null;
    const { kind, pid, tid, fields } = this.fieldsOf(rec);
    const links: Link[] = [];
    const add = (link: Link | null) => {
      if (link) links.push(link);
    };
    let durationNs: number | null = null;
    let end: Details["end"] = null;
    let timeNs: number;
    let track: number;
    let name: string;
    if (item > 0) {
      const s = item - 1;
      timeNs = this.sStart.data[s]!;
      track = this.sTrack.data[s]!;
      name = this.labels[this.sLabel.data[s]!]!;
      durationNs = this.sEnd.data[s]! - timeNs;
      if ((this.sFlags.data[s]! & SliceFlag.unfinished) !== 0) fields.unfinished = true;
      const endRec = this.sEndRec.data[s]!;
      if (endRec >= 0) {
        const ended = this.fieldsOf(endRec);
        end = { kind: ended.kind, fields: ended.fields };
      }
      const parent = this.sParent.data[s]!;
      if (parent >= 0) add(this.itemLink("called by", this.sRec.data[parent]!));
      const receive = this.handles.get(s);
      if (receive !== undefined) {
        add(this.itemLink("handles message", this.iRec.data[receive]!));
        for (const send of this.peers.get(receive) ?? []) add(this.itemLink("message sent by", this.iRec.data[send]!));
      }
      const cause = this.causes.get(s);
      if (cause !== undefined) add(this.itemLink("caused by", this.sRec.data[cause]!));
      const peer = this.requestPeers.get(s);
      if (peer !== undefined) add(this.itemLink(this.sKind.data[s] === SliceKind.request && kind === "http_client_request" ? "served by" : "requested by", this.sRec.data[peer]!));
      const thread = this.threads.get(pid)?.get(tid);
      const request = typeof fields.request === "number" ? thread?.requests.get(fields.request) : undefined;
      if (request !== undefined && request !== s) add(this.itemLink("caused by request", this.sRec.data[request]!));
      // A framework step's request (its requestId: the request's own id on this thread).
      const stepOf = kind === "http_step_start" && typeof fields.requestId === "number" ? thread?.requests.get(fields.requestId) : undefined;
      if (stepOf !== undefined) add(this.itemLink("step of request", this.sRec.data[stepOf]!));
    } else {
      const i = -item - 1;
      timeNs = this.iTime.data[i]!;
      track = this.iTrack.data[i]!;
      name = this.labels[this.iLabel.data[i]!]!;
      const k = this.iKind.data[i]!;
      const peerLabel =
        k === InstantKind.send ? "received by" : k === InstantKind.receive ? "sent by" : k === InstantKind.start ? "spawned by" : k === InstantKind.spawn || k === InstantKind.threadSpawn ? "started" : "linked";
      for (const peer of this.peers.get(i) ?? []) add(this.itemLink(peerLabel, this.iRec.data[peer]!));
      // A receive records no value: its send's (as model.ts gives it).
      const send = k === InstantKind.receive ? this.peers.get(i)?.[0] : undefined;
      if (send !== undefined && (fields.preview === null || fields.preview === undefined)) {
        const sent = this.fieldsOf(this.iRec.data[send]!).fields;
        fields.sizeBytes = sent.sizeBytes ?? 0;
        fields.preview = sent.preview ?? null;
      }
      const handler = this.handledBy.get(i);
      if (handler !== undefined) add(this.itemLink("handled by", this.sRec.data[handler]!));
    }
    for (const [key, value] of Object.entries(fields)) {
      if (key === "requestIndex" || key === "handlesMessage") delete fields[key];
      void value;
    }
    return { id: rec, kind, pid, tid, track, timeNs, durationNs, name, fields, end, links };
  }

  /**
   * Slices and instants whose name (function and file, request, query, message text) contains
   * `text`, and failed slices whose error (a throw's type and message, a query's) does.
   */
  search(text: string, limit = 200): { hits: SearchHit[]; total: number; labels: number[] } {
    const needle = text.trim().toLowerCase();
    if (!needle) return { hits: [], total: 0, labels: [] };
    const matched = new Uint8Array(this.labels.length);
    const labels: number[] = [];
    this.labels.forEach((label, id) => {
      if (id !== 0 && label.toLowerCase().includes(needle)) {
        matched[id] = 1;
        labels.push(id);
      }
    });
    const hits: SearchHit[] = [];
    let total = 0;
    if (labels.length === 0) return { hits, total, labels };
    const sLabel = this.sLabel.data;
    for (let s = 0; s < this.sStart.length; s++) {
      if (matched[sLabel[s]!] !== 1) continue;
      total++;
      if (hits.length < limit) hits.push({ id: this.sRec.data[s]!, timeNs: this.sStart.data[s]!, track: this.sTrack.data[s]!, name: this.labels[sLabel[s]!]!, kind: sliceKindName[this.sKind.data[s]!] ?? "slice" });
    }
    for (const [s, error] of this.sliceErrors) {
      if (matched[error] !== 1 || matched[sLabel[s]!] === 1) continue;
      total++;
      if (hits.length < limit) hits.push({ id: this.sRec.data[s]!, timeNs: this.sStart.data[s]!, track: this.sTrack.data[s]!, name: `${this.labels[sLabel[s]!]!}: ${this.labels[error]!}`, kind: sliceKindName[this.sKind.data[s]!] ?? "slice" });
    }
    const iLabel = this.iLabel.data;
    for (let i = 0; i < this.iTime.length; i++) {
      if (matched[iLabel[i]!] !== 1) continue;
      total++;
      if (hits.length < limit * 2) hits.push({ id: this.iRec.data[i]!, timeNs: this.iTime.data[i]!, track: this.iTrack.data[i]!, name: this.labels[iLabel[i]!]!, kind: instantKindName[this.iKind.data[i]!] ?? "event" });
    }
    hits.sort((x, y) => x.timeNs - y.timeNs);
    return { hits: hits.slice(0, limit), total, labels: labels.slice(0, 10_000) };
  }

  /**
   * Functions in [startNs, endNs) by self and total time, clipped to the range, over the
   * given tracks (all when absent). Total counts a recursive function's outermost call only.
   */
  top(startNs: number, endNs: number, tracks?: number[], limit = 25): { bySelf: TopEntry[]; byTotal: TopEntry[] } {
    const wanted = tracks ? new Set(tracks) : null;
    const entries = new Map<string, TopEntry>();
    const entryOf = (s: number) => {
      const name = this.labels[this.sLabel.data[s]!]!;
      let entry = entries.get(name);
      if (!entry) entries.set(name, (entry = { name, selfNs: 0, totalNs: 0, calls: 0 }));
      return entry;
    };
    const starts = this.sStart.data;
    const ends = this.sEnd.data;
    for (const track of this.tracks) {
      if (track.info.kind !== "calls" && track.info.kind !== "async") continue;
      if (wanted && !wanted.has(track.info.id)) continue;
      for (const row of track.rows) {
        const ids = row.view;
        for (let i = lowerBoundBy(ids, ends, startNs, 0, ids.length); i < ids.length; i++) {
          const s = ids[i]!;
          if (starts[s]! >= endNs) break;
          const clipped = Math.min(ends[s]!, endNs) - Math.max(starts[s]!, startNs);
          if (clipped < 0) continue;
          const entry = entryOf(s);
          entry.calls++;
          // A recursive call's time is already in its outermost call's total.
          let outer = true;
          for (let p = this.sParent.data[s]!; p >= 0 && outer; p = this.sParent.data[p]!) outer = this.sLabel.data[p] !== this.sLabel.data[s];
          if (outer) entry.totalNs += clipped;
          if (track.info.kind === "calls") {
            entry.selfNs += clipped;
            const parent = this.sParent.data[s]!;
            if (parent >= 0) entryOf(parent).selfNs -= clipped;
          }
        }
      }
    }
    const all = [...entries.values()];
    return {
      bySelf: [...all].sort((x, y) => y.selfNs - x.selfNs).slice(0, limit),
      byTotal: [...all].sort((x, y) => y.totalNs - x.totalNs).slice(0, limit),
    };
  }
}

/** Per kind, the fields (byte offsets) holding string ids the index names things by. */
const namingFields: Record<number, number[]> = {
  [EventKind.function_table]: [32, 40],
  [EventKind.trace_start]: [32],
  [EventKind.process_spawn]: [32],
  [EventKind.thread_spawn]: [32],
  [EventKind.process_exit]: [40],
  [EventKind.thread_exit]: [40],
  [EventKind.message_send]: [56],
  [EventKind.message_receive]: [56],
  [EventKind.channel_open]: [40, 48],
  [EventKind.channel_close]: [48, 56],
  [EventKind.agent_error]: [24],
  [EventKind.http_server_request]: [32, 40],
  [EventKind.http_client_request]: [32, 40],
  [EventKind.http_connection]: [32, 48],
  [EventKind.http_traceparent]: [32],
  [EventKind.http_step_start]: [40, 48, 56],
  [EventKind.http_step_end]: [40, 48],
  [EventKind.db_query]: [32],
  // A query's database, server and user (its connection's record).
  [EventKind.db_connection]: [32, 40, 56],
  // Errors, for search (sliceErrors): a throw's type and message, a rejection's message, a failed query's or pool wait's code and message.
  [EventKind.function_throw]: [40, 48],
  [EventKind.function_settle]: [48],
  [EventKind.db_query_end]: [40, 48],
  [EventKind.db_pool_wait_end]: [40, 48],
  [EventKind.long_task]: [48],
  [EventKind.trace_source]: [32, 56],
  [EventKind.attach_function_add]: [32, 40],
};

const sliceKindName: Record<number, string> = { 1: "call", 2: "async call", 3: "request", 4: "query", 5: "pool wait", 6: "gc", 7: "long task", 8: "step" };
const instantKindName: Record<number, string> = Object.fromEntries(Object.entries(InstantKind).map(([name, value]) => [value, name]));

/** An error as one line: "TypeError: x is not a function", a query's "23505: duplicate key ..."; undefined when neither is known. */
function errorText(type: string | null, message: string | null): string | undefined {
  const text = [type, message].filter((part) => part).join(": ");
  return text || undefined;
}

function shortArgv(argv: string): string {
  const parts = argv.split(" ");
  const short = parts.map((part, i) => (i === 0 || part.startsWith("/") ? (part.split("/").pop() ?? part) : part)).join(" ");
  return short.length > 80 ? `${short.slice(0, 77)}...` : short;
}

/** A process_exit the collector recorded on the process's behalf (ExitFlag): said so in its label. */
function collectorEndingLabel(thread: boolean, flags: number, code: number, signal: number): string {
  // A worker that ran no JavaScript at its end (terminate()): its parent saw it end (layout version 5).
  if (thread && (flags & ExitFlag.parent) !== 0) return `thread exit ${code} (recorded by scope: its parent saw it end)`;
  const what = (flags & ExitFlag.unknown) !== 0 ? "process gone, status unknown" : signal !== 0 ? `process killed by signal ${signal}` : `process exit ${code}`;
  // A worker the collector ended with its process (layout version 4).
  if (thread) return `thread ended with its process: ${what} (recorded by scope)`;
  return `${what} (recorded by scope${(flags & ExitFlag.corrects) !== 0 ? ": its own exit said otherwise" : ""})`;
}
