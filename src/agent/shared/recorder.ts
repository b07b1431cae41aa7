/**
 * Records events through a Sink: allocates string ids, counts what could not be
 * written, and catches every error of the agent's own so it never reaches the program.
 */
import { Kind } from "./kinds";
import { fragmentsOf, putU64, RECORD_WORDS, writePreviewString } from "./batch";
import type { Groups, Sink } from "./sink";

const MAX_INTERNED = 4096;
const MAX_STRING_CHARS = 1024;
const MAX_REPORTED_ERRORS = 16;
/** The most fragments one batched preview may take (4096 characters, 3 bytes each at most). */
const MAX_BATCH_FRAGMENTS = fragmentsOf(3 * 4096 + 3);

export class Recorder {
  errors = 0;
  unrecorded = 0;
  private nextId = 1;
  private readonly interned = new Map<string, number>();
  private readonly pair: Sink["recordString"];
  private readonly batch: Sink["recordBatch"];
  /** Fragments and the event of one eventWithPreviewBytes, as 64-byte records. */
  private readonly batchWords = new Uint32Array((MAX_BATCH_FRAGMENTS + 1) * RECORD_WORDS);
  private readonly batchBytes = new Uint8Array(this.batchWords.buffer);

  constructor(
    private readonly sink: Sink,
    readonly groups: Groups,
  ) {
    this.pair = typeof sink.recordString === "function" ? sink.recordString.bind(sink) : undefined;
    this.batch = typeof sink.recordBatch === "function" ? sink.recordBatch.bind(sink) : undefined;
  }

  /** Whether eventWithPreviewBytes can write (the sink takes record batches). */
  get batches(): boolean {
    return this.batch !== undefined;
  }

  /**
   * An event whose field e is a fresh string id for the first `length` bytes of
   * previewBytes() (preview.ts's last walk): the string's fragments and the event
   * go out as one batch of records, in one native call, with no JavaScript string made or
   * converted. Only when `batches`; `length` at most 4096.
   */
  eventWithPreviewBytes(kind: number, a: number, b: number, c: number, d: number, length: number, flags = 0): void {
    try {
      const id = this.nextId++;
      const words = this.batchWords;
      // The buffer only ever holds records of this layout, so only the fields set here change.
      const fragments = writePreviewString(words, this.batchBytes, 0, id, length);
      const base = fragments * RECORD_WORDS;
      // Words: 1 kind | flags << 16, 6-7 a, 8-9 b, 10-11 c, 12-13 d, 14-15 e (u64 as low, high).
      words[base + 1] = kind | (flags << 16);
      putU64(words, base + 6, a);
      putU64(words, base + 8, b);
      putU64(words, base + 10, c);
      putU64(words, base + 12, d);
      words[base + 14] = id;
      words[base + 15] = 0;
      const count = fragments + 1;
      const written = this.batch!(words, count);
      if (written !== count) this.unrecorded += count - (written | 0);
    } catch (error) {
      this.fail(error);
    }
  }

  /** The start marker of this process or thread; `runtime` as "node v20.20.2". */
  traceStart(runtime: string, main: boolean): void {
    this.event(
      Kind.trace_start,
      main ? process.ppid : process.pid,
      this.str(process.argv.join(" ")),
      this.str(runtime),
      this.str(process.cwd()),
      main ? 1 : 0,
    );
  }

  event(kind: number, a = 0, b = 0, c = 0, d = 0, e = 0, flags = 0): void {
    try {
      if (!this.sink.record(kind, flags, a, b, c, d, e)) this.unrecorded++;
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * An event whose field e is a fresh (not interned) string id for `text`, such as a message
   * preview: one native call when the sink has `recordString`, else `str` then `event`.
   * `text` must be at most MAX_STRING_CHARS long (it is not clipped here).
   */
  eventWithString(kind: number, a: number, b: number, c: number, d: number, text: string, flags = 0): void {
    const pair = this.pair;
    if (pair === undefined || text.length > MAX_STRING_CHARS) {
      this.event(kind, a, b, c, d, this.str(text, false), flags);
      return;
    }
    try {
      const written = pair(kind, flags, a, b, c, d, this.nextId++, text);
      if (written !== 2) this.unrecorded += 2 - (written | 0);
    } catch (error) {
      this.fail(error);
    }
  }

  /** A string id for `text` (0 for none); short repeated strings are written once. */
  str(text: string | undefined | null, intern = true): number {
    if (text === undefined || text === null) return 0;
    try {
      const clipped = text.length > MAX_STRING_CHARS ? `${text.slice(0, MAX_STRING_CHARS - 1)}…` : text;
      const known = intern ? this.interned.get(clipped) : undefined;
      if (known !== undefined) return known;
      const id = this.nextId++;
      if (!this.sink.string(id, clipped)) this.unrecorded++;
      if (intern && this.interned.size < MAX_INTERNED) this.interned.set(clipped, id);
      return id;
    } catch (error) {
      this.fail(error);
      return 0;
    }
  }

  /**
   * A fresh string id whose `string` records the caller writes itself (function tracing
   * writes previews into its record batch: runtime.ts), so ids stay unique per thread.
   */
  reserveId(): number {
    return this.nextId++;
  }

  /** Counts an error of the agent's own; the first few are recorded with their message. */
  fail(error: unknown): void {
    this.errors++;
    if (this.errors > MAX_REPORTED_ERRORS) return;
    try {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(typeof error);
      const id = this.nextId++;
      this.sink.string(id, message.slice(0, MAX_STRING_CHARS));
      this.sink.record(Kind.agent_error, 0, id, 0, 0, 0, 0);
    } catch {
      // Nothing more can be done without risking the program.
    }
  }

  /** Runs `fn`, counting instead of throwing. */
  safe(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.fail(error);
    }
  }
}

