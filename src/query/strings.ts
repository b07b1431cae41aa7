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
import { STRING_FRAGMENT_BYTES, STRING_MAX_BYTES } from "../core/layout";
import { BulkInsert } from "./bulk";

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
  private readonly lookup: Statement;
  private readonly cache = new Map<number, string | null>();
  private dirty = false;

  constructor(db: Database) {
    this.rows = new BulkInsert(db, "string_rows", ["key", "text"], "OR IGNORE");
    this.lookup = db.prepare("SELECT text FROM string_rows WHERE key = ?");
  }

  /** Takes the string record at `offset` of `bytes` for thread number `thread`. */
  add(thread: number, bytes: Uint8Array, offset: number, id: number, totalBytes: number, fragment: number): void {
    if (id === 0 || totalBytes > STRING_MAX_BYTES) return;
    const key = thread * TWO_32 + id;
    this.dirty = true;
    if (totalBytes <= STRING_FRAGMENT_BYTES) {
      if (fragment !== 0) return;
      const values = this.rows.buffer;
      values.push(key, decoder.decode(bytes.subarray(offset + 32, offset + 32 + totalBytes)));
      this.rows.pushed();
      return;
    }
    const fragments = Math.ceil(totalBytes / STRING_FRAGMENT_BYTES);
    if (fragment >= fragments) return;
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
      this.rows.add(key, decoder.decode(entry.bytes));
    }
  }

  /** Writes what waits, incomplete strings included (after the last record). */
  finish(): void {
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
    if (this.dirty) {
      this.rows.flush();
      this.dirty = false;
    }
    const row = this.lookup.get(key) as { text: string } | null;
    const text = row ? row.text : null;
    if (row || this.partial.size === 0) this.cache.set(key, text);
    return text;
  }
}

function partialText(entry: Assembly): string {
  let text = "";
  let index = 0;
  const count = entry.received.byteLength;
  while (index < count) {
    const received = entry.received[index] === 1;
    let end = index;
    while (end < count && (entry.received[end] === 1) === received) end++;
    text += received ? decoder.decode(entry.bytes.subarray(index * STRING_FRAGMENT_BYTES, end * STRING_FRAGMENT_BYTES)) : "\uFFFD";
    index = end;
  }
  return text;
}
