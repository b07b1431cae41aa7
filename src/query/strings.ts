/**
 * Reassembles `string` records straight from their bytes and writes each string once it
 * is whole: a = id (low 32 bits) | total length in bytes << 32, flags = fragment index,
 * bytes 32..64 = up to 32 bytes of UTF-8. A one-fragment string (most previews) is
 * written at once, without being held; longer ones wait for their fragments (in any
 * order); at the end a string still missing fragments is written with U+FFFD for each
 * run of missing ones, as src/core/events.ts StringTable shows it. The first copy of a
 * string stands. Strings are keyed by thread number << 32 | id (string_rows.key), one
 * integer: a row of two values is the cheapest to write (BENCHMARKS.md "scope query").
 */
import type { Database, Statement } from "bun:sqlite";
import { partialText } from "../core/events";
import { STRING_FRAGMENT_BYTES, STRING_MAX_BYTES } from "../core/layout";
import { BulkInsert, type SqlValue } from "./bulk";

interface Assembly {
  bytes: Uint8Array;
  received: Uint8Array;
  count: number;
}

const TWO_32 = 4294967296;
const decoder = new TextDecoder("utf-8", { fatal: false });

export function stringKey(thread: number, id: number): number {
  return thread * TWO_32 + id;
}

export class StringLoader {
  private readonly rows: BulkInsert;
  private readonly partial = new Map<number, Assembly>();
  /**
   * Per thread number: the strings that became whole since the thread's last event, as
   * [key, text, key, text, ...]. A preview is written just ahead of the event naming it,
   * so the loader takes a call's argument or value preview from here into the call's own
   * row (take); what is not taken goes to string_rows at the thread's next event (release).
   */
  private readonly held: (SqlValue[] | undefined)[] = [];
  /** The multi-fragment string being gathered (key -1: none). */
  private readonly run = { key: -1, total: 0, next: 0, bytes: Buffer.alloc(STRING_MAX_BYTES) };
  private readonly lookup: Statement;
  private readonly cache = new Map<number, string | null>();
  private dirty = false;

  constructor(db: Database) {
    this.rows = new BulkInsert(db, "string_rows", ["key", "text"], "OR IGNORE");
    this.lookup = db.prepare("SELECT text FROM string_rows WHERE key = ?");
  }

  /**
   * Takes the string record at `offset` of `bytes` for thread number `thread`. Texts are
   * decoded by Buffer.toString (utf8Slice) (U+FFFD for bad bytes, as TextDecoder), which needs no
   * subarray per string: allocations per string were a third of the load's time.
   */
  add(thread: number, bytes: Buffer, offset: number, id: number, totalBytes: number, fragment: number): void {
    if (id === 0 || totalBytes > STRING_MAX_BYTES) return;
    const key = thread * TWO_32 + id;
    this.dirty = true;
    if (totalBytes <= STRING_FRAGMENT_BYTES) {
      if (fragment !== 0) return;
      this.hold(thread, key, bytes.toString("utf8", offset + 32, offset + 32 + totalBytes));
      return;
    }
    const fragments = Math.ceil(totalBytes / STRING_FRAGMENT_BYTES);
    if (fragment >= fragments) return;
    // The usual order: a string's fragments one after the other, from the first. They are
    // gathered in one reused buffer; anything else goes the general way (partial).
    const run = this.run;
    if (run.key === key && run.next === fragment && run.total === totalBytes) {
      this.copyFragment(run.bytes, bytes, offset, fragment, totalBytes);
      if (++run.next === fragments) {
        run.key = -1;
        this.hold(thread, key, run.bytes.toString("utf8", 0, totalBytes));
      }
      return;
    }
    if (run.key !== -1) this.abandonRun();
    if (fragment === 0 && !this.partial.has(key)) {
      run.key = key;
      run.total = totalBytes;
      run.next = 1;
      this.copyFragment(run.bytes, bytes, offset, 0, totalBytes);
      return;
    }
    this.addPartial(thread, bytes, offset, key, totalBytes, fragment, fragments);
  }

  private copyFragment(into: Buffer, bytes: Buffer, offset: number, fragment: number, totalBytes: number): void {
    const start = fragment * STRING_FRAGMENT_BYTES;
    const end = Math.min(STRING_FRAGMENT_BYTES, totalBytes - start);
    for (let i = 0; i < end; i++) into[start + i] = bytes[offset + 32 + i]!;
  }

  /** The fragments gathered in `run` become a partial entry (another record came between them). */
  private abandonRun(): void {
    const run = this.run;
    const fragments = Math.ceil(run.total / STRING_FRAGMENT_BYTES);
    const entry: Assembly = { bytes: new Uint8Array(run.total), received: new Uint8Array(fragments), count: run.next };
    entry.bytes.set(run.bytes.subarray(0, run.total));
    entry.received.fill(1, 0, run.next);
    this.partial.set(run.key, entry);
    run.key = -1;
  }

  private addPartial(thread: number, bytes: Uint8Array, offset: number, key: number, totalBytes: number, fragment: number, fragments: number): void {
    let entry = this.partial.get(key);
    if (entry && entry.bytes.byteLength !== totalBytes) entry = undefined;
    if (!entry) {
      entry = { bytes: new Uint8Array(totalBytes), received: new Uint8Array(fragments), count: 0 };
      this.partial.set(key, entry);
    }
    if (entry.received[fragment]) return;
    const start = fragment * STRING_FRAGMENT_BYTES;
    entry.bytes.set(bytes.subarray(offset + 32, offset + 32 + Math.min(STRING_FRAGMENT_BYTES, totalBytes - start)), start);
    entry.received[fragment] = 1;
    if (++entry.count === fragments) {
      this.partial.delete(key);
      this.hold(thread, key, decoder.decode(entry.bytes));
    }
  }

  private hold(thread: number, key: number, text: string): void {
    let held = this.held[thread];
    if (held === undefined) this.held[thread] = held = [];
    held.push(key, text);
  }

  /** The text of string `id` of thread `thread` when it is held (whole since the thread's last event): no longer held, so in no string_rows row. */
  take(thread: number, id: number): string | null {
    const held = this.held[thread];
    if (held === undefined || held.length === 0 || id === 0) return null;
    const key = thread * TWO_32 + id;
    for (let at = 0; at < held.length; at += 2) {
      if (held[at] !== key) continue;
      const text = held[at + 1] as string;
      held.splice(at, 2);
      return text;
    }
    return null;
  }

  /** After an event of thread `thread`: the strings it did not take are written. */
  release(thread: number): void {
    const held = this.held[thread];
    if (held === undefined || held.length === 0) return;
    const values = this.rows.buffer;
    for (let at = 0; at < held.length; at += 2) {
      values.push(held[at]!, held[at + 1]!);
      this.rows.pushed();
    }
    held.length = 0;
    this.dirty = true;
  }

  /** Writes what waits, incomplete strings included (after the last record). */
  finish(): void {
    if (this.run.key !== -1) this.abandonRun();
    for (let thread = 0; thread < this.held.length; thread++) this.release(thread);
    for (const [key, entry] of this.partial) this.rows.add(key, partialText(entry));
    this.partial.clear();
    this.rows.finalize();
    this.dirty = false;
  }

  /** Frees the lookup statement (a database with a statement left open is not closed). */
  close(): void {
    this.lookup.finalize();
  }

  /** The text of string `id` of thread number `thread` (0 or unknown: null). */
  text(thread: number, id: number): string | null {
    if (id === 0) return null;
    const key = thread * TWO_32 + id;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const held = this.held[thread];
    if (held !== undefined) {
      const at = held.indexOf(key);
      if (at >= 0 && at % 2 === 0) return held[at + 1] as string;
    }
    if (this.dirty) {
      this.rows.flush();
      this.dirty = false;
    }
    const row = this.lookup.get(key) as { text: string } | null;
    const text = row ? row.text : null;
    if (row || (this.partial.size === 0 && this.run.key === -1)) this.cache.set(key, text);
    return text;
  }
}
