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
interface Shift {
  from: number;
  delta: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function vlq(value: number): string {
  let rest = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = "";
  do {
    let digit = rest & 31;
    rest >>>= 5;
    if (rest > 0) digit |= 32;
    out += BASE64[digit];
  } while (rest > 0);
  return out;
}

function isWordCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c > 127;
}

function isBlankCode(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * A lone \r, U+2028 or U+2029 in `code`. With indexOf: V8's regular expression engine
 * takes 100–300 ms for `/\r(?!\n)|[\u2028\u2029]/` over typescript.js (9 MB).
 */
export function hasOtherLineEnds(code: string): boolean {
  if (code.indexOf("\u2028") >= 0 || code.indexOf("\u2029") >= 0) return true;
  for (let at = code.indexOf("\r"); at >= 0; at = code.indexOf("\r", at + 1)) if (code.charCodeAt(at + 1) !== 10) return true;
  return false;
}

/**
 * The sparse map of `edits` over `code`, named `source`; null when no token moved (no map
 * is needed); undefined when the edits are not plain insertions on one line (a line break
 * inserted or removed inside the program, an overwrite) or the code has line terminators
 * other than \n and \r\n: then the caller makes the full map.
 */
export function sparseMap(edits: MagicString, code: string, source: string): SourceMapV3 | null | undefined {
  if (hasOtherLineEnds(code)) return undefined;
  const shifts: Shift[] = [];
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
      if (chunk.content !== "" || (chunk.end < code.length && chunk.original.includes("\n"))) return undefined;
      shifts.push({ from: chunk.end, delta: chunk.start - chunk.end });
    }
    if (!insert(chunk.end, chunk.outro)) return undefined;
  }
  // Lines where a shift moves a token that follows it on the same line.
  let lineStart = 0;
  let line = 0;
  let previousOriginalLine = 0;
  let previousOriginalColumn = 0;
  let mapped = false;
  let lastMappedLine = -2;
  const lines: string[] = [];
  let s = 0;
  while (s < shifts.length) {
    const from = shifts[s]!.from;
    if (from >= code.length) break;
    // The line holding `from`.
    while (true) {
      const next = code.indexOf("\n", lineStart);
      if (next < 0 || next >= from) break;
      lineStart = next + 1;
      line++;
    }
    let lineEnd = code.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = code.length;
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
    const segments: string[] = [];
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
      segments.push(vlq(generated - previousColumn) + "A" + vlq(line - previousOriginalLine) + vlq(column - previousOriginalColumn));
      previousColumn = generated;
      previousOriginalLine = line;
      previousOriginalColumn = column;
    }
    if (segments.length === 0) continue;
    // Lines since the last mapped one: empty, except an unmapped segment right after it.
    if (lastMappedLine >= 0 && line > lastMappedLine + 1) lines.push("A");
    while (lines.length < line) lines.push("");
    lines.push(segments.join(","));
    lastMappedLine = line;
    mapped = true;
  }
  if (!mapped) return null;
  // The line after the last mapped one (the appended table, at least), and a ";" after it:
  // Node 20's parser reads a one-field segment at the very end of `mappings` as four fields.
  lines.push("A", "");
  return { version: 3, sources: [source], names: [], mappings: lines.join(";") };
}
