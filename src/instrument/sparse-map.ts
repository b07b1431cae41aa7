/**
 * The source map of an instrumented file that has no map of its own: segments only on
 * the lines where an insertion moved a token, none elsewhere.
 *
 * The transform adds no line inside the program, so a position on a line without an
 * insertion before its last token is its original position: no mapping is needed
 * there. Node's lookup (SourceMap.findEntry) returns the nearest segment at or before
 * the position, even one on an earlier line, so a line after a mapped one starts with
 * a one-field segment (a generated column and no source): Node then prints V8's own
 * frame, as untraced. A line with an insertion gets a segment at every token start
 * (word starts and every other non-blank character: where V8 reports positions), since
 * Node takes the segment's original column as it is, without adding the distance.
 *
 * Why: Node decodes a file's map and measures every line of the file when it compiles
 * it (source_map_cache.js), at every start. A full map of typescript.js is 13 MB; this
 * one is a few hundred KB at the calls level, and files whose insertions all end their
 * line (a multi-line function's `{`) need none (BENCHMARKS.md, "Start-up").
 */
import type MagicString from "magic-string";
import { Insertions } from "./insertions";
import { lineEndFrom, lineStarts } from "./line-ends";
import type { SourceMapV3 } from "./print";

/** magic-string's chunk: an original range, its replacement and the text around it. */
interface Chunk {
  start: number;
  end: number;
  intro: string;
  outro: string;
  content: string;
  original: string;
  edited: boolean;
  next: Chunk | null;
}

/** A shift of `delta` columns for every original character at or after `from` on its line. */
export interface Shift {
  from: number;
  delta: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function isWordCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c > 127;
}

function isBlankCode(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * The sparse map of `edits` over `code`, named `source`; null when no token moved (no map
 * is needed); undefined when the edits are not plain insertions on one line (a line break
 * inserted or removed inside the program, an overwrite): then the caller makes the full
 * map. Lines are the engine's (`starts`: line-ends.ts lineStarts of `code`), on both sides:
 * no line is added.
 */
export function sparseMap(edits: MagicString | Insertions, code: string, source: string, starts: number[] = lineStarts(code)): SourceMapV3 | null | undefined {
  const shifts: Shift[] = [];
  if (edits instanceof Insertions) {
    const groups = edits.groups();
    // A removal to the end (the input map's comment), per chunk as magic-string holds it: a
    // chunk's removal shift comes before what ends at its end, as in the chunk walk below.
    const bounds = groups.removed ?? [];
    let b = 1;
    const removalsUpTo = (limit: number): boolean => {
      for (; b < bounds.length && bounds[b]! <= limit; b++) {
        const [start, end] = [bounds[b - 1]!, bounds[b]!];
        if (end < code.length && lineEndFrom(code, start) < end) return false;
        shifts.push({ from: end, delta: start - end });
      }
      return true;
    };
    for (let g = 0; g < groups.at.length; g++) {
      const at = groups.at[g]!;
      const text = groups.text[g]!;
      if (!removalsUpTo(at)) return undefined;
      if (text.length === 0) continue;
      if (at < code.length && text.includes("\n")) return undefined;
      shifts.push({ from: at, delta: text.length });
    }
    if (!removalsUpTo(Number.POSITIVE_INFINITY)) return undefined;
    const mappings = mappingsOf(code, shifts, starts);
    return mappings === null ? null : { version: 3, sources: [source], names: [], mappings };
  }
  const whole = edits as unknown as { intro: string; firstChunk: Chunk };
  const insert = (at: number, text: string): boolean => {
    if (text.length === 0) return true;
    if (at < code.length && text.includes("\n")) return false;
    shifts.push({ from: at, delta: text.length });
    return true;
  };
  if (!insert(0, whole.intro)) return undefined;
  for (let chunk: Chunk | null = whole.firstChunk; chunk; chunk = chunk.next) {
    if (!insert(chunk.start, chunk.intro)) return undefined;
    if (chunk.edited && chunk.content !== chunk.original) {
      // Only removals to the end of a line (the input map comment at the end of the file).
      if (chunk.content !== "" || (chunk.end < code.length && lineEndFrom(code, chunk.start) < chunk.end)) return undefined;
      shifts.push({ from: chunk.end, delta: chunk.start - chunk.end });
    }
    if (!insert(chunk.end, chunk.outro)) return undefined;
  }
  const mappings = mappingsOf(code, shifts, starts);
  return mappings === null ? null : { version: 3, sources: [source], names: [], mappings };
}

/** Bytes of a string being built (ASCII only), grown as needed: no string per segment. */
class Bytes {
  data = new Uint8Array(1 << 16);
  length = 0;
  reserve(more: number): void {
    if (this.length + more <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.length + more) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }
  byte(c: number): void {
    this.reserve(1);
    this.data[this.length++] = c;
  }
  vlq(value: number): void {
    this.reserve(7);
    let rest = value < 0 ? (-value << 1) | 1 : value << 1;
    do {
      let digit = rest & 31;
      rest >>>= 5;
      if (rest > 0) digit |= 32;
      this.data[this.length++] = BASE64_CODES[digit]!;
    } while (rest > 0);
  }
  text(): string {
    let out = "";
    // fromCharCode over slices: the bytes are ASCII.
    for (let at = 0; at < this.length; at += 8192) out += String.fromCharCode.apply(null, this.data.subarray(at, Math.min(this.length, at + 8192)) as unknown as number[]);
    return out;
  }
}

const BASE64_CODES = Uint8Array.from(BASE64, (c) => c.charCodeAt(0));
const SEMICOLON = 59;
const COMMA = 44;
const A = 65;

/**
 * The `mappings` of the sparse map for `shifts` (sorted by position), or null when no
 * token moves: lines where a shift moves a token that follows it on the same line get a
 * segment at every token start; the line after a mapped one starts with a one-field
 * segment ("A") unless it is mapped too. `starts`: the code's line starts (line-ends.ts).
 */
export function mappingsOf(code: string, shifts: Shift[], starts: number[]): string | null {
  let line = 0;
  let previousOriginalLine = 0;
  let previousOriginalColumn = 0;
  let mapped = false;
  let lastMappedLine = -2;
  // `lines` entries so far, joined by ";" as they are written.
  let entries = 0;
  const out = new Bytes();
  const segments = new Bytes();
  const entry = (write: () => void) => {
    if (entries > 0) out.byte(SEMICOLON);
    write();
    entries++;
  };
  let s = 0;
  while (s < shifts.length) {
    const from = shifts[s]!.from;
    if (from >= code.length) break;
    // The line holding `from` (0-based; an offset at a line end is on the line it ends),
    // and where its line end is (the "\n" of "\r\n").
    while (line + 1 < starts.length && starts[line + 1]! - 1 < from) line++;
    const lineStart = starts[line]!;
    const lineEnd = line + 1 < starts.length ? starts[line + 1]! - 1 : code.length;
    // This line's shifts.
    const first = s;
    while (s < shifts.length && shifts[s]!.from <= lineEnd && shifts[s]!.from < code.length) s++;
    let moves = false;
    for (let k = first; k < s && !moves; k++) {
      for (let i = shifts[k]!.from; i < lineEnd; i++) {
        if (!isBlankCode(code.charCodeAt(i))) {
          moves = true;
          break;
        }
      }
    }
    if (!moves) continue;
    // A segment at every token start of the line.
    segments.length = 0;
    let count = 0;
    let previousColumn = 0;
    let delta = 0;
    let k = first;
    let inWord = false;
    for (let i = lineStart; i < lineEnd; i++) {
      while (k < s && shifts[k]!.from <= i) delta += shifts[k++]!.delta;
      const c = code.charCodeAt(i);
      let starts = false;
      if (isWordCode(c)) {
        starts = !inWord;
        inWord = true;
      } else {
        inWord = false;
        starts = !isBlankCode(c);
      }
      if (!starts) continue;
      const column = i - lineStart;
      const generated = column + delta;
      if (count++ > 0) segments.byte(COMMA);
      segments.vlq(generated - previousColumn);
      segments.byte(A);
      segments.vlq(line - previousOriginalLine);
      segments.vlq(column - previousOriginalColumn);
      previousColumn = generated;
      previousOriginalLine = line;
      previousOriginalColumn = column;
    }
    if (count === 0) continue;
    // Lines since the last mapped one: empty, except an unmapped segment right after it.
    if (lastMappedLine >= 0 && line > lastMappedLine + 1) entry(() => out.byte(A));
    while (entries < line) entry(() => {});
    entry(() => {
      out.reserve(segments.length);
      out.data.set(segments.data.subarray(0, segments.length), out.length);
      out.length += segments.length;
    });
    lastMappedLine = line;
    mapped = true;
  }
  if (!mapped) return null;
  // The line after the last mapped one (the appended table, at least), and a ";" after it:
  // Node 20's parser reads a one-field segment at the very end of `mappings` as four fields.
  entry(() => out.byte(A));
  entry(() => {});
  return out.text();
}
