/**
 * `scope dump` (text and --json) in bounded memory ("scope dump in bounded memory",
 * BENCHMARKS.md): the trace is read four times and no pass holds its events.
 *
 * 1. strings and function tables (what names things: kept, as the whole-trace dump keeps them);
 * 2. every event decoded (interpret's EventDecoder) for its time only: the events' order by
 *    time (typed arrays: an index per event), and what the message links need per message key;
 * 3. the events in index order (a reorder buffer puts the records' order right: it holds
 *    only the events read before their turn), through interpret's link steps at each
 *    event; what a step changes in an earlier event (a request's end on its start, a send's
 *    receives, ...) is recorded per event and step; then the long tasks' functions and the
 *    request peers, over the events those keep (tasks, calls in a task's window, requests);
 * 4. the same again, each event getting what pass 3 recorded for it at the same step (so its
 *    fields come in interpret's order), then filtered and written; the text's nesting by
 *    request comes from pass 3's request links (an event waits, as a line, for its place).
 *
 * What stays: the string table, the order (16 bytes an event), the message keys, the
 * recorded changes (request starts and ends, queries, steps, async callbacks: not calls),
 * the link steps' own tables (open requests, ...), and lines waiting for their place.
 * --stats (and --why's check of its event number) need passes 1 and 2 only: scanTrace.
 *
 * What is decoded ("scope dump: first line sooner, in less memory", BENCHMARKS.md): pass 1
 * decodes function tables only (strings from their bytes: StringTable.addRecord); pass 2 reads
 * calls, returns, ... (LIGHT_KINDS) for their time and thread only; pass 3 is skipped where
 * no event links (`linkless`: text and --json then write as pass 4 reads).
 *
 * Where something links, text and --json run passes 3 and 4 together (`linkedEvents`: "scope
 * dump: the first line at once on traces that link", BENCHMARKS.md): pass 3 reads ahead, and
 * pass 4 gives an event once no later one can change it (below each link step's `openFrom`);
 * their pass 3 reads calls, returns, ... from their bytes (`linkEvents`, `LightFields`).
 */
import { decodeRecord, recordKind, StringTable } from "../core/events";
import { EventKind, eventKindName, Offset, RECORD_SIZE } from "../core/layout";
import { applyNow, DatabaseLinks, EventDecoder, functionTable, HandlerLinks, LINK_STEPS, LinkStep, linkPeers, longTaskWindow, LongTaskCalls, MessageLinks, RequestLinks, type FieldValue, type Later, type RawEvent, type StringLookup, type TraceEvent } from "../core/model";
import { AsyncLinks } from "../core/async";
import { readTrace, type TraceHeader, type TraceRead } from "../core/trace-file";
import { matches, type EventFilter } from "./filter";
import type { LoadedTrace } from "./load";
import { nestOrder } from "./text";

export interface StreamedTrace extends Omit<LoadedTrace, "records" | "strings"> {
  events: number;
  /** The trace_source events (a merged trace's inputs). */
  sources: TraceEvent[];
}

/** What pass 3 recorded for one event: per link step, the fields set and the links added. */
type Changes = ({ fields?: Record<string, FieldValue>; links?: number[] } | undefined)[];

/**
 * What a reader gathers in pass 3 instead of a walk of its own: each event in index order as
 * linked so far (its own fields, not yet what later events add), and each change a later
 * event makes in an earlier one, with the event being linked (`current`; after the pass, for
 * the request peers: the last).
 */
export interface LinkWatch {
  event?(event: TraceEvent): void;
  set?(target: TraceEvent, fields: Record<string, FieldValue>, current: TraceEvent): void;
  link?(target: TraceEvent, index: number, current: TraceEvent): void;
}

/** Records and applies at once (pass 3: later steps read what earlier ones set). */
class Recorder implements Later {
  readonly changes = new Map<number, Changes>();
  current: TraceEvent | undefined;

  constructor(private readonly watch: LinkWatch | undefined) {}

  private slot(target: TraceEvent, step: number) {
    let changes = this.changes.get(target.index);
    if (!changes) this.changes.set(target.index, (changes = new Array(LINK_STEPS)));
    return (changes[step] ??= {});
  }

  set(target: TraceEvent, step: number, fields: Record<string, FieldValue>): void {
    applyNow.set(target, step, fields);
    const slot = this.slot(target, step);
    slot.fields = Object.assign(slot.fields ?? {}, fields);
    this.watch?.set?.(target, fields, this.current!);
  }

  link(target: TraceEvent, step: number, index: number): void {
    applyNow.link(target, step, index);
    (this.slot(target, step).links ??= []).push(index);
    this.watch?.link?.(target, index, this.current!);
  }
}

const GC_EVERY_RECORDS = 1 << 19;
const EDEN_EVERY_RECORDS = 1 << 16;

/**
 * Collections while a pass reads: a full one every 512 Ki records, a young one every 64 Ki.
 * Each event is garbage once used, and Bun's heap grew to ~2.5x what is live between its own
 * collections; the full ones held the peak RSS of a 405 MB trace's --json at 1.1 GB instead of
 * 1.8 GB ("scope dump in bounded memory", BENCHMARKS.md); the young ones the 397 MiB webpack
 * trace's link pass at 537 MB instead of 838 MB, for 2% more CPU ("scope dump: first line
 * sooner", BENCHMARKS.md). Counted per batch, records taken undecoded too (their BigInt
 * times). Node (spec under node) has no Bun.gc: nothing is done.
 */
class Collections {
  private count = 0;

  add(records: number): void {
    const before = this.count;
    this.count += records;
    if (Math.floor(this.count / EDEN_EVERY_RECORDS) === Math.floor(before / EDEN_EVERY_RECORDS)) return;
    const full = Math.floor(this.count / GC_EVERY_RECORDS) !== Math.floor(before / GC_EVERY_RECORDS);
    (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(full);
  }
}

/**
 * A full collection between passes: a pass's garbage (the string pass's, the sort's grown
 * arrays) is most of the heap at its end, and Bun's next collection comes late: the 397 MiB
 * webpack trace peaked at 555 MB after pass 2, 227 MB after one (~0.1 s). Node (spec under node): nothing.
 */
function fullCollection(): void {
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
}

const ignore: Later = { set: () => {}, link: () => {} };

/** linkedEvents: pass 3 reads this many events at a time before its horizon is looked at again. */
const LINK_AHEAD = 4096;

export class TraceStream {
  readonly header: TraceHeader;
  readonly trace: StreamedTrace;
  private readonly names: Names;
  private readonly rank: Uint32Array;
  private readonly pids: Uint32Array;
  private readonly tids: Uint32Array;
  private readonly messages = new MessageLinks();
  private readonly asyncThreads = new Set<string>();
  /** Long tasks' windows by thread (sorted by start), for the calls pass 3 keeps. */
  private readonly windows = new Map<string, { from: bigint; to: bigint }[]>();
  private changes = new Map<number, Changes>();
  /** keepRequests: pass 2's request and connection records in index order (requestsAhead). */
  private requestEvents: TraceEvent[] | undefined;
  /** No event that a link step links (linkedKind): pass 3 would record nothing; the text nests nothing. */
  linkless = true;
  /** Each event's requestIndex (-1: none) and whether it passes the filter (text: its nesting). */
  private parents: Int32Array | undefined;
  private present: Uint8Array | undefined;

  /** Passes 1 and 2. `batchRecords`: records read at a time (spec: small, so links cross reads). */
  constructor(
    readonly path: string,
    private readonly batchRecords = 4096,
    keepRequests = false,
  ) {
    this.names = namesOf(path, batchRecords);
    fullCollection();
    // Each time as its two u32 halves (a BigInt64Array's every read made a BigInt: 4.3 M of
    // them, 270 MB of garbage, in the sort of the 397 MiB webpack trace's 2.2 M events).
    let highs = new Uint32Array(1 << 16);
    let lows = new Uint32Array(1 << 16);
    let pids = new Uint32Array(1 << 16);
    let tids = new Uint32Array(1 << 16);
    let count = 0;
    const sources: TraceEvent[] = [];
    const requestEvents: TraceEvent[] = [];
    const reader = readTrace(path);
    this.header = reader.header;
    const add = (high: number, low: number, pid: number, tid: number) => {
      if (count === highs.length) {
        const grow = (array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
          const bigger = new Uint32Array(array.length * 2);
          bigger.set(array);
          return bigger;
        };
        highs = grow(highs);
        lows = grow(lows);
        pids = grow(pids);
        tids = grow(tids);
      }
      highs[count] = high;
      lows[count] = low;
      pids[count] = pid;
      tids[count] = tid;
    };
    // A call's, return's, ... time and thread are all this pass needs of it: read from its bytes (LIGHT_KINDS), not decoded.
    const light = (view: DataView, base: number) => {
      add(view.getUint32(base + Offset.timestampNs + 4, true), view.getUint32(base + Offset.timestampNs, true), view.getUint32(base + Offset.pid, true), view.getUint32(base + Offset.tid, true));
      count++;
    };
    for (const event of decodedEvents(reader, this.names, batchRecords, light)) {
      const time = BigInt.asUintN(64, event.timestampNs);
      add(Number(time >> 32n), Number(time & 0xffff_ffffn), event.pid, event.tid);
      if (this.linkless && linkedKind(event.kind)) this.linkless = false;
      this.messages.add(event, count, event.timestampNs);
      // What RequestLinks records a change from: a request's or connection's record (requestsAhead).
      if (keepRequests && (event.kind.startsWith("http_") || typeof event.fields.requestId === "number")) {
        event.index = count;
        requestEvents.push(event);
      }
      if (event.kind.startsWith("async_")) this.asyncThreads.add(`${event.pid}/${event.tid}`);
      else if (event.kind === "trace_source") sources.push(event);
      else if (event.kind === "long_task") {
        const thread = `${event.pid}/${event.tid}`;
        let list = this.windows.get(thread);
        if (!list) this.windows.set(thread, (list = []));
        list.push(longTaskWindow(event));
      }
      count++;
    }
    // interpret's stable sort by time: equal times keep the records' order. As doubles when
    // every time is one exactly (below 2^53 ns: 104 days of a monotonic clock): 3.5x faster.
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    let exact = true;
    for (let i = 0; i < count && exact; i++) exact = highs[i]! < 1 << 21;
    if (exact) {
      const doubles = new Float64Array(count);
      for (let i = 0; i < count; i++) doubles[i] = highs[i]! * 2 ** 32 + lows[i]!;
      sortByTime(order, doubles);
    } else {
      // As i64 (a u64 time past 2^63 sorts first, as it did).
      const times = new BigInt64Array(count);
      for (let i = 0; i < count; i++) times[i] = BigInt.asIntN(64, (BigInt(highs[i]!) << 32n) | BigInt(lows[i]!));
      order.sort((x, y) => (times[x]! < times[y]! ? -1 : times[x]! > times[y]! ? 1 : x - y));
    }
    this.rank = new Uint32Array(count);
    this.pids = new Uint32Array(count);
    this.tids = new Uint32Array(count);
    for (let index = 0; index < count; index++) {
      const seq = order[index]!;
      this.rank[seq] = index;
      this.pids[index] = pids[seq]!;
      this.tids[index] = tids[seq]!;
    }
    this.messages.renumber((seq) => this.rank[seq]!);
    if (keepRequests) {
      for (const event of requestEvents) event.index = this.rank[event.index]!;
      this.requestEvents = requestEvents.sort((x, y) => x.index - y.index);
    }
    fullCollection();
    for (const list of this.windows.values()) list.sort((x, y) => (x.from < y.from ? -1 : x.from > y.from ? 1 : 0));
    this.trace = { header: reader.header, startNs: BigInt(reader.header.monotonicAnchorNs), end: reader.end, error: reader.error, events: count, sources };
  }

  /** Where event `index` ran (text's links name it), undefined past the trace. */
  at = (index: number): { pid: number; tid: number; index: number } | undefined => (Number.isInteger(index) && index >= 0 && index < this.rank.length ? { pid: this.pids[index]!, tid: this.tids[index]!, index } : undefined);

  /**
   * Pass 3: what each event's later ones change in it; `filter`: with `nest`, each event's
   * place in the text. `watch`: what a reader gathers here instead of a walk of its own
   * (scope export --otlp's call ends and threads, --perfetto's walk 1). `light`: kinds (of
   * LIGHT_KINDS) the watch reads nothing of but thread, time and `call` (linkEvents: not decoded;
   * --chrome's and --perfetto's watches: calls, whose ends they keep).
   */
  link(filter: EventFilter | undefined, watch?: LinkWatch, light?: ReadonlySet<number>): void {
    const pass = this.linkPass(filter, watch, light);
    pass.advance(Number.POSITIVE_INFINITY);
  }

  /** Whether pass 3 has read every event (after link, or once linkedEvents' pass 3 has: its changes are all known). */
  linked = false;

  /**
   * Passes 3 and 4 together (text and --json): pass 4's events in index order, as events()
   * gives them after link(filter), but each as soon as pass 3 has read far enough that no
   * later event can change it (below every link step's openFrom: no receive waiting for its
   * handler, no query, step or callback open, no request start nor long task before it).
   * A trace whose long tasks come early gives its events after pass 3 as before (tasks'
   * functions are chosen at its end), and so does text's whose requests do; --json's requests
   * are recorded ahead (requestsAhead) and hold nothing. `linked` says when pass 3 is done.
   * The first line of a trace whose links close soon (messages, queries, callbacks) comes
   * after passes 1 and 2.
   */
  *linkedEvents(filter: EventFilter | undefined): Generator<TraceEvent> {
    const pass = this.linkPass(filter, undefined, undefined, this.requestsAhead());
    const steps = this.steps(ignore);
    let horizon = 0;
    try {
      for (const event of this.inOrder()) {
        while (event.index >= horizon) {
          if (!pass.advance(LINK_AHEAD)) {
            horizon = Number.POSITIVE_INFINITY;
            break;
          }
          horizon = pass.horizon();
        }
        const changes = this.changes.get(event.index);
        steps.step(event, changes, undefined);
        if (changes) this.changes.delete(event.index);
        yield event;
      }
    } finally {
      // A reader that stopped early (`| head`): pass 3's file is closed too.
      pass.close();
    }
  }

  /**
   * --json (keepRequests): what pass 3's RequestLinks and linkPeers would record, from pass 2's
   * request and connection records alone, before pass 3 (undefined: not kept). Only those
   * records change a request's start or a step's start (the rest RequestLinks reads changes
   * only the event itself), and no other link step reads or changes them, so the changes are
   * the same; pass 3 then holds its horizon for no request. Text still does: a request's
   * events are written under it, and a later one may name it at any time.
   */
  private requestsAhead(): Map<number, Changes> | undefined {
    const events = this.requestEvents;
    if (events === undefined) return undefined;
    this.requestEvents = undefined;
    const recorder = new Recorder(undefined);
    const requests = new RequestLinks(recorder);
    const starts: TraceEvent[] = [];
    for (const event of events) {
      recorder.current = event;
      requests.step(event);
      if (event.kind === "http_server_request" || event.kind === "http_client_request") starts.push(event);
    }
    linkPeers(starts, recorder);
    return recorder.changes;
  }

  /**
   * Pass 3 read as far as asked: `advance(count)` links `count` more events (false once every
   * event is linked and what follows the pass is done: long tasks' functions, peers);
   * `horizon()`, the lowest index a later event may still change.
   */
  private linkPass(filter: EventFilter | undefined, watch: LinkWatch | undefined, light?: ReadonlySet<number>, ahead?: Map<number, Changes>) {
    const recorder = new Recorder(watch);
    this.changes = recorder.changes;
    if (ahead) for (const [index, changes] of ahead) recorder.changes.set(index, changes);
    // Requests' and peers' changes already recorded (requestsAhead): pass 3's RequestLinks only sets what it sets on an event now.
    const { step, links } = this.steps(recorder, ahead ? applyNow : recorder);
    const windows = this.windows;
    const calls = new LongTaskCalls((call) => {
      const list = windows.get(`${call.pid}/${call.tid}`);
      return list !== undefined && list.some((window) => call.timestampNs >= window.from && call.timestampNs <= window.to);
    });
    const tasks: TraceEvent[] = [];
    const requests: TraceEvent[] = [];
    const count = this.rank.length;
    if (filter) {
      this.parents = new Int32Array(count).fill(-1);
      this.present = new Uint8Array(count);
    }
    // Without a watch (text, --json) a call, return, ... is read for what the link steps ask of it only (linkEvents).
    const events = this.inOrder(watch === undefined ? LIGHT_KINDS : light);
    let read = 0;
    let done = false;
    const startNs = this.trace.startNs;
    return {
      advance: (count: number): boolean => {
        if (done) return false;
        for (let n = 0; n < count; n++) {
          const next = events.next();
          if (next.done) {
            done = true;
            calls.choose(tasks, recorder);
            if (!ahead) linkPeers(requests, recorder);
            this.linked = true;
            return false;
          }
          const event = next.value;
          read = event.index + 1;
          recorder.current = event;
          step(event, undefined, windows.size !== 0 ? calls : undefined);
          if (event.kind === "long_task") tasks.push(event);
          else if (!ahead && (event.kind === "http_server_request" || event.kind === "http_client_request")) requests.push(event);
          if (filter) {
            if (typeof event.fields.requestIndex === "number") this.parents![event.index] = event.fields.requestIndex;
            this.present![event.index] = matches(filter, event, startNs) ? 1 : 0;
          }
          watch?.event?.(event);
        }
        return true;
      },
      close: (): void => void events.return(undefined),
      horizon: (): number => Math.min(read, tasks.length !== 0 ? tasks[0]!.index : read, requests.length !== 0 ? requests[0]!.index : read, links.handlers.openFrom(), links.database.openFrom(), ahead ? read : links.requests.openFrom(), links.async.openFrom()),
    };
  }

  /**
   * Pass 4: the events in index order, each as interpret gives it. `again`: what pass 3
   * recorded is kept for another walk (scope export --perfetto walks three times); else
   * each event's is dropped once applied. `light`: kinds among LIGHT_KINDS given as the
   * link pass reads them (linkEvents: `call`, `request`, `function` only, not decoded), for
   * a walk that draws nothing of them (--chrome's events, requests and queries).
   */
  *events(again = false, light?: ReadonlySet<number>): Generator<TraceEvent> {
    const { step } = this.steps(ignore);
    for (const event of this.inOrder(light)) {
      step(event, this.changes.get(event.index), undefined);
      if (!again) this.changes.delete(event.index);
      yield event;
    }
  }

  /** The text's order (after link(filter)): the filtered events' indexes, each request's events after it (nestOrder). */
  nesting(): { order: Uint32Array; depth: Uint32Array } {
    const present = this.present!;
    const parents = this.parents!;
    const indexes: number[] = [];
    for (let i = 0; i < present.length; i++) if (present[i]) indexes.push(i);
    return nestOrder(indexes, (index) => (parents[index]! >= 0 ? parents[index] : undefined), (index) => present[index] === 1);
  }

  /** interpret's link steps at one event, in its order, with what pass 3 recorded applied after each step. */
  private steps(later: Later, requestsLater: Later = later) {
    const messages = this.messages;
    const handlers = new HandlerLinks(later);
    const database = new DatabaseLinks(later);
    const requests = new RequestLinks(requestsLater);
    const async = new AsyncLinks(this.asyncThreads, later);
    const apply = (event: TraceEvent, changes: Changes | undefined, step: number) => {
      const change = changes?.[step];
      if (change?.fields) Object.assign(event.fields, change.fields);
      if (change?.links) event.linkedTo.push(...change.links);
    };
    return {
      links: { handlers, database, requests, async },
      step(event: TraceEvent, changes: Changes | undefined, calls: LongTaskCalls | undefined) {
        messages.step(event);
        handlers.step(event);
        apply(event, changes, LinkStep.handlers);
        database.step(event);
        apply(event, changes, LinkStep.database);
        requests.step(event);
        apply(event, changes, LinkStep.requests);
        calls?.add(event);
        apply(event, changes, LinkStep.longTasks);
        async.step(event);
        apply(event, changes, LinkStep.async);
        apply(event, changes, LinkStep.peers);
      },
    };
  }

  /**
   * A fresh read of the trace's events in index order (held back while earlier ones are still
   * to come). `light`: events of these kinds (some of LIGHT_KINDS) as linkEvents gives them.
   */
  private *inOrder(light?: ReadonlySet<number>): Generator<TraceEvent> {
    const waiting = new Map<number, TraceEvent>();
    let seq = 0;
    let next = 0;
    const reader = readTrace(this.path);
    for (const event of light ? linkEvents(reader, this.names, this.batchRecords, light) : decodedEvents(reader, this.names, this.batchRecords)) {
      const index = this.rank[seq++]!;
      event.index = index;
      if (index !== next) {
        waiting.set(index, event);
        continue;
      }
      yield event;
      next++;
      for (let held = waiting.get(next); held !== undefined; held = waiting.get(next)) {
        waiting.delete(next);
        yield held;
        next++;
      }
    }
  }
}

/**
 * Sorts `order` (0..n-1 to start with) by `times[index]`, stable: a bottom-up merge sort, a
 * merge skipped where its two runs are in order already (a trace's records mostly are). Not
 * Uint32Array's sort with a comparator: Bun's took 270 MB for 2.2 M events (the 397 MiB
 * webpack trace's peak) and 3x the time.
 */
export function sortByTime(order: Uint32Array, times: Float64Array): void {
  const n = order.length;
  let from: Uint32Array = order;
  let into: Uint32Array = new Uint32Array(n);
  for (let width = 1; width < n; width *= 2) {
    let merged = false;
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      if (mid >= hi || times[from[mid - 1]!]! <= times[from[mid]!]!) {
        for (let k = lo; k < hi; k++) into[k] = from[k]!;
        continue;
      }
      merged = true;
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) into[k++] = times[from[j]!]! < times[from[i]!]! ? from[j++]! : from[i++]!;
      while (i < mid) into[k++] = from[i++]!;
      while (j < hi) into[k++] = from[j++]!;
    }
    [from, into] = [into, from];
    if (!merged && width * 2 >= n) break;
  }
  if (from !== order) order.set(from);
}

/** What names things (pass 1): the string table and the function tables. */
interface Names {
  strings: StringLookup;
  functions: Map<string, string>;
}

function namesOf(path: string, batchRecords: number): Names {
  const table = new StringTable({ maxStrings: Number.POSITIVE_INFINITY });
  const tables: RawEvent[] = [];
  // Only strings and function tables are decoded here; a string fragment straight from its bytes (StringTable.addRecord).
  const reader = readTrace(path);
  const collections = new Collections();
  try {
    for (const batch of reader.batches(batchRecords, true)) {
      collections.add(batch.byteLength / RECORD_SIZE);
      for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
        const strings = table.addRecord(batch, offset);
        if (strings !== 0) {
          offset += (strings - 1) * RECORD_SIZE;
          continue;
        }
        if (recordKind(batch, offset) === EventKind.function_table) tables.push(decodeRecord(batch, offset));
      }
    }
  } finally {
    reader.close();
  }
  const strings: StringLookup = (pid, tid, id) => table.get(pid, tid, id);
  return { strings, functions: functionTable(tables, strings) };
}

/**
 * Kinds whose one event is stamped at its record's time, and that no link step changes another
 * event for (RequestLinks copies a call's request to its return: in the same pass as it
 * decodes them). Pass 2 reads only their time and thread (TraceStream's `light`).
 */
/** Calls alone (--chrome's and --perfetto's link pass: their watches keep calls' ends, not calls). */
export const LIGHT_CALLS: ReadonlySet<number> = new Set([EventKind.function_call]);

/**
 * Calls, yields and resumes: LIGHT_KINDS but the calls' ends (returns, throws, settles), whose
 * fields scope export --otlp-functions' link pass keeps (CallEnds: failed, error type and message).
 */
export const LIGHT_NOT_ENDS: ReadonlySet<number> = new Set([EventKind.function_call, EventKind.function_yield, EventKind.function_resume]);

export const LIGHT_KINDS: ReadonlySet<number> = new Set<number>([EventKind.function_call, EventKind.function_return, EventKind.function_throw, EventKind.function_settle, EventKind.function_yield, EventKind.function_resume]);

/**
 * Whether an event of `kind` may make a link step change an earlier event, or nest another
 * under it (messages, requests, steps, queries, long tasks, async callbacks): without any,
 * pass 3 records nothing and nests nothing, and is skipped.
 */
function linkedKind(kind: string): boolean {
  return kind.startsWith("message_") || kind.startsWith("http_") || kind.startsWith("db_") || kind.startsWith("async_") || kind === "long_task" || kind === "request_context";
}

/**
 * The trace's events in record order, decoded by interpret's EventDecoder (not sorted, indexed nor linked).
 * `light`: records of LIGHT_KINDS go to it undecoded (view and the record's byte offset in it), not as events.
 */
function* decodedEvents(reader: TraceRead, names: Names, batchRecords: number, light?: (view: DataView, base: number) => void): Generator<TraceEvent> {
  const decoder = new EventDecoder(names.strings, names.functions);
  const events: TraceEvent[] = [];
  for (const raw of records(reader, batchRecords, light && ((view, base, kind) => {
    if (!LIGHT_KINDS.has(kind)) return false;
    // Its thread's pending request_context (if any) is its: taken, as decode takes it.
    decoder.skip(view.getUint32(base + Offset.pid, true), view.getUint32(base + Offset.tid, true));
    light(view, base);
    return true;
  }))) {
    decoder.decode(raw, events);
    for (const event of events) yield event;
    events.length = 0;
  }
}

/**
 * decodedEvents for the link pass of text and --json (no watch): a call's, return's, ...
 * (LIGHT_KINDS) event is not decoded but read from its bytes with only what a link step reads
 * of it (LightFields: `call`, `request`, `function` when asked), and its thread's pending
 * request_context taken as decode takes it. No step changes such an event for another one's
 * sake (their changes to it are its own, made again in pass 4), so what pass 3 records is
 * the same; its strings (arguments, values, errors) are not looked up.
 */
function* linkEvents(reader: TraceRead, names: Names, batchRecords: number, light: ReadonlySet<number>): Generator<TraceEvent> {
  const decoder = new EventDecoder(names.strings, names.functions);
  const events: TraceEvent[] = [];
  for (const { batch, view } of recordBatches(reader, batchRecords)) {
    for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
      const kind = recordKind(batch, offset);
      if (kind === EventKind.string) continue;
      if (light.has(kind)) {
        const pid = view.getUint32(offset + Offset.pid, true);
        const tid = view.getUint32(offset + Offset.tid, true);
        const context = decoder.skip(pid, tid);
        // decode's `request`: a call's own (field d, 0: none), a request_context's over it.
        const request = context ?? (kind === EventKind.function_call ? u64(view, offset + Offset.d) : 0);
        yield {
          index: 0,
          timestampNs: view.getBigUint64(offset + Offset.timestampNs, true),
          kind: eventKindName[kind]!,
          pid,
          tid,
          fields: new LightFields(u64(view, offset + Offset.b), request, pid, tid, u64(view, offset + Offset.a), names.functions) as unknown as Record<string, FieldValue>,
          linkedTo: [],
        };
        continue;
      }
      decoder.decode(decodeRecord(batch, offset), events);
      for (const event of events) yield event;
      events.length = 0;
    }
  }
}

/** A u64 field as model.ts's `unsigned` reads it (the same double: two exact halves added, rounded once). */
function u64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
}

/**
 * A light event's fields in the link pass: `call` and `request` (only when set) as decoded;
 * `function`, its name as decode names it, looked up only when a step reads it (a handler
 * behind an opaque listener, a long task's function).
 */
class LightFields {
  call: number;
  request?: number;

  constructor(
    call: number,
    request: number,
    private readonly pid_: number,
    private readonly tid_: number,
    private readonly id_: number,
    private readonly functions_: Map<string, string>,
  ) {
    this.call = call;
    if (request !== 0) this.request = request;
  }

  get function(): string {
    return this.functions_.get(`${this.pid_}/${this.tid_}/${this.id_}`) ?? `<function ${this.id_}>`;
  }
}

/** The records but strings (they give no event), decoded; `taken` may take one undecoded (returns true). */
function* records(reader: TraceRead, batchRecords: number, taken?: (view: DataView, base: number, kind: number) => boolean): Generator<RawEvent> {
  for (const { batch, view } of recordBatches(reader, batchRecords)) {
    for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
      const kind = recordKind(batch, offset);
      if (kind === EventKind.string || taken?.(view, offset, kind)) continue;
      yield decodeRecord(batch, offset);
    }
  }
}

/** The trace's records a batch at a time with a view over each, collections paced by what was read; the reader closed at the end. */
function* recordBatches(reader: TraceRead, batchRecords: number): Generator<{ batch: Uint8Array; view: DataView }> {
  try {
    const collections = new Collections();
    for (const batch of reader.batches(batchRecords, true)) {
      collections.add(batch.byteLength / RECORD_SIZE);
      yield { batch, view: new DataView(batch.buffer, batch.byteOffset, batch.byteLength) };
    }
  } finally {
    reader.close();
  }
}

export type ScannedTrace = Omit<LoadedTrace, "records" | "strings"> & { events: number };

/**
 * Passes 1 and 2 alone, nothing kept (scope dump --stats, and --why's event count): `onEvent`
 * gets each event in record order with its place in that order; `onHeader` the header first.
 * `timesOnly`: calls, returns, ... (LIGHT_KINDS) come with their kind, thread and time but no
 * fields, not decoded (what --stats counts them by).
 */
export function scanTrace(path: string, onEvent: (event: TraceEvent, order: number) => void, onHeader?: (header: TraceHeader) => void, timesOnly = false): ScannedTrace {
  const names = namesOf(path, 4096);
  fullCollection();
  const reader = readTrace(path);
  onHeader?.(reader.header);
  let count = 0;
  const light = (view: DataView, base: number) => {
    const kind = eventKindName[view.getUint16(base + Offset.kind, true)]!;
    onEvent({ index: 0, timestampNs: view.getBigUint64(base + Offset.timestampNs, true), kind, pid: view.getUint32(base + Offset.pid, true), tid: view.getUint32(base + Offset.tid, true), fields: {}, linkedTo: [] }, count++);
  };
  for (const event of decodedEvents(reader, names, 4096, timesOnly ? light : undefined)) onEvent(event, count++);
  return { header: reader.header, startNs: BigInt(reader.header.monotonicAnchorNs), end: reader.end, error: reader.error, events: count };
}
