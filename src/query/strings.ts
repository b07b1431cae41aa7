/**
 * Reassembles `string` records straight from their bytes and writes each string once it
 * is whole: a = id (low 32 bits) | total length in bytes << 32, flags = fragment index,
 * bytes 32..64 = up to 32 bytes of UTF-8. A one-fragment string (most previews) is
 * taken at once, without being held; longer ones wait for their fragments (in any
 * order); at the end a string still missing fragments is written with U+FFFD for each
 * run of missing ones, as src/core/events.ts StringTable shows it. The first copy of a
 * string stands. Strings are keyed by thread number << 32 | id (string_rows.key).
 *
 * Texts are interned: each distinct text is one `texts` row, and a string (string_rows,
 * or a call's preview in call_rows) holds its text's id. Previews repeat ("1.5",
 * "[1.5,0.2]"): an integer per call instead of a text is less for SQLite to write, and a
 * one-fragment string is recognised by a hash of its bytes without decoding it (decoding
 * each preview was a fifth of the load's JavaScript; BENCHMARKS.md "scope query").
 */
import type { Database, Statement } from "bun:sqlite";
import { partialText } from "../core/events";
import { STRING_FRAGMENT_BYTES, STRING_MAX_BYTES } from "../core/layout";
import { BulkInsert } from "./bulk";

interface Assembly {
  bytes: Uint8Array;
  received: Uint8Array;
  count: number;
}

const TWO_32 = 4294967296;
const decoder = new TextDecoder("utf-8", { fatal: false });
/**
 * Distinct texts remembered for interning; past it the memory starts over (a repeat then
 * gets a new text id: the text is written twice, nothing else changes). Texts that repeat
 * come back within a few calls; a small map stays in cache where 2^20 entries of
 * never-repeated ones did not (10 M-event trace: 8.2–8.4 s with 2^20, 7.7–7.9 s with 2^16).
 */
const INTERN_MAX = 1 << 16;
/** The interning arena's bound (u32 words: 64 MiB); past it, it starts over as at INTERN_MAX. */
const ARENA_MAX_WORDS = 1 << 24;

export function stringKey(thread: number, id: number): number {
  return thread * TWO_32 + id;
}

export class StringLoader {
  /** string_rows(key, text_id): strings no call took. */
  private readonly rows: BulkInsert;
  /** texts(id, text): each distinct text once (while remembered). */
  private readonly texts: BulkInsert;
  private textCount = 0;
  /** Texts seen: hash of the bytes → where they are in `arena` ([length, text id, bytes as u32...]). */
  private readonly slots = new Map<number, number>();
  private arena = new Uint32Array(1 << 16);
  private arenaUsed = 0;
  private readonly partial = new Map<number, Assembly>();
  /**
   * Per thread number: the strings that became whole since the thread's last event, as
   * [key, text id, key, text id, ...]. A preview is written just ahead of the event naming
   * it, so the loader takes a call's argument or value preview from here into the call's
   * own row (take); what is not taken goes to string_rows at the thread's next event (release).
   */
  private readonly held: (number[] | undefined)[] = [];
  /** The multi-fragment string being gathered (key -1: none). */
  private readonly run = { key: -1, total: 0, next: 0, bytes: Buffer.from(new ArrayBuffer(STRING_MAX_BYTES)) };
  private readonly runWords = new Uint32Array(this.run.bytes.buffer, this.run.bytes.byteOffset, STRING_MAX_BYTES >> 2);
  private readonly lookup: Statement;
  private readonly textLookup: Statement;
  private readonly cache = new Map<number, string | null>();
  private dirty = false;

  constructor(db: Database) {
    this.rows = new BulkInsert(db, "string_rows", ["key", "text_id"], "OR IGNORE");
    this.texts = new BulkInsert(db, "texts", ["id", "text"]);
    this.lookup = db.prepare("SELECT x.text FROM string_rows s JOIN texts x ON x.id = s.text_id WHERE s.key = ?");
    this.textLookup = db.prepare("SELECT text FROM texts WHERE id = ?");
  }

  /**
   * Takes the string record at `offset` of `bytes` (`words`: the same batch as u32, the
   * record 64-byte aligned) for thread number `thread`. Texts are decoded by Buffer.toString
   * (utf8Slice) (U+FFFD for bad bytes, as TextDecoder), which needs no subarray per string.
   */
  add(thread: number, bytes: Buffer, words: Uint32Array, offset: number, id: number, totalBytes: number, fragment: number): void {
    if (id === 0 || totalBytes > STRING_MAX_BYTES) return;
    const key = thread * TWO_32 + id;
    if (totalBytes <= STRING_FRAGMENT_BYTES) {
      if (fragment !== 0) return;
      this.hold(thread, key, this.intern(bytes, words, offset + 32, totalBytes));
      return;
    }
    const fragments = Math.ceil(totalBytes / STRING_FRAGMENT_BYTES);
    if (fragment >= fragments) return;
    // The usual order: a string's fragments one after the other, from the first. They are
    // gathered in one reused buffer; anything else goes the general way (partial).
    const run = this.run;
    if (run.key === key && run.next === fragment && run.total === totalBytes) {
      this.copyFragment(words, offset, fragment);
      if (++run.next === fragments) {
        run.key = -1;
        this.hold(thread, key, this.intern(run.bytes, this.runWords, 0, totalBytes));
      }
      return;
    }
    if (run.key !== -1) this.abandonRun();
    if (fragment === 0 && !this.partial.has(key)) {
      run.key = key;
      run.total = totalBytes;
      run.next = 1;
      this.copyFragment(words, offset, 0);
      return;
    }
    this.addPartial(thread, bytes, offset, key, totalBytes, fragment, fragments);
  }

  /**
   * The text id of the `length` bytes at byte `start` of `bytes` (`words`: the same memory
   * as u32, `start` a multiple of 4): found by a hash of the bytes, so a text seen before
   * is not decoded again; the bytes are kept in `arena` to tell a hash collision.
   */
  private intern(bytes: Buffer, words: Uint32Array, start: number, length: number): number {
    const first = start >> 2;
    const count = (length + 3) >> 2;
    const tail = length & 3;
    // The last word holds only the string's bytes: those past its end are masked off.
    const last = count === 0 ? 0 : (words[first + count - 1]! & (tail === 0 ? 0xffffffff : (1 << (tail * 8)) - 1)) >>> 0;
    let h = length ^ 0x5bd1e995;
    for (let k = 0; k < count - 1; k++) {
      h = Math.imul(h ^ words[first + k]!, 0x9e3779b1);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ last, 0x9e3779b1);
    // A small-integer key (a Map of them is cheaper than of doubles); a collision is told by the kept bytes.
    const hash = (h ^ (h >>> 16)) & 0x3fffffff;
    const known = this.slots.get(hash);
    let arena = this.arena;
    if (known !== undefined) {
      let same = arena[known] === length && (count === 0 || arena[known + 1 + count] === last);
      for (let k = 0; same && k < count - 1; k++) same = arena[known + 2 + k] === words[first + k];
      // A different text with the same hash: a text of its own, not remembered.
      return same ? arena[known + 1]! : this.newText(bytes.toString("utf8", start, start + length));
    }
    const textId = this.newText(bytes.toString("utf8", start, start + length));
    if (this.slots.size >= INTERN_MAX || this.arenaUsed + 2 + count > ARENA_MAX_WORDS) {
      this.slots.clear();
      this.arenaUsed = 0;
    }
    const at = this.arenaUsed;
    if (at + 2 + count > arena.length) {
      const grown = new Uint32Array(Math.min(ARENA_MAX_WORDS, arena.length * 2));
      grown.set(arena);
      this.arena = arena = grown;
    }
    arena[at] = length;
    arena[at + 1] = textId;
    for (let k = 0; k < count - 1; k++) arena[at + 2 + k] = words[first + k]!;
    if (count !== 0) arena[at + 1 + count] = last;
    this.arenaUsed = at + 2 + count;
    this.slots.set(hash, at);
    return textId;
  }

  /** The text id of `text` (decoded already: a string whose fragments came out of order). */
  private internText(text: string): number {
    const bytes = Buffer.from(text, "utf8");
    const padded = Buffer.from(new ArrayBuffer((bytes.byteLength + 3) & ~3));
    bytes.copy(padded);
    return this.intern(padded, new Uint32Array(padded.buffer), 0, bytes.byteLength);
  }

  private newText(text: string): number {
    const textId = ++this.textCount;
    this.texts.buffer.push(textId, text);
    this.texts.pushed();
    this.dirty = true;
    return textId;
  }

  /** A fragment's bytes into the run's buffer, as 8 u32 (a fragment starts at a multiple of 32; the bytes past the string's end are never read: masked by intern). */
  private copyFragment(words: Uint32Array, offset: number, fragment: number): void {
    const into = this.runWords;
    const to = fragment * (STRING_FRAGMENT_BYTES >> 2);
    const from = (offset >> 2) + 8;
    for (let k = 0; k < STRING_FRAGMENT_BYTES >> 2; k++) into[to + k] = words[from + k]!;
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
      this.hold(thread, key, this.internText(decoder.decode(entry.bytes)));
    }
  }

  private hold(thread: number, key: number, textId: number): void {
    let held = this.held[thread];
    if (held === undefined) this.held[thread] = held = [];
    held.push(key, textId);
  }

  /** The text id of string `id` of thread `thread` when it is held (whole since the thread's last event), 0 if not: no longer held, so in no string_rows row. */
  take(thread: number, id: number): number {
    const held = this.held[thread];
    if (held === undefined || held.length === 0 || id === 0) return 0;
    const key = thread * TWO_32 + id;
    for (let at = 0; at < held.length; at += 2) {
      if (held[at] !== key) continue;
      const textId = held[at + 1]!;
      if (at === 0 && held.length === 2) held.length = 0;
      else held.splice(at, 2);
      return textId;
    }
    return 0;
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
    for (const [key, entry] of this.partial) this.rows.add(key, this.internText(partialText(entry)));
    this.partial.clear();
    this.rows.finalize();
    this.texts.finalize();
    this.slots.clear();
    this.dirty = false;
  }

  /** Frees the lookup statements (a database with a statement left open is not closed). */
  close(): void {
    this.lookup.finalize();
    this.textLookup.finalize();
  }

  private flush(): void {
    if (!this.dirty) return;
    this.texts.flush();
    this.rows.flush();
    this.dirty = false;
  }

  /** The text of string `id` of thread number `thread` (0 or unknown: null). */
  text(thread: number, id: number): string | null {
    if (id === 0) return null;
    const key = thread * TWO_32 + id;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const held = this.held[thread];
    if (held !== undefined) {
      for (let at = 0; at < held.length; at += 2) {
        if (held[at] !== key) continue;
        this.flush();
        return (this.textLookup.get(held[at + 1]!) as { text: string } | null)?.text ?? null;
      }
    }
    this.flush();
    const row = this.lookup.get(key) as { text: string } | null;
    const text = row ? row.text : null;
    if (row || (this.partial.size === 0 && this.run.key === -1)) this.cache.set(key, text);
    return text;
  }
}
