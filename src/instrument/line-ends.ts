/**
 * Lines as the engines count them, the one place scope counts lines of a source. V8
 * (Script line ends) and JavaScriptCore end a line at every ECMAScript line terminator:
 * "\n", "\r\n" (one end), a lone "\r", U+2028 and U+2029, wherever it stands (in a
 * string, a template, a comment), so a stack position's line is counted that way. The
 * function table's places, the column shifts (insertions.ts LineShifts) and the source
 * maps (sparse-map.ts, print.ts) all count lines with `lineStarts`, so a position leads
 * back through them exactly as the engine gives it.
 */

/** Whether `c` (a UTF-16 code unit) is an ECMAScript line terminator: \n, \r, U+2028, U+2029. */
export function isLineTerminator(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

/**
 * A lone \r, U+2028 or U+2029 in `code`: a line end that is not "\n" or "\r\n". With
 * indexOf (~4 ms a search over 9 MB): V8's regular expression engine takes 100–300 ms for
 * `/\r(?!\n)|[\u2028\u2029]/` over typescript.js.
 */
export function hasOtherLineEnds(code: string): boolean {
  if (code.indexOf("\u2028") >= 0 || code.indexOf("\u2029") >= 0) return true;
  for (let at = code.indexOf("\r"); at >= 0; at = code.indexOf("\r", at + 1)) if (code.charCodeAt(at + 1) !== 10) return true;
  return false;
}

/**
 * The offset where each line of `code` starts, as the engine counts lines: starts[0] = 0,
 * starts[n] = just after the n-th line end ("\r\n" is one). Searched for "\n" alone unless
 * the code has other line ends (hasOtherLineEnds), which are rare: then one pass over it.
 */
export function lineStarts(code: string): number[] {
  const starts = [0];
  if (!hasOtherLineEnds(code)) {
    for (let i = code.indexOf("\n"); i >= 0; i = code.indexOf("\n", i + 1)) starts.push(i + 1);
    return starts;
  }
  for (let i = 0, n = code.length; i < n; i++) {
    const c = code.charCodeAt(i);
    if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && code.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
  }
  return starts;
}

/** Where the line holding offset `from` ends: its first line terminator at or after `from`, or the code's length. */
export function lineEndFrom(code: string, from: number): number {
  for (let i = from, n = code.length; i < n; i++) if (isLineTerminator(code.charCodeAt(i))) return i;
  return code.length;
}

/**
 * `code` with every lone \r, U+2028 and U+2029 as "\n": the same length and offsets, and the
 * same lines for a tool that counts "\n" only (magic-string's maps, print.ts).
 */
export function withNewlineEnds(code: string): string {
  return code.replace(/\r(?!\n)|[\u2028\u2029]/g, "\n");
}

/**
 * `value` as a string literal that adds no line: JSON.stringify leaves U+2028 and U+2029
 * as they are (JSON allows them), and inserted into a line they would end it.
 */
export function stringLiteral(value: string): string {
  const text = JSON.stringify(value);
  return text.indexOf("\u2028") < 0 && text.indexOf("\u2029") < 0 ? text : text.replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
