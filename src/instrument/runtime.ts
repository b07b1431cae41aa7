/**
 * What instrumented code calls: one hook object at globalThis[Symbol.for("scope.functions")]
 * (see print.ts for the no-op it falls back to). It records function events through a
 * sink of the agent's shape (record/string, optionally recordBatch). Never throws into
 * the program and never runs program code (previews read own data properties only).
 *
 * Cost: at the "calls" level an event is four stores into a preallocated buffer of
 * 64-byte records (with packCalls one store: up to eight calls share a function_calls
 * record, which the ring's drain expands) handed to the native side `batchSize` at a time (recordBatch); the
 * native side stamps each batch's records with the time of the flush, so within a
 * batch the order is exact and the time is an upper bound. The buffer is flushed when
 * full, before any event of the agent's own, and at the end of the current job (one
 * microtask queued by the first buffered event), so that bound is the end of the
 * synchronous run that made the call, not a timer tick. With `batchSize: 1` (or a sink
 * without recordBatch) every event is written at once with its own timestamp.
 *
 * Time at the full level: every event of the full level's hooks (C, r, x, s, X, y, n:
 * calls, returns, throws, settlements, generator steps) carries the time it happened.
 * With scope.node's event buffer (RecordSink.events) the batch and two preview texts live
 * in the addon: the previews are walked into the texts and one call without arguments
 * (commitEvents) writes what is buffered, the texts and the event, stamped natively at
 * that crossing (after the event's own previews). Without it the time is the sink's
 * `now()` (the producer's own clock, so these times and natively stamped ones order
 * exactly) read before the previews; recordBatch keeps a non-zero timestamp. A
 * calls-level event (c) stays unstamped and takes the time of the next stamped event
 * after it (else the flush time): still an upper bound, and the batch's times never go
 * back in write order.
 *
 * Functions by their text: every instrumented function's own text (what the intrinsic
 * Function.prototype.toString returns) contains `__scope$f<tag>+n`, the file's tag and
 * the function's index, and f() receives the file's text table (transform.ts
 * SourceRange). So a function object passed as a listener is named without running
 * any program code (l: listener ids), and Function.prototype.toString, patched once per
 * realm (installHook; another node:vm context's by installRealm), shows the original text
 * of instrumented functions and classes
 * (sourceText), read from the file and checked against the length and hash recorded.
 * Node (V8) shows source text verbatim, so the text's length picks the one entry
 * exactly; Bun reprints modules, so there the kind and the name decide and an
 * ambiguous text stays unresolved.
 */
import {
  describe,
  PREVIEW_LIMIT_CHARS,
  PREVIEW_LIMIT_DEPTH,
  PREVIEW_MAX_CHARS,
  PREVIEW_MAX_DEPTH,
  type TypeChecks,
  useMapProofs,
  writeArgumentsPreview,
  writeNativePreview,
  writePreview,
} from "../agent/shared/preview";
import { mapProofsOf } from "../agent/shared/sink";
import { fragmentsOf, RECORD_WORDS, STRING_FRAGMENT_BYTES, writePreviewString } from "../agent/shared/batch";
import { redactPattern } from "../agent/shared/redact";
import { registerShifts } from "./callsites";
import { calibrateFloor, GOVERNED_SAMPLE, GovernedLevel, Governor, SAMPLE_EVERY, type GovernedFunctions, type Step } from "./governor";
import { BASE, HOOK_KEY, TAG_CHARS, hashSource } from "./transform";

/** zig/layout.zig EventKind, function tracing range. */
export const FunctionKind = {
  table: 32,
  call: 33,
  return: 34,
  throw: 35,
  settle: 36,
  yield: 37,
  resume: 38,
  sampled: 39,
  listener: 40,
  /** The overhead governor changed a function's level: a = id, b = new level, c = old, d = overhead ppm, e = budget ppm. */
  level: 42,
  /** Ring only: up to CALLS_PACK_MAX calls-level function_calls in one record (see Hook.c). */
  calls: 43,
} as const;

/** zig/layout.zig calls_pack_max: function ids (u32) in words 8..15 of a function_calls record. */
const CALLS_PACK_MAX = 8;

/** function_sampled flags. */
export const SampledFlag = {
  /** The function's rate fell below half the limit: it is traced in full again. */
  ended: 1,
  /** The summary written when the thread ends (exact totals). */
  exit: 2,
} as const;

/** Default hot-function limit: calls per second per function per thread. */
export const DEFAULT_HOT_CALLS_PER_SECOND = 10_000;
/** Default: once hot, 1 call in this many is recorded (0: counted only). */
export const DEFAULT_HOT_SAMPLE = 100;
/** The rate is checked every this many calls of a function. */
export const HOT_CHECK_CALLS = 1024;
/** While sampled, counts are reported at most this often, and at exit. */
const HOT_REPORT_MS = 1000;

/** function_settle flags bit 0: the promise was rejected. */
export const SETTLE_REJECTED = 1;

/** The agent's sink (src/agent/shared/sink.ts) plus the optional batch call of scope.node. */
export interface RecordSink {
  record(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): boolean;
  string(id: number, text: string): boolean;
  recordBatch?(records: Uint32Array, count: number): number;
  /** The producer's clock: CLOCK_MONOTONIC ns a record written now would carry (0: none). */
  now?(): number;
  /**
   * scope.node's function-event buffer (zig/napi.zig events): header words, a batch of
   * records, two preview texts; `commitEvents()` writes what it holds in one call without
   * arguments, stamping each record as written. With it, a full-level event and its
   * previews cross once and carry the time of that crossing.
   */
  events?(): ArrayBuffer | null | undefined;
  commitEvents?(): void;
  /** Truthy once recording stopped (`scope stop`, a limit): every write is refused from then on. */
  stopped?(): number | boolean;
  /** scope.node's scratch and its commits (src/agent/shared/sink.ts Sink): the agent's own hot events. */
  scratch?(): ArrayBuffer | null | undefined;
  commit?(): boolean | undefined;
  commitString?(): number | undefined;
  /** src/agent/shared/sink.ts Sink.settle: the buffered function events written now. */
  settle?(): void;
}

export interface RuntimeOptions {
  sink: RecordSink;
  /** String ids shared with the agent (its Recorder.str); own ids from 1 when absent. */
  str?: (text: string, intern?: boolean) => number;
  /**
   * A fresh string id whose records the runtime writes itself (the agent's
   * Recorder.reserveId; 0: none). With `str` and without this, previews go through `str`.
   */
  stringId?: () => number;
  /** Records per recordBatch call; 1 writes each event at once. Default 256. */
  batchSize?: number;
  /** Flush a partly filled batch this often (an unref'd timer); 0 for never. Default 50. */
  flushIntervalMs?: number;
  /** Flush a partly filled batch at the end of the job that filled it (a microtask). Default true. */
  flushAtJobEnd?: boolean;
  /**
   * Calls-level events packed CALLS_PACK_MAX to a record (function_calls, which the ring's
   * drain expands). Default: when scope.node's event buffer says the ring allows it (a
   * discard-mode ring, where a lost pack is counted call by call).
   */
  packCalls?: boolean;
  /** Value previews (full level): how deep and how many characters. Defaults 3 and 96. */
  previewDepth?: number;
  previewChars?: number;
  /** util.types, for previews that never run program code. */
  types?: TypeChecks;
  /**
   * The request the running code belongs to (the agent's currentRequest, 0: none), written
   * into every function_call's field d. Default: none.
   */
  request?: () => number;
  /**
   * Calls its argument when `request` can first return non-zero (the agent's
   * requestsBegin: its first request context), or at once if it already can. With it,
   * calls-level events read no request until then. Without it `request` is read per call.
   */
  requestsBegin?: (begin: () => void) => void;
  /**
   * Hot-function guard: a function called more often than this (calls per second, per
   * thread, measured every HOT_CHECK_CALLS calls) is sampled. 0 turns the guard off.
   * Default DEFAULT_HOT_CALLS_PER_SECOND.
   */
  hotCallsPerSecond?: number;
  /** Once hot, record 1 call in this many; 0: count only. Default DEFAULT_HOT_SAMPLE. */
  hotSample?: number;
  /**
   * The overhead governor's budget (governor.ts): the fraction of wall time this thread
   * may spend inside function tracing (0.05 for --max-overhead 5). Absent: no governor.
   */
  maxOverhead?: number;
  /** The guard's clock in ms (tests); default performance.now. */
  now?: () => number;
  /**
   * Reads a source file (utf8) to show a function's original text; undefined when it
   * cannot. Default: node:fs readFileSync, taken when the runtime is made.
   */
  readSource?: (file: string) => string | undefined;
}

/** The hook object's shape; the method names are what transform.ts emits. */
export interface Hook {
  /**
   * Registers a file's function table [name, line, column, flags]*, its inline
   * listeners [index, event, method]* (or 0) and its text table [tag, length, hash,
   * ranges, names] (print.ts sourceTable); returns its first id.
   */
  f(
    file: string,
    table: (string | number)[],
    listeners?: (string | number)[] | 0,
    source?: unknown[] | 0,
    shiftsFile?: string | 0,
    shifts?: string | 0,
    /** [first function index, original file]*: functions whose original is another file (input maps). */
    origins?: (string | number)[],
  ): number;
  c(id: number): void;
  /** `self`: the receiver of a stateful method (its own data fields are snapshot). */
  C(id: number, args: ArrayLike<unknown>, self?: unknown): number;
  r(id: number, token: number, value: unknown, self?: unknown): void;
  x(id: number, token: number, error: unknown, self?: unknown): number;
  s(id: number, token: number, value: unknown, self?: unknown): void;
  X(id: number, token: number, error: unknown, self?: unknown): number;
  y(id: number, token: number, value: unknown): unknown;
  n(id: number, token: number, value: unknown): unknown;
  /**
   * A listener registration `x.on(event, handler)`: records function_listener (the
   * handler's function id, `id` when the transform knew it, else found by its text; 0
   * when not instrumented) and returns `handler` itself.
   */
  l(event: unknown, handler: unknown, method: string, id?: number): unknown;
  /** A sync generator's `yield value`: the one-step iterator `yield*` delegates to. */
  w(id: number, token: number, value: unknown): Iterator<unknown>;
  /** A sync generator's initial `$r`: no return statement ran. */
  u: unknown;
  /** A module started: `init` registers its file (calls f) when its text is looked up first. */
  /** Also registers the file's column shifts (print.ts columnShifts, callsites.ts). */
  p(tag: string, init: () => unknown, shiftsFile?: string, shifts?: string): void;
}

/** One registered file: its ids and its text table (see Hook.f). */
interface Registration {
  base: number;
  file: string;
  table: (string | number)[];
  /** The text table as print.ts wrote it: parsed into `ranges` on first use. */
  encoded: string;
  names: unknown[];
  length: number;
  hash: number;
  /** Entries, RANGE_FIELDS numbers each: key, index, start, end, inserted, name (index into names, -1). */
  ranges?: number[];
  /** Entry offsets in `ranges` by key. */
  byKey?: Map<number, number[]>;
  /** The original source once read and checked; null when unavailable or changed. */
  text?: string | null;
}

/** A function object found in a registration's text table. */
interface Resolved {
  registration: Registration;
  /** Offset of its entry in registration.ranges. */
  at: number;
}

const MAX_NAME_CHARS = 200;
/** Listener records already written (function, event, method, handler name), for deduplication. */
const MAX_LISTENED = 4096;

/** Bun reprints every module it loads: a function's text is not the instrumented source verbatim. */
const REPRINTS = typeof process === "object" && typeof process.versions === "object" && typeof process.versions?.bun === "string";

// Intrinsics, taken before the program runs: the text lookups run inside the patched
// Function.prototype.toString and must not call anything the program may replace.
const reflectApply = Reflect.apply;
const intrinsicToString = Function.prototype.toString;
const symbolToString = Symbol.prototype.toString;
const stringIndexOf = String.prototype.indexOf;
const stringSlice = String.prototype.slice;
const stringCharCodeAt = String.prototype.charCodeAt;
const stringSplit = String.prototype.split;
const parseInteger = parseInt;
const weakMapGet = WeakMap.prototype.get;
const weakMapSet = WeakMap.prototype.set;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const defineProperty = Object.defineProperty;
const getPrototypeOf = Object.getPrototypeOf;
const indexOf = (text: string, search: string, from = 0): number => reflectApply(stringIndexOf, text, [search, from]) as number;
const slice = (text: string, start: number, end?: number): string => reflectApply(stringSlice, text, [start, end]) as string;
const codeAt = (text: string, at: number): number => reflectApply(stringCharCodeAt, text, [at]) as number;

/** What $r starts as in a sync generator: no return statement ran (see H.r). */
const RETURN_UNSET: unknown = Object.freeze({ unset: true });

/**
 * What a sync generator's `yield X` delegates to (`yield* H.w(id, token, X)`): yields X,
 * then returns what next(v) sent; throw(e) throws e at the yield; return(v) ends the
 * delegation with v, so the generator returns v (and the runtime reports it). The
 * result objects are plain `{ value, done }`, as a yield's own.
 */
class YieldStep {
  private step = 0;
  private readonly runtime: FunctionRuntime;
  private readonly id: number;
  private readonly token: number;
  private readonly value: unknown;

  constructor(runtime: FunctionRuntime, id: number, token: number, value: unknown) {
    this.runtime = runtime;
    this.id = id;
    this.token = token;
    this.value = value;
  }

  next(sent?: unknown): IteratorResult<unknown> {
    if (this.step++ === 0) return { value: this.value, done: false };
    if (this.token >= 0) this.runtime.resumed(this.id, this.token, sent);
    return { value: sent, done: true };
  }

  throw(error?: unknown): never {
    this.step = 2;
    throw error;
  }

  return(value?: unknown): IteratorResult<unknown> {
    this.step = 2;
    if (this.token >= 0) this.runtime.returning(this.token, value);
    return { value, done: true };
  }

  [Symbol.iterator](): this {
    return this;
  }
}

/** zig/napi.zig's function-event buffer: header bytes, batch records, bytes of each of its two texts. */
const EVENTS_HEADER_BYTES = 64;
const EVENTS_BATCH_RECORDS = 256;
const EVENTS_TEXT_BYTES = 3 * 4096 + 64;

/** The sink's function-event buffer when it has one of the expected size (an older addon: none). */
function nativeEvents(sink: RecordSink): ArrayBuffer | undefined {
  if (typeof sink.events !== "function" || typeof sink.commitEvents !== "function") return undefined;
  try {
    const buffer = sink.events();
    const bytes = EVENTS_HEADER_BYTES + EVENTS_BATCH_RECORDS * RECORD_WORDS * 4 + 2 * EVENTS_TEXT_BYTES;
    return buffer instanceof ArrayBuffer && buffer.byteLength === bytes ? buffer : undefined;
  } catch {
    return undefined;
  }
}

/** queueMicrotask as it was when the agent loaded (a program may replace the global). */
const enqueueMicrotask: ((task: () => void) => void) | undefined =
  typeof queueMicrotask === "function" ? queueMicrotask.bind(globalThis) : undefined;

export class FunctionRuntime {
  readonly hook: Hook;
  /** Errors of the runtime's own, caught (never thrown into the program). */
  errors = 0;
  /** Events the sink refused (its own drop counters say why). */
  unrecorded = 0;
  private readonly sink: RecordSink;
  /**
   * The sink's commitEvents, read once: scope.node's exports object is in dictionary mode
   * (V8 makes an addon's exports so), so `sink.commitEvents` in optimized code is a generic
   * LoadIC call (~75 instructions) at every full-level event; a field of this runtime is a
   * plain load, and the call (Fast API) is the same (BENCHMARKS.md "Full level: one claim
   * an event, the commit read once").
   */
  private readonly commitEvents: (() => void) | undefined;
  /** The batch: scope.node's event buffer (see `native`) or a buffer of its own. */
  private readonly words: Uint32Array;
  /**
   * scope.node's function-event buffer (RecordSink.events): its header words and its two
   * preview texts, which the walk writes into. Absent: the batch is this runtime's own,
   * handed over by recordBatch, and full-level events read the clock through `now()`.
   */
  private readonly native: Uint32Array | undefined;
  private readonly nativeTexts: [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>] | undefined;
  /** Preview texts of the event being built (native: header words 2..5 say which). */
  private texts = 0;
  /** The same buffer as bytes, for the string fragments written into it. */
  private readonly bytes: Uint8Array;
  private readonly capacity: number;
  /** Fresh string ids for previews written into the batch (see previewId). */
  private readonly stringId: (() => number) | undefined;
  private count = 0;
  /** Calls-level events go into function_calls packs (see Hook.c). */
  private readonly packCalls: boolean;
  /**
   * A batch with this many records flushes before its next pack: at most `capacity`
   * calls wait in JavaScript, as without packs (what a SIGKILL takes with it).
   */
  private readonly packRecords: number;
  /**
   * The open pack, the batch's last record: the request the next call must have to join
   * it (−1: no pack open; −2: the pack is full, its ordinals not settled yet; request
   * ids are ≥ 0), the word its id goes to, the pack's last id
   * word, its first id word and the ordinal of its first call. While a pack is open
   * `ordinal` is not advanced per call: closePack() settles it (packFirst plus the ids
   * written), and everything that writes another record or takes an ordinal closes the
   * pack first, so the pack's ordinals stay consecutive and its calls stay in order.
   */
  private packRequest = -1;
  private packWord = 0;
  private packLast = 0;
  private packBase = 0;
  private packFirst = 0;
  /**
   * The sink's clock, when events are batched (unbatched events are stamped as written):
   * full-level events carry the time they happened (see the header).
   */
  private readonly clock: (() => number) | undefined;
  /** The buffer holds an event stamped here (flush fills the unstamped ones around it). */
  private stamped = false;
  /** A flush is queued for the end of the current job (flushAtJobEnd). */
  private flushQueued = false;
  private readonly flushAtJobEnd: boolean;
  private readonly flushQueuedTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };
  private readonly previewLimits: { depth: number; chars: number };
  private ordinal = 1;
  private nextFunctionId = 1;
  private nextStringId = 1;
  private readonly interned = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly types: TypeChecks | undefined;
  /**
   * RuntimeOptions.request, or `noRequest` until it can return non-zero
   * (RuntimeOptions.requestsBegin): the hook then inlines a function that returns 0, not
   * the agent's (a few bytes of V8's inlining budget, not ~40, and no read per call). A
   * field V8 treats as constant: code that inlined it is deoptimised once when it changes.
   */
  private request: () => number;
  private readonly str: (text: string, intern?: boolean) => number;
  // Hot-function guard, indexed by function id. The hook's fast path reads `seen` (calls
  // so far) and `next`: the call number at which admit() must run (the next rate check
  // or, while sampled, the next sampled call), negated while the function is sampled
  // (`hot` 1: calls before it are skipped), so one read and compare decide both (see
  // Hook.c; setNext keeps the sign). Skipped calls are not counted one by one: while
  // sampled they are seen - hotSince - hotRecorded, plus skippedBefore from earlier
  // sampled periods.
  private seen = new Float64Array(256);
  private next = new Float64Array(256);
  private hot = new Uint8Array(256);
  private nextCheck = new Float64Array(256);
  private nextSample = new Float64Array(256);
  private hotSince = new Float64Array(256);
  private hotRecorded = new Float64Array(256);
  private skippedBefore = new Float64Array(256);
  private checkedAt = new Float64Array(256);
  private reportedAt = new Float64Array(256);
  // The overhead governor (governor.ts), only with a budget: each function's governed
  // level (GovernedLevel; all `full` without a governor, which the calls hook then never
  // reads past) and whether it was instrumented at the full level (its C hook ran).
  private level = new Uint8Array(256).fill(GovernedLevel.full);
  private fullHook = new Uint8Array(256);
  // While governed below the calls level: the call count it started at and the calls
  // recorded since, so the exit summary's skipped calls stay exact (see skipped()).
  private govSince = new Float64Array(256);
  private govRecorded = new Float64Array(256);
  private readonly governor: Governor | undefined;
  /** Functions that were ever sampled, for the exit summary. */
  private readonly everHot: number[] = [];
  private readonly hotLimit: number;
  private readonly hotSample: number;
  private finished = false;
  /** Recording stopped: every hook returns at its first check (see stop). */
  private stopped = false;
  private readonly now: () => number;
  private readonly readSource: ((file: string) => string | undefined) | undefined;
  /** Registered files by tag, in registration order (a file loaded twice has two). */
  private readonly byTag = new Map<string, Registration[]>();
  /** Started modules not looked up yet: their initialisers by tag (see Hook.p). */
  private readonly pending = new Map<string, (() => unknown)[]>();
  /** Function objects already looked up by their text (null: not an instrumented one). */
  private readonly resolved = new WeakMap<object, Resolved | null>();
  /** Listener records written (see listen). */
  private readonly listened = new Set<string>();
  /** Sync generators ended by a consumer's return(v): v by call token (see H.r). */
  private readonly returns = new Map<number, unknown>();

  constructor(options: RuntimeOptions) {
    this.sink = options.sink;
    const sink = options.sink;
    let capacity = sink.recordBatch ? Math.max(1, options.batchSize ?? 256) : 1;
    const events = capacity > 1 ? nativeEvents(sink) : undefined;
    this.commitEvents = events !== undefined ? sink.commitEvents : undefined;
    if (events !== undefined) {
      capacity = Math.min(capacity, EVENTS_BATCH_RECORDS);
      this.native = new Uint32Array(events, 0, EVENTS_HEADER_BYTES / 4);
      this.words = new Uint32Array(events, EVENTS_HEADER_BYTES, capacity * RECORD_WORDS);
      const textsAt = EVENTS_HEADER_BYTES + EVENTS_BATCH_RECORDS * RECORD_WORDS * 4;
      this.nativeTexts = [new Uint8Array(events, textsAt, EVENTS_TEXT_BYTES), new Uint8Array(events, textsAt + EVENTS_TEXT_BYTES, EVENTS_TEXT_BYTES)];
    } else this.words = new Uint32Array(capacity * RECORD_WORDS);
    this.capacity = capacity;
    this.packCalls = capacity > 1 && (options.packCalls ?? (this.native !== undefined && this.native[7] === 1));
    this.packRecords = Math.max(1, Math.floor(capacity / CALLS_PACK_MAX));
    this.bytes = new Uint8Array(this.words.buffer, this.words.byteOffset, this.words.byteLength);
    // Natively committed events are stamped by the commit: no clock read from here.
    this.clock = this.capacity > 1 && this.native === undefined && typeof sink.now === "function" ? () => sink.now!() : undefined;
    this.types = options.types;
    // The previews' known maps (preview.ts "Map proofs"), asked for once fast() has walked a few records.
    useMapProofs(() => mapProofsOf(sink));
    const request = options.request;
    this.request = request !== undefined && options.requestsBegin === undefined ? request : noRequest;
    if (request !== undefined && options.requestsBegin !== undefined) {
      options.requestsBegin(() => {
        this.request = request;
      });
    }
    this.str = options.str ?? ((text, intern = true) => this.ownString(text, intern));
    // Previews go into the batch as string records (preview.ts's bytes) when the batch
    // holds the longest (3 bytes a character) with its event.
    const previewChars = Math.min(PREVIEW_LIMIT_CHARS, Math.max(8, options.previewChars ?? PREVIEW_MAX_CHARS));
    const inline = this.capacity > Math.ceil((3 * previewChars + 3) / STRING_FRAGMENT_BYTES) + 1;
    // With --redact-pattern previews go through `str` (the agent's Recorder applies the patterns).
    this.stringId = !inline || redactPattern !== undefined ? undefined : options.stringId ?? (options.str ? undefined : () => this.nextStringId++);
    this.hotLimit = Math.max(0, options.hotCallsPerSecond ?? DEFAULT_HOT_CALLS_PER_SECOND);
    this.hotSample = Math.max(0, Math.floor(options.hotSample ?? DEFAULT_HOT_SAMPLE));
    this.now = options.now ?? (() => performance.now());
    this.readSource = options.readSource ?? defaultReadSource();
    this.flushAtJobEnd = options.flushAtJobEnd !== false && enqueueMicrotask !== undefined;
    this.previewLimits = {
      depth: Math.min(PREVIEW_LIMIT_DEPTH, Math.max(0, options.previewDepth ?? PREVIEW_MAX_DEPTH)),
      chars: Math.min(PREVIEW_LIMIT_CHARS, Math.max(8, options.previewChars ?? PREVIEW_MAX_CHARS)),
    };
    if (options.maxOverhead !== undefined && options.maxOverhead > 0) this.governor = new Governor(options.maxOverhead, this.now);
    const interval = options.flushIntervalMs ?? 50;
    if (this.capacity > 1 && interval > 0) {
      this.timer = setInterval(() => {
        this.flush();
        this.govern();
      }, interval);
      (this.timer as { unref?: () => void }).unref?.();
    }
    this.hook = this.makeHook(this);
    if (this.governor) {
      // Function id 0 is never given out: with its level off, the probes take the fast path.
      this.level[0] = GovernedLevel.off;
      this.hot[0] = 1;
      this.setNext(0, Infinity);
      this.governor.floor = calibrateFloor(this.hook, 0, this.now);
      this.calibrateRecording(this.governor);
      this.timeHooks(this.governor);
    }
    // Whatever is still buffered when the thread ends goes out (the agent may flush earlier).
    // The exit summaries of sampled functions go first, before the agent's trace_stop.
    if (typeof process === "object" && typeof process.on === "function") process.on("exit", () => this.close());
  }

  /**
   * The guard's slow path, run when call `n` (seen[id], counted) of function `id` reaches
   * `next[id]`: every HOT_CHECK_CALLS calls (the rate check, one clock read) and on each
   * sampled call. Returns whether call `n` is recorded. (`n` read here, not passed: a byte
   * less of the hooks' bytecode.)
   */
  /** Hook.c past `next[id]`: call seen[id] of a sampled function past its skip, or the guard's slow path (admit). */
  private sampledIn(id: number): boolean {
    return this.seen[id]! >= -this.next[id]! && this.admit(id);
  }

  private admit(id: number): boolean {
    const n = this.seen[id]!;
    if (this.governor) {
      this.govern();
      const level = this.level[id]!;
      if (level < GovernedLevel.calls) return this.admitGoverned(id, n, level);
    }
    let report = -1;
    if (n >= this.nextCheck[id]!) {
      this.nextCheck[id] = n + HOT_CHECK_CALLS;
      const now = this.now();
      const rate = (HOT_CHECK_CALLS * 1000) / (now - this.checkedAt[id]!);
      this.checkedAt[id] = now;
      if (this.hot[id] === 0) {
        if (this.hotLimit > 0 && rate > this.hotLimit) {
          // Sampled from this call on (itself skipped); the next recorded one is n + hotSample.
          this.hot[id] = 1;
          this.hotSince[id] = n - 1;
          this.hotRecorded[id] = 0;
          this.nextSample[id] = this.hotSample > 0 ? n + this.hotSample : Infinity;
          if (!this.everHot.includes(id)) this.everHot.push(id);
          this.reportedAt[id] = now;
          report = 0;
        }
      } else if (rate < this.hotLimit / 2) {
        // Traced in full again from this call on.
        this.skippedBefore[id]! += n - 1 - this.hotSince[id]! - this.hotRecorded[id]!;
        this.hot[id] = 0;
        report = SampledFlag.ended;
      } else if (now - this.reportedAt[id]! >= HOT_REPORT_MS) {
        this.reportedAt[id] = now;
        report = 0;
      }
    }
    let record = true;
    if (this.hot[id] !== 0) {
      record = n >= this.nextSample[id]!;
      if (record) {
        this.nextSample[id] = n + this.hotSample;
        this.hotRecorded[id]! += 1;
      }
      this.setNext(id, Math.min(this.nextCheck[id]!, this.nextSample[id]!));
    } else this.setNext(id, this.nextCheck[id]!);
    // After the decision, so the counts include this call.
    if (report >= 0) this.reportSampled(id, report);
    return record;
  }

  /** The slow path of a function the governor sampled (1 call in GOVERNED_SAMPLE) or turned off. */
  private admitGoverned(id: number, n: number, level: number): boolean {
    this.hot[id] = 1;
    if (level === GovernedLevel.sampled) {
      this.setNext(id, n + GOVERNED_SAMPLE);
      this.govRecorded[id]! += 1;
      return true;
    }
    // Off: counted only; back here now and then so a decision to step up is seen.
    this.setNext(id, n + 65536);
    return false;
  }

  /**
   * The governor's cost per recorded call at the calls level, measured once on this thread
   * through function id 0, which is never given out (what it buffers is discarded before
   * anything is flushed): a timer read costs ~100 ns in Node, more than the call, so calls
   * are timed in rounds after a warm-up and the median round taken. The full level's cost
   * (previews: hundreds of ns and up) comes from the timed samples instead. Only with a
   * batch (Bun's sink writes each event at once).
   */
  private calibrateRecording(governor: Governor): void {
    if (this.capacity < 64) return;
    const hook = this.hook;
    const perRound = 48;
    const times: number[] = [];
    this.hot[0] = 0;
    this.setNext(0, Infinity);
    this.level[0] = GovernedLevel.calls;
    try {
      for (let round = 0; round < 160; round++) {
        const start = this.now();
        for (let i = 0; i < perRound; i++) hook.c(0);
        if (round >= 120) times.push((this.now() - start) / perRound);
        this.words.fill(0, 0, this.count * RECORD_WORDS);
        this.closePack();
        this.count = 0;
        this.stamped = false;
      }
      governor.calibrated.calls = times.sort((x, y) => x - y)[times.length >> 1]!;
    } catch {
      this.errors++;
    }
    this.level[0] = GovernedLevel.off;
    this.hot[0] = 1;
    this.setNext(0, Infinity);
  }

  /** next[id] = at, negated while the function is sampled (hot[id] set first: see `seen`). */
  private setNext(id: number, at: number): void {
    this.next[id] = this.hot[id] === 1 ? -at : at;
  }

  /** What the governor reads of the functions. */
  private readonly governed: GovernedFunctions = (() => {
    const runtime = this;
    return {
      get count() {
        return runtime.nextFunctionId;
      },
      get seen() {
        return runtime.seen;
      },
      get level() {
        return runtime.level;
      },
      full: (id: number) => runtime.fullHook[id] === 1,
      recorded: (id: number) => runtime.seen[id]! - runtime.skipped(id),
    };
  })();

  /** Lets the governor decide when its window has passed, and applies its steps. */
  private govern(): void {
    const governor = this.governor;
    if (!governor || this.stopped) return;
    const steps = governor.decide(this.governed);
    for (const step of steps) this.applyStep(step, governor.budget);
  }

  private applyStep(step: Step, budget: number): void {
    const id = step.id;
    if (id === 0) {
      // Out of reach: the instrumented prologues alone cost more than the budget.
      this.put(FunctionKind.level, 1, 0, step.to, step.from, Math.round(step.overhead * 1e6), Math.round(budget * 1e6));
      return;
    }
    const seen = this.seen[id]!;
    const below = (level: number) => level < GovernedLevel.calls;
    // Calls skipped so far are closed into skippedBefore when the skipping changes hands
    // (the hot guard's to the governor's and back), so the exit summary stays exact.
    if (!below(step.from) && below(step.to)) {
      if (this.hot[id] === 1) this.skippedBefore[id]! += seen - this.hotSince[id]! - this.hotRecorded[id]!;
      this.govSince[id] = seen;
      this.govRecorded[id] = 0;
      if (!this.everHot.includes(id)) this.everHot.push(id);
    } else if (below(step.from) && !below(step.to)) {
      this.skippedBefore[id]! += seen - this.govSince[id]! - this.govRecorded[id]!;
    }
    this.level[id] = step.to;
    // The next call takes the slow path (admit), which sets the fast path's state up for
    // the new level: the hot guard's again at calls and full, the governor's below.
    this.hot[id] = below(step.to) ? 1 : 0;
    this.setNext(id, this.seen[id]! + 1);
    // The next rate check comes soon (with a governor there is one even when the guard is off).
    if (step.to >= GovernedLevel.calls) this.nextCheck[id] = Math.min(this.nextCheck[id]!, this.seen[id]! + 1);
    this.put(FunctionKind.level, 0, id, step.to, step.from, Math.round(step.overhead * 1e6), Math.round(budget * 1e6));
  }

  /**
   * With a governor: the hook methods that cost most (c, C, r) are timed 1 call in
   * SAMPLE_EVERY, for the governor's mean cost per call of each level. A function whose
   * calls hook is `c` was instrumented at the calls level: it starts there.
   */
  private timeHooks(governor: Governor): void {
    const hook = this.hook;
    const { c, C, r } = hook;
    const now = this.now;
    let tick = 0;
    hook.c = (id) => {
      if (this.level[id] === GovernedLevel.full) this.level[id] = GovernedLevel.calls;
      if ((++tick & (SAMPLE_EVERY - 1)) !== 0) return c(id);
      const start = now();
      c(id);
      governor.timed(governor.callCost, start);
    };
    hook.C = (id, args, self) => {
      this.fullHook[id] = 1;
      if ((++tick & (SAMPLE_EVERY - 1)) !== 0) return C(id, args, self);
      const start = now();
      const token = C(id, args, self);
      governor.timed(this.level[id] === GovernedLevel.full ? governor.fullCallCost : governor.callCost, start);
      return token;
    };
    hook.r = (id, token, value, self) => {
      if (token < 0 || (++tick & (SAMPLE_EVERY - 1)) !== 0) return r(id, token, value, self);
      const start = now();
      r(id, token, value, self);
      governor.timed(governor.returnCost, start);
    };
  }

  /** Governor steps taken on this thread (down, up). */
  governorSteps(): { down: number; up: number } {
    return this.governor ? { ...this.governor.steps } : { down: 0, up: 0 };
  }

  private skipped(id: number): number {
    const closed = this.skippedBefore[id] ?? 0;
    if (this.level[id]! < GovernedLevel.calls) return closed + this.seen[id]! - this.govSince[id]! - this.govRecorded[id]!;
    return this.hot[id] === 1 ? closed + this.seen[id]! - this.hotSince[id]! - this.hotRecorded[id]! : closed;
  }

  /** function_sampled: a = id, b = calls seen, c = calls recorded, d = 1-in-d sample (0: counted only), e = limit. */
  private reportSampled(id: number, flags: number): void {
    const seen = this.seen[id]!;
    this.put(FunctionKind.sampled, flags, id, seen, seen - this.skipped(id), this.hotSample, this.hotLimit);
  }

  /** Room for function ids below `end` in the guard's arrays. */
  private grow(end: number): void {
    if (end <= this.hot.length) return;
    let size = this.hot.length;
    while (size < end) size *= 2;
    const larger = <T extends Float64Array | Uint8Array>(old: T): T => {
      const next = new (old.constructor as new (n: number) => T)(size);
      next.set(old);
      return next;
    };
    this.seen = larger(this.seen);
    const level = larger(this.level);
    level.fill(GovernedLevel.full, this.level.length);
    this.level = level;
    this.fullHook = larger(this.fullHook);
    this.govSince = larger(this.govSince);
    this.govRecorded = larger(this.govRecorded);
    this.next = larger(this.next);
    this.hot = larger(this.hot);
    this.nextCheck = larger(this.nextCheck);
    this.nextSample = larger(this.nextSample);
    this.hotSince = larger(this.hotSince);
    this.hotRecorded = larger(this.hotRecorded);
    this.skippedBefore = larger(this.skippedBefore);
    this.checkedAt = larger(this.checkedAt);
    this.reportedAt = larger(this.reportedAt);
  }

  /** Calls seen and recorded per function id (the guard's counters), for tests and benchmarks. */
  callCounts(id: number): { seen: number; recorded: number; sampled: boolean } {
    const seen = this.seen[id] ?? 0;
    return { seen, recorded: seen - this.skipped(id), sampled: this.hot[id] === 1 };
  }

  /** Hands buffered events to the sink. Call before writing any other event, to keep order. */
  flush(): void {
    const count = this.count;
    if (count === 0) return;
    this.closePack();
    this.count = 0;
    const native = this.native;
    if (native !== undefined) {
      const started = this.governor ? this.now() : 0;
      native[0] = count;
      native[1] = 0;
      this.texts = 0;
      this.commitNative();
      if (this.governor) this.governor.flushed(this.now() - started);
      return;
    }
    if (this.stamped) {
      this.stamped = false;
      this.fillTimes(count);
    }
    const started = this.governor ? this.now() : 0;
    try {
      const written = this.sink.recordBatch!(this.words, count);
      if (written < count) {
        if (this.sink.stopped?.()) this.stop();
        else this.unrecorded += count - written;
      }
    } catch {
      this.errors++;
    }
    this.words.fill(0, 0, count * RECORD_WORDS);
    if (this.governor) this.governor.flushed(this.now() - started);
  }

  /** Flushes and stops the timer; the hook keeps working (unbatched) if still called. */
  close(): void {
    if (!this.finished) {
      this.finished = true;
      for (const id of this.everHot) {
        try {
          this.reportSampled(id, SampledFlag.exit | (this.hot[id] === 0 ? SampledFlag.ended : 0));
        } catch {
          this.errors++;
        }
      }
    }
    this.flush();
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Recording stopped (`scope stop`, a limit; the sink refuses everything): from now on
   * every instrumented call takes the sampled fast path (a count, a compare, a return)
   * and nothing is buffered. Irreversible, like the stop.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.finished = true;
    this.closePack();
    this.count = 0;
    this.hot.fill(1);
    this.next.fill(-Infinity);
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * A sink for the agent's own events that flushes function events first, so order holds.
   * With scope.node's scratch it passes the scratch on: the agent's hot events (a message's
   * send with its preview written into the scratch, a receive) cross as without function
   * tracing, one call with no arguments after the flush (which does not touch the scratch).
   */
  orderedSink(): RecordSink {
    const sink = this.sink;
    // Read once: a load from scope.node's exports (dictionary mode) is a generic LoadIC each time.
    const string = sink.string;
    const ordered: RecordSink = {
      record: (kind, flags, a, b, c, d, e) => {
        this.flush();
        return sink.record(kind, flags, a, b, c, d, e);
      },
      string: (id, text) => string.call(sink, id, text),
      settle: () => this.flush(),
      // The agent asks when a write was refused; a stop turns function tracing off too.
      stopped: () => {
        const stopped = sink.stopped?.() ?? false;
        if (stopped) this.stop();
        return stopped;
      },
    };
    // The agent's events that carry an earlier time (Recorder.eventAt), after what is held.
    const stamped = (sink as { recordStamped?: RecordSink["recordBatch"] }).recordStamped ?? sink.recordBatch;
    if (typeof stamped === "function" && typeof sink.now === "function") {
      ordered.now = () => sink.now!();
      (ordered as { recordStamped?: RecordSink["recordBatch"] }).recordStamped = (records, count) => {
        this.flush();
        return stamped.call(sink, records, count);
      };
    }
    if (typeof sink.scratch === "function" && typeof sink.commit === "function" && typeof sink.commitString === "function") {
      const { commit, commitString } = sink;
      ordered.scratch = () => sink.scratch!();
      ordered.commit = () => {
        this.flush();
        return commit.call(sink);
      };
      ordered.commitString = () => {
        this.flush();
        return commitString.call(sink);
      };
    }
    return ordered;
  }

  /** Now on the sink's clock, for an event about to be buffered; 0 (stamped at flush) without one. */
  private time(): number {
    const clock = this.clock;
    return clock === undefined ? 0 : clock();
  }

  /**
   * Gives each unstamped record of a batch that holds stamped ones the time of the next
   * stamped record after it, the last ones the time now: an upper bound for each, and
   * times that never go back in write order (the decoder sorts by time, stably).
   */
  private fillTimes(count: number): void {
    const words = this.words;
    let low = 0;
    let high = 0;
    for (let i = count - 1; i >= 0; i--) {
      const base = i * RECORD_WORDS;
      if (words[base + 2] !== 0 || words[base + 3] !== 0) {
        low = words[base + 2]!;
        high = words[base + 3]!;
        continue;
      }
      if (low === 0 && high === 0) {
        const now = this.time();
        low = now >>> 0;
        high = (now / 4294967296) >>> 0;
        // No clock reading: the native side stamps the rest at the flush.
        if (low === 0 && high === 0) continue;
      }
      words[base + 2] = low;
      words[base + 3] = high;
    }
  }

  /** commitEvents() of what the header describes; the sink zeroes the records it read. */
  private commitNative(): void {
    try {
      // A plain call (no .call(sink): TurboFan lowers a Fast API call only for a target its
      // call feedback names); scope.node's functions read no receiver (no signature).
      this.commitEvents!();
      const unwritten = this.native![6]!;
      if (unwritten !== 0) {
        if (this.sink.stopped?.()) this.stop();
        else this.unrecorded += unwritten;
      }
    } catch {
      this.errors++;
    }
  }

  /**
   * A full-level event that carries its own time: with scope.node's event buffer, the
   * record goes after what is buffered and, with the preview texts the walk just wrote
   * into the buffer, crosses in one call that stamps it (`time` is 0 then: see time());
   * otherwise it is buffered with `time`, read before its previews.
   */
  private stamp(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number, time: number): void {
    const native = this.native;
    if (native === undefined) return this.put(kind, flags, a, b, c, d, e, time);
    const texts = this.texts;
    this.texts = 0;
    if (this.stopped) return;
    this.closePack();
    // count < capacity here: put() and this commit as soon as the batch is full.
    const count = this.count;
    const words = this.words;
    const base = count * RECORD_WORDS;
    words[base + 1] = kind | (flags << 16);
    words[base + 6] = a;
    words[base + 8] = b >>> 0;
    if (b > 0xffffffff) words[base + 9] = b / 4294967296;
    if (c !== 0) words[base + 10] = c;
    if (d !== 0) words[base + 12] = d;
    if (e !== 0) words[base + 14] = e;
    this.count = 0;
    native[0] = count + 1;
    native[1] = texts;
    this.commitNative();
  }

  /**
   * Ends the open pack, if any: `ordinal` becomes the one after its last call (see
   * packRequest). Before any other record is written or ordinal taken.
   */
  private closePack(): void {
    if (this.packRequest === -1) return;
    this.ordinal = this.packFirst + (this.packWord - this.packBase);
    this.packRequest = -1;
  }

  /** Hook.c of a call that starts a record (a pack or, without packCalls, its own); never throws. */
  private calledAlone(id: number): void {
    const request = this.request();
    // Every eighth call, the commonest way here: the open pack is full (−2) and the next
    // record of the batch continues it (same request, the next eight ordinals). Only
    // typed-array stores and field writes: nothing to catch.
    if (this.packRequest === -2) {
      const count = this.count;
      const first = this.packFirst + CALLS_PACK_MAX;
      if (count < this.packRecords && id !== 0 && first <= 0xffffffff - CALLS_PACK_MAX && request === this.words[this.packBase - 1]) {
        return this.openPack(count, first, request, id);
      }
    }
    try {
      this.startRecord(id, request);
    } catch {
      this.errors++;
    }
  }

  /** calledAlone's body, apart so that Hook.c stays small (no try/catch of its own: V8's inlining budget). */
  private startRecord(id: number, request: number): void {
    this.closePack();
    if (this.capacity === 1 || this.stopped || this.ordinal > 0xffffffff) return this.put(FunctionKind.call, 0, id, this.ordinal++, 0, request);
    const pack = this.packCalls && this.ordinal <= 0xffffffff - CALLS_PACK_MAX && request <= 0xffffffff && id !== 0;
    if (pack && this.count >= this.packRecords) this.flush();
    const count = this.count;
    if (count === 0) this.queueFlush();
    if (pack) return this.openPack(count, this.ordinal, request, id);
    const words = this.words;
    const base = count * RECORD_WORDS;
    words[base + 1] = FunctionKind.call;
    words[base + 6] = id;
    words[base + 8] = this.ordinal++;
    if (request !== 0) words[base + 12] = request;
    this.count = count + 1;
    if (count + 1 === this.capacity) this.flush();
  }

  /**
   * A function_calls pack in record `count` (< packRecords, so the batch is not full
   * after it): its first call (ordinal `token`) and the pack state Hook.c appends to.
   */
  private openPack(count: number, token: number, request: number, id: number): void {
    const words = this.words;
    const base = count * RECORD_WORDS;
    words[base + 1] = FunctionKind.calls;
    words[base + 6] = token;
    words[base + 7] = request;
    words[base + 8] = id;
    this.packFirst = token;
    this.packBase = base + 8;
    this.packWord = base + 9;
    this.packLast = base + 8 + CALLS_PACK_MAX - 1;
    this.packRequest = request;
    this.count = count + 1;
  }

  /** Buffers (or writes) one event; `time` 0: stamped at flush (see the header). */
  private put(kind: number, flags: number, a: number, b: number, c: number, d: number, e = 0, time = 0): void {
    if (this.stopped) return;
    this.closePack();
    if (this.capacity === 1) {
      if (this.sink.record(kind, flags, a, b, c, d, e)) return;
      if (this.sink.stopped?.()) this.stop();
      else this.unrecorded++;
      return;
    }
    if (this.count === 0 && this.flushAtJobEnd && !this.flushQueued) {
      this.flushQueued = true;
      enqueueMicrotask!(this.flushQueuedTask);
    }
    const words = this.words;
    const base = this.count * RECORD_WORDS;
    // Words: 1 kind|flags<<16, 2-3 timestamp (0: stamped at flush or by fillTimes), 6-7 a, 8-9 b, 10-11 c, 12-13 d.
    words[base + 1] = kind | (flags << 16);
    words[base + 6] = a;
    words[base + 8] = b >>> 0;
    if (b > 0xffffffff) words[base + 9] = b / 4294967296;
    if (c !== 0) words[base + 10] = c;
    if (d !== 0) words[base + 12] = d;
    if (e !== 0) words[base + 14] = e;
    if (time !== 0) {
      words[base + 2] = time >>> 0;
      words[base + 3] = (time / 4294967296) >>> 0;
      this.stamped = true;
    }
    if (++this.count === this.capacity) this.flush();
  }

  private ownString(text: string, intern: boolean): number {
    const known = intern ? this.interned.get(text) : undefined;
    if (known !== undefined) return known;
    const id = this.nextStringId++;
    if (!this.sink.string(id, text)) this.unrecorded++;
    if (intern && this.interned.size < 65536) this.interned.set(text, id);
    return id;
  }

  /**
   * `slots`: where the walk's key places start (preview.ts KEY_SLOTS), by function and kind
   * (see slotsOf), so that each function's previews find their keys by place.
   */
  private preview(value: unknown, slots = 0): number {
    if (!this.types) return 0;
    if (this.stringId !== undefined) {
      if (this.nativeTexts !== undefined) {
        const id = this.nativeText(-1, value, slots);
        if (id !== 0) return id;
      } else {
        const id = this.batchString(writePreview(value, this.types, this.previewLimits));
        if (id !== 0) return id;
      }
    }
    return this.str(describe(value, this.types, this.previewLimits).preview, false);
  }

  /**
   * The preview of `value` (or, with `length` ≥ 0, of the arguments `value[0..length)`)
   * walked straight into the next of the native buffer's two texts, for the event stamp()
   * commits next. Returns its fresh string id; 0 when there is no text or id to give.
   */
  private nativeText(length: number, value: unknown, slots: number): number {
    const slot = this.texts;
    if (slot >= 2) return 0;
    const id = this.stringId!();
    if (id === 0) return 0;
    const target = this.nativeTexts![slot]!;
    // Written by scope.node where it can prove it may (previewNative), else walked here.
    let bytes = writeNativePreview(value, length, slot, this.previewLimits);
    if (bytes === 0)
      bytes =
        length >= 0
          ? writeArgumentsPreview(value as ArrayLike<unknown>, length, this.types!, this.previewLimits, target, false, slots)
          : writePreview(value, this.types!, this.previewLimits, target, false, slots);
    const native = this.native!;
    native[2 + 2 * slot] = id;
    native[3 + 2 * slot] = bytes;
    this.texts = slot + 1;
    return id;
  }

  /**
   * The preview's UTF-8, from previewBytes(), as `string` records in the batch ahead of
   * the event that refers to it: a few stores per byte instead of a native call. Returns
   * the fresh string id, 0 when there is none to give.
   */
  private batchString(length: number): number {
    const id = this.stringId!();
    if (id === 0) return 0;
    const fragments = fragmentsOf(length);
    // Room for the fragments and the event after them, so they go out in one batch.
    this.closePack();
    if (this.count + fragments + 1 > this.capacity) this.flush();
    this.queueFlush();
    const first = this.count;
    writePreviewString(this.words, this.bytes, first, id, length);
    this.count = first + fragments;
    return id;
  }

  /** The first buffered record queues the flush at the end of the job. */
  private queueFlush(): void {
    if (this.count === 0 && this.flushAtJobEnd && !this.flushQueued) {
      this.flushQueued = true;
      enqueueMicrotask!(this.flushQueuedTask);
    }
  }

  /**
   * A stateful method's receiver: a bounded preview of its own enumerable data fields
   * (preview.ts: no getters, no Proxy traps; private #fields are not visible). Not an
   * object (a detached call): no snapshot.
   */
  private state(self: unknown): number {
    if (self === null || typeof self !== "object" || !this.types) return 0;
    if (this.types.isProxy(self)) return this.preview(self);
    // Own enumerable fields without the methods (an object literal's own functions);
    // accessors are copied as accessors, which the preview shows without calling.
    const fields: Record<string, unknown> = {};
    const keys = Object.keys(self);
    for (let i = 0; i < keys.length && i < 32; i++) {
      const descriptor = Object.getOwnPropertyDescriptor(self, keys[i]!);
      if (!descriptor) continue;
      if (!("value" in descriptor)) Object.defineProperty(fields, keys[i]!, { get: descriptor.get, enumerable: true });
      // defineProperty, not assignment: a "__proto__" field stays a field.
      else if (typeof descriptor.value !== "function") Object.defineProperty(fields, keys[i]!, { value: descriptor.value, enumerable: true });
    }
    return this.preview(fields);
  }

  private argumentsPreview(args: ArrayLike<unknown>, slots: number): number {
    if (!this.types) return 0;
    const length = typeof args.length === "number" ? Math.min(args.length, 16) : 0;
    if (this.stringId !== undefined) {
      const id = this.nativeTexts !== undefined ? this.nativeText(length, args, slots) : this.batchString(writeArgumentsPreview(args, length, this.types, this.previewLimits));
      if (id !== 0) return id;
    }
    const copy: unknown[] = [];
    for (let i = 0; i < length; i++) copy.push(args[i]);
    return this.str(describe(copy, this.types, this.previewLimits).preview, false);
  }

  private errorFields(error: unknown): [number, number] {
    const types = this.types;
    if (error !== null && typeof error === "object" && !(types && types.isProxy(error))) {
      const name = dataProperty(error, "name", types);
      const message = dataProperty(error, "message", types);
      if (typeof name === "string" || typeof message === "string") {
        return [this.str(typeof name === "string" ? name.slice(0, 200) : "Error"), this.str(typeof message === "string" ? message.slice(0, 1000) : "", false)];
      }
    }
    return [this.str(typeof error), this.preview(error)];
  }

  /** H.w's resume: the value next(v) sent into the generator. */
  resumed(id: number, token: number, value: unknown): void {
    try {
      const time = this.time();
      this.stamp(FunctionKind.resume, 0, id, token, this.preview(value), 0, 0, time);
    } catch {
      this.errors++;
    }
  }

  /** H.w's return(v): the generator returns v unless its own finally returns otherwise. */
  returning(token: number, value: unknown): void {
    if (this.returns.size < 65536) this.returns.set(token, value);
  }

  /** A sync generator's end value: `$r`, or the value a consumer's return(v) gave. */
  private endValue(token: number, value: unknown): unknown {
    if (value !== RETURN_UNSET) return value;
    if (this.returns.size === 0) return undefined;
    const given = this.returns.get(token);
    this.returns.delete(token);
    return given;
  }

  /** function_listener for `x.on(event, handler)` (see Hook.l). */
  private listen(event: unknown, handler: unknown, method: unknown, id: unknown): void {
    let name: string;
    if (typeof event === "string") name = event.length > MAX_NAME_CHARS ? slice(event, 0, MAX_NAME_CHARS) : event;
    else if (typeof event === "symbol") {
      const text = reflectApply(symbolToString, event, []) as string;
      name = text.length > MAX_NAME_CHARS ? slice(text, 0, MAX_NAME_CHARS) : text;
    } else return;
    let functionId = 0;
    let handlerName = "";
    if (typeof id === "number") functionId = id;
    else {
      if (handler === null || (typeof handler !== "function" && typeof handler !== "object")) return;
      // An EventTarget listener may be an object with handleEvent (read as data, never a getter).
      let target: unknown = handler;
      if (typeof target === "object") target = this.types && !this.types.isProxy(target) ? dataProperty(target as object, "handleEvent", this.types) : undefined;
      if (typeof target === "function") {
        functionId = this.functionId(target);
        if (functionId === 0) handlerName = this.functionName(target);
      }
    }
    const methodName = typeof method === "string" ? method : "";
    const key = `${functionId}\0${name}\0${methodName}\0${handlerName}`;
    if (this.listened.has(key)) return;
    if (this.listened.size < MAX_LISTENED) this.listened.add(key);
    this.put(FunctionKind.listener, 0, functionId, this.str(name), this.str(methodName), 0, handlerName ? this.str(handlerName) : 0);
  }

  /** A function's own `name` when it is a data property (never a getter, never a Proxy trap). */
  private functionName(fn: object): string {
    if (!this.types || this.types.isProxy(fn)) return "";
    const descriptor = getOwnPropertyDescriptor(fn, "name");
    const name = descriptor && "value" in descriptor ? descriptor.value : undefined;
    return typeof name !== "string" ? "" : name.length > MAX_NAME_CHARS ? slice(name, 0, MAX_NAME_CHARS) : name;
  }

  /** The function id of an instrumented function object (a class: its constructor's), else 0. */
  functionId(fn: object): number {
    const found = this.resolve(fn);
    if (!found) return 0;
    const index = found.registration.ranges![found.at + 1]!;
    return index >= 0 ? found.registration.base + index : 0;
  }

  /**
   * What the patched Function.prototype.toString returns for `fn`, whose intrinsic text
   * is `text`: the original source text when `fn` is an instrumented function or class
   * of a JavaScript file whose source still reads the same, else `text` itself.
   */
  sourceText(fn: object, text: string): string {
    if (indexOf(text, BASE) < 0) return text;
    const found = this.resolve(fn, text);
    if (!found) return text;
    const registration = found.registration;
    const original = this.originalOf(registration);
    if (original === null) return text;
    const start = registration.ranges![found.at + 2]!;
    const end = registration.ranges![found.at + 3]!;
    return end <= original.length ? slice(original, start, end) : text;
  }

  /**
   * The file's original source, read once and checked against the recorded length and hash;
   * node:vm code is the text it was compiled from (keepSource), checked against the hash (its
   * recorded length is -1 under a TypeScript name, but that text is the JavaScript that runs).
   */
  private originalOf(registration: Registration): string | null {
    if (registration.text !== undefined) return registration.text;
    registration.text = null;
    const kept = keptSources.get(registration.file);
    if (kept !== undefined && hashSource(kept)[0] === registration.hash) return (registration.text = kept);
    if (registration.length < 0 || !this.readSource) return null;
    let text = this.readSource(registration.file);
    if (typeof text !== "string") return null;
    if (codeAt(text, 0) === 0xfeff) text = slice(text, 1);
    if (text.length === registration.length && hashSource(text)[0] === registration.hash) registration.text = text;
    return registration.text;
  }

  /** `fn` in the registered text tables, by its intrinsic text (cached per object). */
  private resolve(fn: object, known?: string): Resolved | null {
    const cached = reflectApply(weakMapGet, this.resolved, [fn]) as Resolved | null | undefined;
    if (cached !== undefined) return cached;
    let found: Resolved | null = null;
    try {
      found = this.locate(fn, known ?? (reflectApply(intrinsicToString, fn, []) as string));
    } catch {
      this.errors++;
    }
    reflectApply(weakMapSet, this.resolved, [fn, found]);
    return found;
  }

  private locate(fn: object, text: string): Resolved | null {
    let at = indexOf(text, BASE);
    if (at < 0) return null;
    const tag = slice(text, at + BASE.length, at + BASE.length + TAG_CHARS);
    // The smallest index of this file's markers in the text: the entries' key.
    let key = Infinity;
    while (at >= 0) {
      let i = at + BASE.length;
      if (slice(text, i, i + TAG_CHARS) === tag) {
        i += TAG_CHARS;
        while (codeAt(text, i) === 32) i++;
        if (codeAt(text, i) === 43 /* + */) {
          i++;
          while (codeAt(text, i) === 32) i++;
          let n = 0;
          const first = i;
          for (let c = codeAt(text, i); c >= 48 && c <= 57; c = codeAt(text, ++i)) n = n * 10 + (c - 48);
          if (i > first && n < key) key = n;
        }
      }
      at = indexOf(text, BASE, i);
    }
    if (key === Infinity) return null;
    const starting = this.pending.get(tag);
    if (starting) {
      // Modules of this file that have not registered yet: their own initialisers do it.
      this.pending.delete(tag);
      for (const init of starting) init();
    }
    const registrations = this.byTag.get(tag);
    if (!registrations) return null;
    // A file loaded more than once: the latest registration.
    for (let r = registrations.length - 1; r >= 0; r--) {
      const registration = registrations[r]!;
      const entries = keyIndex(registration).get(key);
      if (!entries) continue;
      const ranges = registration.ranges!;
      if (!REPRINTS) {
        for (const entry of entries) {
          if (ranges[entry + 3]! - ranges[entry + 2]! + ranges[entry + 4]! === text.length) return { registration, at: entry };
        }
        continue;
      }
      const entry = this.byName(fn, text, registration, entries);
      if (entry >= 0) return { registration, at: entry };
    }
    return null;
  }

  /**
   * Bun: the text is reprinted, so lengths say nothing. Of the nested entries sharing
   * the key, the one of the right kind (class or function) whose name fits `fn`'s own
   * name; -1 when that is not one entry.
   */
  private byName(fn: object, text: string, registration: Registration, entries: number[]): number {
    const ranges = registration.ranges!;
    const isClass = isClassText(text);
    const kind = entries.filter((entry) => (ranges[entry + 5] === 1) === isClass);
    if (kind.length <= 1) return kind.length === 1 ? kind[0]! : -1;
    const own = this.functionName(fn).replace(/^(get|set) /, "");
    let best = -1;
    let bestScore = 0;
    let ties = 0;
    for (const entry of kind) {
      const index = ranges[entry + 1]!;
      const name = String(ranges[entry + 6]! >= 0 ? registration.names[ranges[entry + 6]!] : index >= 0 ? registration.table[index * 4] : "");
      const last = name.startsWith("[") ? "" : name.slice(name.lastIndexOf(".") + 1);
      const score = last === own && own !== "" ? 2 : last === "" || last.startsWith("<") || last.startsWith("[") || name === "default" ? 1 : 0;
      if (score > bestScore) [best, bestScore, ties] = [entry, score, 1];
      else if (score === bestScore && score > 0) ties++;
    }
    return ties === 1 ? best : -1;
  }

  /**
   * The hook object. `runtime` is a parameter, not `const runtime = this`: the closures
   * below read a parameter's context slot without V8's hole check (a `const` read from a
   * closure checks for its temporal dead zone each time: bytes of the hook's bytecode,
   * which count against the inlining budget of every instrumented function that calls it).
   */
  private makeHook(runtime: FunctionRuntime): Hook {
    const fail = () => {
      runtime.errors++;
    };
    /** A generator's yield or resume, with its value's preview (token -1: not recorded). */
    const step = (kind: number, id: number, token: number, value: unknown) => {
      if (token < 0) return;
      try {
        const time = runtime.time();
        runtime.stamp(kind, 0, id, token, runtime.preview(value), 0, 0, time);
      } catch {
        fail();
      }
    };
    return {
      f(file, table, listeners, source, shiftsFile, shifts, origins) {
        if (shifts) registerShifts(shiftsFile, shifts);
        const base = runtime.nextFunctionId;
        try {
          const count = Math.floor(table.length / 4);
          runtime.nextFunctionId += count;
          runtime.grow(base + count);
          const now = runtime.now();
          // The slow path also runs the governor's decisions (admit), so with a governor it
          // comes every HOT_CHECK_CALLS calls even when the guard is off: a synchronous loop
          // is governed while it runs.
          const first = runtime.hotLimit > 0 || runtime.governor ? HOT_CHECK_CALLS : Infinity;
          for (let i = base; i < base + count; i++) {
            runtime.checkedAt[i] = now;
            runtime.nextCheck[i] = first;
            // After a stop a newly loaded file's functions start on the fast path out.
            if (runtime.stopped) runtime.hot[i] = 1;
            runtime.setNext(i, first);
          }
          const fileId = runtime.str(file);
          let tableFileId = fileId;
          let origin = 0;
          for (let i = 0; i < count; i++) {
            if (Array.isArray(origins) && origin + 1 < origins.length && Number(origins[origin]) === i) {
              tableFileId = runtime.str(String(origins[origin + 1]));
              origin += 2;
            }
            const name = runtime.str(String(table[i * 4]));
            const [line, column, flags] = [Number(table[i * 4 + 1]), Number(table[i * 4 + 2]), Number(table[i * 4 + 3])];
            runtime.put(FunctionKind.table, flags, base + i, name, tableFileId, line, column);
          }
          if (Array.isArray(listeners)) {
            for (let i = 0; i + 2 < listeners.length; i += 3) {
              const index = Number(listeners[i]);
              if (!(index >= 0 && index < count)) continue;
              runtime.put(FunctionKind.listener, 0, base + index, runtime.str(String(listeners[i + 1])), runtime.str(String(listeners[i + 2])), 0);
            }
          }
          if (Array.isArray(source) && typeof source[0] === "string" && source[0].length === TAG_CHARS && typeof source[3] === "string") {
            const names = Array.isArray(source[4]) ? ownArray(source[4] as unknown[]) : [];
            const registration: Registration = { base, file: String(file), table: ownArray(table), encoded: source[3], names, length: Number(source[1]), hash: Number(source[2]) };
            const list = runtime.byTag.get(source[0]);
            if (list) list.push(registration);
            else runtime.byTag.set(source[0], [registration]);
          }
        } catch {
          fail();
        }
        return base;
      },
      c(id) {
        // The guard's fast path: a count, a compare and, while sampled, an early return.
        const r = runtime;
        const seen = r.seen;
        const n = seen[id]! + 1;
        seen[id] = n;
        // next < 0: sampled, skipped before −next (see `seen`); else recorded before next.
        // The rest of that test in a method of its own (passed/past): bytes of this hook's bytecode.
        if (n < r.next[id]! || r.sampledIn(id)) {
          // A calls-level function_call, the most frequent event, with only the stores it
          // needs (the batch's words are zero: see flush). With packCalls, consecutive
          // calls (ordinals one apart, one request, nothing else buffered in between) share
          // a function_calls record: the first writes its kind, its ordinal, its request
          // and its id (calledAlone), each next one only its id into the next word, so a
          // call costs one store and an eighth of a ring slot; no ordinal is taken per call
          // (closePack settles it). They share the record's time, as calls of one batch
          // shared the flush's before (an upper bound: see the header). Here, not in a
          // method of its own, and written for few bytes of bytecode: V8's inlining budget
          // of the instrumented function that calls the hook is counted in bytecode (920
          // bytes, each candidate ×1.2), and what the hook takes the program's own calls
          // cannot have (BENCHMARKS.md "The calls level's hook inlined everywhere").
          // calledAlone catches what could throw (this part only stores into typed arrays).
          // A stop sets every function on the sampled fast path, so a call does not come
          // here after one (put checks anyway).
          const request = r.request();
          if (request !== r.packRequest) return r.calledAlone(id);
          const word = r.packWord;
          r.words[word] = id;
          r.packWord = word + 1;
          // Full: no call joins it any more (−2 is no request); closePack settles `ordinal`.
          if (word === r.packLast) r.packRequest = -2;
        }
      },
      C(id, args, self) {
        const n = ++runtime.seen[id]!;
        const next = runtime.next[id]!;
        if (n >= next && (n < -next || !runtime.admit(id))) return -1;
        // The next calls-level call starts a pack of its own (packs hold consecutive ordinals).
        runtime.closePack();
        const token = runtime.ordinal++;
        if (runtime.level[id]! < GovernedLevel.full) {
          // Governed down to the calls level (or sampled): the entry only, no previews, no return.
          try {
            runtime.put(FunctionKind.call, 0, id, token, 0, runtime.request());
          } catch {
            fail();
          }
          return -1;
        }
        try {
          // The time first: the previews below are the tracer's cost, not the call's.
          const time = runtime.time();
          runtime.stamp(FunctionKind.call, 0, id, token, runtime.argumentsPreview(args, slotsOf(id, 0)), runtime.request(), self === undefined ? 0 : runtime.state(self), time);
        } catch {
          fail();
        }
        return token;
      },
      r(id, token, value, self) {
        if (token < 0) return;
        try {
          const time = runtime.time();
          if (value === RETURN_UNSET) value = runtime.endValue(token, value);
          runtime.stamp(FunctionKind.return, 0, id, token, runtime.preview(value, slotsOf(id, 1)), 0, self === undefined ? 0 : runtime.state(self), time);
        } catch {
          fail();
        }
      },
      x(id, token, error, self) {
        if (token < 0) return -1;
        if (runtime.returns.size !== 0) runtime.returns.delete(token);
        try {
          const time = runtime.time();
          const [type, message] = runtime.errorFields(error);
          runtime.stamp(FunctionKind.throw, 0, id, token, type, message, self === undefined ? 0 : runtime.state(self), time);
        } catch {
          fail();
        }
        return -1;
      },
      s(id, token, value, self) {
        if (token < 0) return;
        try {
          runtime.settle(id, token, value, self);
        } catch {
          fail();
        }
      },
      X(id, token, error, self) {
        if (token < 0) return -1;
        try {
          const time = runtime.time();
          const [type, message] = runtime.errorFields(error);
          runtime.stamp(FunctionKind.settle, SETTLE_REJECTED, id, token, type, message, self === undefined ? 0 : runtime.state(self), time);
        } catch {
          fail();
        }
        return -1;
      },
      y(id, token, value) {
        step(FunctionKind.yield, id, token, value);
        return value;
      },
      n(id, token, value) {
        step(FunctionKind.resume, id, token, value);
        return value;
      },
      l(event, handler, method, id) {
        try {
          runtime.listen(event, handler, method, id);
        } catch {
          fail();
        }
        return handler;
      },
      w(id, token, value) {
        step(FunctionKind.yield, id, token, value);
        return new YieldStep(runtime, id, token, value);
      },
      u: RETURN_UNSET,
      p(tag, init, shiftsFile, shifts) {
        if (shifts) registerShifts(shiftsFile, shifts);
        if (typeof tag !== "string" || typeof init !== "function") return;
        // Code of another context (installRealm) registers at once: a context a test runner
        // drops is not kept alive by this runtime (no function or array of its realm is held).
        if (getPrototypeOf(init) !== Function.prototype) return void init();
        const list = runtime.pending.get(tag);
        if (list) list.push(init);
        else runtime.pending.set(tag, [init]);
      },
    };
  }

  /**
   * An async function's body ended with `value`: when that is a plain native promise its
   * settlement is awaited through the original Promise.prototype.then (no program code:
   * no subclass, no own `then`/`constructor`); other values settle the call at once.
   */
  private settle(id: number, token: number, value: unknown, self: unknown): void {
    const types = this.types;
    if (types && isPlainPromise(value, types)) {
      promiseThen.call(
        value,
        (result: unknown) => {
          try {
            const time = this.time();
            this.stamp(FunctionKind.settle, 0, id, token, this.preview(result), 0, self === undefined ? 0 : this.state(self), time);
          } catch {
            this.errors++;
          }
        },
        (error: unknown) => {
          try {
            const time = this.time();
            const [type, message] = this.errorFields(error);
            this.stamp(FunctionKind.settle, SETTLE_REJECTED, id, token, type, message, self === undefined ? 0 : this.state(self), time);
          } catch {
            this.errors++;
          }
        },
      );
      return;
    }
    const time = this.time();
    this.stamp(FunctionKind.settle, 0, id, token, this.preview(value), 0, self === undefined ? 0 : this.state(self), time);
  }
}

const promiseThen = Promise.prototype.then;
const PromiseConstructor = Promise;

/**
 * Where a function's call (kind 0) or return (kind 1) previews start their key places in
 * the walk (preview.ts KEY_SLOTS, masked there): 16 places each, so that functions met
 * together (a caller and its callees) find their keys by place instead of the key cache.
 */
function slotsOf(id: number, kind: number): number {
  return ((id << 1) | kind) << 4;
}

function noRequest(): number {
  return 0;
}

/**
 * The Promise constructors of other contexts (node:vm) whose code calls this runtime
 * (installRealm), by their prototype: an async function there returns its own realm's
 * promise, which the original `then` awaits as well.
 */
const realmPromises = new WeakMap<object, unknown>();

function isPlainPromise(value: unknown, types: TypeChecks): value is Promise<unknown> {
  if (value === null || typeof value !== "object" || types.isProxy(value)) return false;
  if (!(types as TypeChecks & { isPromise?(v: unknown): boolean }).isPromise?.(value)) return false;
  const proto = Object.getPrototypeOf(value) as object;
  const native = proto === Promise.prototype ? PromiseConstructor : realmPromises.get(proto);
  if (native === undefined) return false;
  if (Object.prototype.hasOwnProperty.call(value, "then") || Object.prototype.hasOwnProperty.call(value, "constructor")) return false;
  const constructor = Object.getOwnPropertyDescriptor(proto, "constructor");
  return constructor !== undefined && "value" in constructor && constructor.value === native;
}

/** `array`, or a copy of it made in this realm when another context's code made it (it would keep that context alive). */
function ownArray<T>(array: T[]): T[] {
  if (getPrototypeOf(array) === Array.prototype) return array;
  const copy: T[] = [];
  for (let i = 0; i < array.length; i++) copy.push(array[i]!);
  return copy;
}

/** A data property found on `object` or its (non-Proxy) prototypes; getters are not run. */
function dataProperty(object: object, key: string, types: TypeChecks | undefined): unknown {
  let current: object | null = object;
  for (let depth = 0; current !== null && depth < 8; depth++) {
    if (types && types.isProxy(current)) return undefined;
    const descriptor = Object.getOwnPropertyDescriptor(current, key);
    if (descriptor) return "value" in descriptor ? descriptor.value : undefined;
    current = Object.getPrototypeOf(current) as object | null;
  }
  return undefined;
}

/** Entries of a registration's text table by key, parsed from print.ts's string on first use. */
function keyIndex(registration: Registration): Map<number, number[]> {
  if (registration.byKey) return registration.byKey;
  const byKey = new Map<number, number[]>();
  const ranges: number[] = [];
  let named = 0;
  const encoded = registration.encoded;
  for (let from = 0; from < encoded.length; ) {
    let to = indexOf(encoded, ";", from);
    if (to < 0) to = encoded.length;
    const fields = reflectApply(stringSplit, slice(encoded, from, to), [","]) as string[];
    from = to + 1;
    const key = parseInteger(fields[0]!, 36);
    const start = parseInteger(fields[1]!, 36);
    const delta = fields[4];
    const isClass = fields[5] === "c";
    const index = delta === "x" ? -1 : key + (delta === undefined ? 0 : parseInteger(delta, 36));
    const at = ranges.length;
    ranges.push(key, index, start, start + parseInteger(fields[2]!, 36), parseInteger(fields[3]!, 36), isClass ? 1 : 0, isClass || index < 0 ? named++ : -1);
    const list = byKey.get(key);
    if (list) list.push(at);
    else byKey.set(key, [at]);
  }
  registration.ranges = ranges;
  registration.byKey = byKey;
  return byKey;
}

/** A class's text: `class` then a name, `extends` or the body (a method named class is `class(`). */
function isClassText(text: string): boolean {
  if (slice(text, 0, 5) !== "class") return false;
  const next = codeAt(text, 5);
  return next === 123 /* { */ || next === 32 || (next >= 9 && next <= 13);
}

function defaultReadSource(): ((file: string) => string | undefined) | undefined {
  try {
    const builtin = (process as { getBuiltinModule?: (name: string) => unknown }).getBuiltinModule;
    const fs = (typeof require === "function" ? require("node:fs") : builtin?.("node:fs")) as typeof import("node:fs") | undefined;
    const readFileSync = fs?.readFileSync;
    if (typeof readFileSync !== "function") return undefined;
    return (file) => {
      try {
        return readFileSync(file, "utf8");
      } catch {
        return undefined;
      }
    };
  } catch {
    return undefined;
  }
}

/** The runtime the patched Function.prototype.toString asks (the one installed last). */
let active: FunctionRuntime | undefined;
/** The Function.prototypes whose toString is patched (this realm's, then those installRealm met). */
const patched = new WeakSet<object>();

/**
 * Replaces a realm's Function.prototype.toString, once per realm: for an instrumented
 * function or class it returns the original source text (FunctionRuntime.sourceText), for
 * anything else exactly what the intrinsic returns. The replacement throws what the
 * intrinsic throws (it calls it first), is named `toString` with length 0, is no
 * constructor, and shows itself as `function toString() { [native code] }`; it calls the
 * realm's own intrinsic (whose TypeError is that realm's).
 */
function patchToString(prototype: object = Function.prototype, compile?: Realm["compile"]): void {
  if (patched.has(prototype)) return;
  patched.add(prototype);
  const descriptor = getOwnPropertyDescriptor(prototype, "toString");
  if (!descriptor || typeof descriptor.value !== "function" || descriptor.configurable !== true) return;
  const own = descriptor.value as () => string;
  // Only over the realm's intrinsic (its text is this one's, its name toString).
  if (prototype !== Function.prototype ? reflectApply(intrinsicToString, own, []) !== reflectApply(intrinsicToString, intrinsicToString, []) : own !== intrinsicToString) return;
  const textOf = (self: unknown, replacement: unknown): string => {
    if (self === replacement) return reflectApply(intrinsicToString, own, []) as string;
    const text = reflectApply(own, self, []) as string;
    const runtime = active;
    if (runtime === undefined) return text;
    try {
      return runtime.sourceText(self as object, text);
    } catch {
      return text;
    }
  };
  // Another realm's is made there, a function of its own Function as the intrinsic was.
  const replacement: unknown = compile
    ? compile(["textOf"], "'use strict'; var replacement = { toString() { return textOf(this, replacement); } }.toString; return replacement;")(textOf)
    : {
        toString(this: unknown): string {
          return textOf(this, replacement);
        },
      }.toString;
  if (typeof replacement !== "function") return;
  defineProperty(prototype, "toString", { configurable: true, enumerable: descriptor.enumerable, writable: descriptor.writable, value: replacement });
}

/** Installs `runtime`'s hook where instrumented code looks for it; returns the previous one. */
export function installHook(runtime: FunctionRuntime): unknown {
  const host = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(HOOK_KEY);
  const previous = host[key];
  host[key] = runtime.hook;
  active = runtime;
  patchToString();
  return previous;
}

export function uninstallHook(): void {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for(HOOK_KEY)];
  active = undefined;
}

/** node:vm code by filename, as last compiled instrumented (vm-hooks.ts): its functions' original texts. */
const keptSources = new Map<string, string>();

/** Keeps the source node:vm compiled (instrumented) under `file`: what `fn.toString()` shows of its functions is in no file. */
export function keepSource(file: string, code: string): void {
  keptSources.set(file, code);
}

/** Another realm's global and intrinsics (vm-hooks.ts takes them from a function compiled there, reading no property of its global). */
export interface Realm {
  global: object;
  /** Its %Function.prototype%. */
  functionPrototype: object;
  /** Its %Promise.prototype%. */
  promisePrototype: object;
  /** What its global's `Error` is (whose prepareStackTrace Node calls for its errors). */
  error: unknown;
  /** Compiles a function there (vm.compileFunction with its context as parsingContext). */
  compile: (params: string[], body: string) => (...args: unknown[]) => unknown;
}

/**
 * Another context (node:vm: jest's test environment), before code instrumented for it
 * runs there (vm-hooks.ts): its global reads this realm's hook through an accessor (own,
 * not enumerable: a test's `Object.keys(globalThis)` and Object.assign see nothing, and a
 * global proxy that empties the values defined on it at teardown, as jest 30's does,
 * registers none), its Function.prototype.toString shows original texts as this realm's
 * does, and its promises are awaited for their settlement. Once per global; never throws.
 */
export function installRealm(realm: Realm): boolean {
  try {
    const key = Symbol.for(HOOK_KEY);
    if (getOwnPropertyDescriptor(realm.global, key) !== undefined) return true;
    const host = globalThis as Record<symbol, unknown>;
    if (!Reflect.defineProperty(realm.global, key, { configurable: true, enumerable: false, get: () => host[key] })) return false;
    patchToString(realm.functionPrototype, realm.compile);
    const constructor = getOwnPropertyDescriptor(realm.promisePrototype, "constructor");
    if (realm.promisePrototype !== Promise.prototype && constructor && typeof constructor.value === "function") realmPromises.set(realm.promisePrototype, constructor.value);
    return true;
  } catch {
    return false;
  }
}
