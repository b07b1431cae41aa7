/**
 * Step 4 of the pipeline: the instrumented text and its source map. Appends the file's
 * hook variables and function table (after the last line: nothing above moves), the
 * marker that makes instrumentation idempotent, and an inline source map chained onto
 * the file's own input map when it has one (a `sourceMappingURL` comment, inline or a
 * readable file next to it), so positions lead to the original sources.
 */
import remapping from "@jridgewell/remapping";
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import MagicString from "magic-string";
import { Insertions, LineShifts } from "./insertions";
import { UNMAPPED_SHIFTS } from "./callsites";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { languageOf } from "./parse";
import { MAP_COMMENT_PREFIX } from "./map-comment";
import { hasOtherLineEnds, lineStarts, withNewlineEnds } from "./line-ends";
import { sparseMap } from "./sparse-map";
import { BASE, HOOK, HOOK_KEY, INIT, PENDING, TEMP, sourceInfoOf, type FunctionInfo } from "./transform";

/** Present once in every instrumented file; a file containing it is never instrumented again. */
export const MARKER = "/*scope:instrumented*/";

/**
 * The global the injected code looks up: the runtime's hook object (runtime.ts). The
 * injected code names no global but `globalThis`: a module may declare its own `Symbol`
 * (lodash's per-method packages: `var Symbol = root.Symbol`, hoisted, so undefined while
 * the module starts), so it reads `globalThis.Symbol`.
 */
export { HOOK_KEY };

/**
 * Whether a module's text names `globalThis` other than to read one of its properties: it may
 * declare its own (core-js 3.38 and later, in 45 of its internals: `var globalThis =
 * require('../internals/global-this')`, hoisted, so undefined when the module's registration
 * runs at its first line). Text, not scope: a false match (`typeof globalThis`, a string, a
 * comment) costs that module one compile of `return this` at its start, a missed declaration a crash.
 */
const NAMES_GLOBAL = /(?<![.$\w])globalThis(?![\w$]|\s*(?:\.|\[|\?\.))/;

/** The hoisted function returning the realm's global object where the module may shadow `globalThis` (a function expression in a vm script's block: vm-hooks.ts scoped). */
export const GLOBAL_OF = "__scope$g";

/**
 * The global object, reached through the realm's Function constructor (named by no identifier
 * the module could declare), once per module; where strings may not be compiled
 * (--disallow-code-generation-from-strings), `global`, else whatever `globalThis` is here.
 */
const GLOBAL_FUNCTION =
  `function ${GLOBAL_OF}(){var g;try{g=(function(){}).constructor("return this")()}catch(e){}` +
  `return g||(typeof global=="object"&&global)||globalThis}`;

/**
 * What the injected code calls when no runtime is installed: ids, and nothing recorded.
 * `l` hands the listener back; `w` is the one-step iterator a generator's `yield X`
 * delegates to (yields X, then returns what next() sent; return(v) ends with v).
 */
const noop = (global: string) =>
  "{f:function(){return 0},c:function(){},C:function(){return -1},r:function(){},x:function(){return -1}," +
  "s:function(){},X:function(){return -1},y:function(i,t,v){return v},n:function(i,t,v){return v}," +
  "l:function(e,h){return h},w:function(i,t,v){var d=0;return{next:function(s){return d++?{value:s,done:true}:{value:v,done:false}}," +
  `throw:function(e){throw e},return:function(s){d=1;return{value:s,done:true}},[${global}.Symbol.iterator]:function(){return this}}}}`;

export interface SourceMapV3 {
  version: number;
  sources: (string | null)[];
  sourcesContent?: (string | null)[];
  names: string[];
  mappings: string;
  file?: string;
  sourceRoot?: string;
}

export interface Printed {
  code: string;
  /** Absent when print was asked for no map. */
  map?: SourceMapV3;
  /** `wrap`: SCRIPT_WRAPPER's head, `code` and its tail as one flat string (`code` is a slice of it). */
  wrapped?: string;
}

/**
 * The CommonJS wrapper node-hooks.ts compiles a module in (its head on a line of its own):
 * print makes the wrapped text in the same join as the code when asked (`wrap`), so V8
 * compiles it as it is instead of flattening head + code + tail into a copy (typescript.js:
 * 11.7 MB and its fresh pages at a first start).
 */
export const SCRIPT_WRAPPER = { head: "(function (exports, require, module, __filename, __dirname) {\n", tail: "\n})" } as const;

/** The text of `edits`, followed by `after`: wrapped too when asked and the edits are insertions. */
function printedText(edits: MagicString | Insertions, after: string, wrap: boolean): Printed {
  if (!wrap || !(edits instanceof Insertions)) return { code: `${edits.toString()}${after}` };
  const { head, tail } = SCRIPT_WRAPPER;
  const wrapped = edits.toString(head, `${after}${tail}`);
  return { code: wrapped.slice(head.length, wrapped.length - tail.length), wrapped };
}

/** The name of a runner's function that runs a file's top level (print's table, node:vm code). */
const TOP_LEVEL = "<module>";

const INLINE_MAP = /^data:application\/json(?:;charset=[\w-]+)?;base64,(.*)$/i;

/**
 * Where the file's source-map comment is: the last `sourceMappingURL=` in the file, when
 * it is a `//# ` (or `//@ `) comment followed by nothing but whitespace, as V8 and the
 * tools read it; however long the inline map is.
 */
function mapComment(code: string): { url: string; start: number } | undefined {
  const name = "sourceMappingURL=";
  const at = code.lastIndexOf(name);
  if (at < 4) return undefined;
  const start = at - 4;
  if (code.charCodeAt(start) !== 47 || code.charCodeAt(start + 1) !== 47 || code.charCodeAt(start + 3) !== 32) return undefined;
  const mark = code.charCodeAt(start + 2);
  if (mark !== 35 && mark !== 64) return undefined; // '#' or '@'
  const rest = /^([^\s'"]+)\s*$/.exec(code.slice(at + name.length));
  return rest ? { url: rest[1]!, start } : undefined;
}

/** An external map's own location (its sources are relative to it), in the form `sourceName` has. */
function mapLocation(sourceName: string, url: string): string {
  const isUrl = (text: string) => /^[a-z][a-z\d+.-]+:/i.test(text);
  if (isUrl(sourceName)) return new URL(url, sourceName).href;
  if (isUrl(url)) return url.startsWith("file:") ? fileURLToPath(url) : url;
  return resolve(dirname(sourceName), url);
}

/** The input map named by a trailing `//# sourceMappingURL=` comment, and where that comment is. */
export function findInputMap(
  code: string,
  readFile?: (url: string) => string | undefined,
): { map?: SourceMapV3; url: string; start: number; end: number } | undefined {
  const found = mapComment(code);
  if (!found) return undefined;
  const { url, start } = found;
  let text: string | undefined;
  try {
    const inline = INLINE_MAP.exec(url);
    if (inline) text = Buffer.from(inline[1]!, "base64").toString("utf8");
    else if (readFile) text = readFile(url);
    return { map: text ? (JSON.parse(text) as SourceMapV3) : undefined, url, start, end: code.length };
  } catch {
    return { url, start, end: code.length };
  }
}

/**
 * The table call's fourth argument: [tag, length, hash, ranges, names] (transform.ts
 * SourceInfo). `ranges` is one string, parsed by the runtime only when it looks a
 * function up: entries joined by ";", each "key,start,length,inserted[,delta[,c]]" in
 * base 36, where delta is index - key ("x": no instrumented function; absent: 0) and
 * "c" marks a class. `names` holds, in entry order, the names of the entries without
 * an instrumented function and of classes. The length is -1 when the original text is
 * not the JavaScript that runs untraced (TypeScript, JSX): functions are still found by
 * their text, but that original is never shown (runtime.ts).
 */
function sourceTable(info: NonNullable<ReturnType<typeof sourceInfoOf>>, file: string): (string | number | string[])[] {
  const language = languageOf(file) ?? "js";
  const javascript = (language === "js" || language === "jsx") && !info.jsx;
  const entries: string[] = [];
  const names: string[] = [];
  for (const range of info.ranges) {
    // One string per entry (typescript.js: ~20,000 of them), no array of fields.
    let entry = `${base36(range.key)},${base36(range.start)},${base36(range.end - range.start)},${base36(range.inserted)}`;
    const delta = range.index < 0 ? "x" : base36(range.index - range.key);
    const isClass = range.kind === "class";
    if (isClass) entry += `,${delta},c`;
    else if (delta !== "0") entry += `,${delta}`;
    if (isClass || range.index < 0) names.push(range.name);
    entries.push(entry);
  }
  return [info.tag, javascript ? info.length : -1, info.hash, entries.join(";"), names];
}

/** 0..1295 in base 36: one digit or two, and always two (leading zero). */
let digits36: string[] | undefined;
let pairs36: string[] | undefined;

/**
 * A non-negative integer in base 36, as `n.toString(36)` writes it: from a table of two-digit
 * strings, without V8's radix conversion (a runtime call each: sourceTable makes ~90,000 on
 * typescript.js, BENCHMARKS.md).
 */
export function base36(n: number): string {
  if (digits36 === undefined || pairs36 === undefined) {
    digits36 = [];
    pairs36 = [];
    for (let i = 0; i < 1296; i++) {
      const text = i.toString(36);
      digits36.push(text);
      pairs36.push(i < 36 ? `0${text}` : text);
    }
  }
  if (n < 1296) return digits36[n]!;
  const high = Math.floor(n / 1296);
  return `${base36(high)}${pairs36[n - high * 1296]!}`;
}

/**
 * Marks where a mapped position may be asked for: the start of every run of word
 * characters and every other character but whitespace. V8 reports positions at token
 * starts (a callee, a property name, `(` of a call, `[` of an element access, `new`,
 * `throw`...), never inside a word or on whitespace, so with these marks (and
 * `hires: false`) every position a stack trace can show maps exactly, as with magic-string's
 * `hires: "boundary"`, which also maps every space and tab: a third fewer segments on
 * typical code, and a map Node decodes eagerly at every start (BENCHMARKS.md).
 */
function markTokenStarts(edits: MagicString, code: string): void {
  let inWord = false;
  for (let i = 0, n = code.length; i < n; i++) {
    const c = code.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c > 127) {
      if (!inWord) edits.addSourcemapLocation(i);
      inWord = true;
    } else {
      inWord = false;
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) edits.addSourcemapLocation(i);
    }
  }
}

/**
 * A segment at every token start of the file (markTokenStarts). magic-string counts lines
 * at "\n" only: a file with other line ends (line-ends.ts) gets its map from the same
 * edits over the code with those ends as "\n" (same offsets), so the map's lines are the
 * engine's, on both sides.
 */
function fullMap(edits: MagicString | Insertions, code: string, sourceName: string): SourceMapV3 {
  const other = hasOtherLineEnds(code);
  const text = other ? withNewlineEnds(code) : code;
  const magic = edits instanceof Insertions ? edits.toMagicString(text) : other ? replayed(edits, text) : edits;
  markTokenStarts(magic, text);
  return magic.generateMap({ source: sourceName, includeContent: false, hires: false }) as unknown as SourceMapV3;
}

interface EditChunk {
  start: number;
  end: number;
  intro: string;
  content: string;
  outro: string;
  edited: boolean;
  next: EditChunk | null;
}

/** magic-string's edits (its chunks' final texts) made again over `original`, a text of the same length. */
function replayed(edits: MagicString, original: string): MagicString {
  const internals = edits as unknown as { intro: string; outro: string; firstChunk: EditChunk | null };
  const copy = new MagicString(original);
  // Removals first: magic-string's remove empties the intros and outros inside the range, kept below as they are now.
  for (let chunk = internals.firstChunk; chunk; chunk = chunk.next) {
    if (!chunk.edited || chunk.end === chunk.start) continue;
    if (chunk.content === "") copy.remove(chunk.start, chunk.end);
    else copy.update(chunk.start, chunk.end, chunk.content);
  }
  for (let chunk = internals.firstChunk; chunk; chunk = chunk.next) {
    if (chunk.outro) copy.appendLeft(chunk.end, chunk.outro);
    if (chunk.intro) copy.appendRight(chunk.start, chunk.intro);
  }
  if (internals.intro) copy.prepend(internals.intro);
  if (internals.outro) copy.append(internals.outro);
  return copy;
}

/**
 * What the edits inserted on each line, for the stack positions the program's own tools
 * read (callsites.ts), as insertions.ts LineShifts tells them. transform.ts only inserts,
 * never on more than one line; "" when the edits did anything else (then no position is
 * moved back) or inserted nothing.
 */
export function columnShifts(edits: MagicString | Insertions, code: string): string {
  return shiftsOf(edits, code, startsOf(edits, code)) ?? "";
}

/** The code's line starts (line-ends.ts): the walk's when it made them. */
function startsOf(edits: MagicString | Insertions, code: string): number[] {
  return (edits instanceof Insertions ? edits.lineStarts : undefined) ?? lineStarts(code);
}

/** columnShifts, or undefined when the edits cannot be told as shifts (then only a map leads back). */
function shiftsOf(edits: MagicString | Insertions, code: string, starts: number[]): string | undefined {
  if (edits instanceof Insertions) return edits.lineShifts(starts);
  const shifts = new LineShifts(code, starts);
  let valid = true;
  const insert = (offset: number, text: string) => {
    if (text.indexOf("\n") >= 0) valid = false;
    shifts.add(offset, text.length);
  };
  const internals = edits as unknown as { intro: string; firstChunk: EditChunk | null };
  insert(0, internals.intro);
  for (let chunk = internals.firstChunk; chunk && valid; chunk = chunk.next) {
    insert(chunk.start, chunk.intro);
    // Removed text (the input map's comment, at the end) moves nothing before it.
    if (chunk.edited && chunk.content.length > 0) valid = false;
    insert(chunk.end, chunk.outro);
  }
  return valid ? shifts.text() : undefined;
}

/**
 * Where each function is in the original sources the input map leads to: its line and
 * column there (1-based, as the table has them), and, when that is another file than the
 * compiled one (tsc's dist/a.js → src/a.ts), `files`: [first function index, path]* runs
 * (a function the map does not cover, a compiler's helper, keeps its compiled place).
 */
function originalPlaces(functions: FunctionInfo[], file: string, inputMap: SourceMapV3, mapUrl: string): { places: ([number, number] | undefined)[]; files: (string | number)[] } {
  const places: ([number, number] | undefined)[] = [];
  const files: (string | number)[] = [];
  let traced: TraceMap;
  try {
    traced = new TraceMap(inputMap as never, mapUrl);
  } catch {
    return { places, files };
  }
  let current = file;
  for (let index = 0; index < functions.length; index++) {
    const fn = functions[index]!;
    let source = file;
    try {
      const original = originalPositionFor(traced, { line: fn.line, column: fn.column - 1 });
      if (original.source !== null && original.line !== null && original.column !== null) {
        places[index] = [original.line, original.column + 1];
        source = original.source.startsWith("file:") ? fileURLToPath(original.source) : original.source;
      }
    } catch {
      // Not covered: its compiled place.
    }
    if (source !== current) {
      files.push(index, source);
      current = source;
    }
  }
  return { places, files };
}

export function print(
  edits: MagicString | Insertions,
  code: string,
  file: string,
  functions: FunctionInfo[],
  /** The file's own map to chain ours onto; null: no source map at all. */
  inputMap?: SourceMapV3 | null,
  sourceName = file,
  /** Where the input map came from (its comment's URL): an external map's sources are relative to it. */
  inputMapUrl?: string,
  /**
   * Stack positions are restored from the column shifts for every formatter (callsites.ts,
   * MatchConfig.shiftsForStacks): no map of scope's is made when the shifts tell every
   * insertion (a map would only repeat them); a file's own map stays (ownComment).
   */
  shiftsForStacks = false,
  /**
   * With shiftsForStacks, the file's own map comment (removed from its place): kept as the
   * file's last line instead of a chained map, so Node, handed the untraced positions,
   * looks them up in the file's own map as it would untraced.
   */
  ownComment?: string,
  /** Also the text inside SCRIPT_WRAPPER (Printed.wrapped), where no map of scope's is appended. */
  wrap = false,
  /**
   * Another compiler takes the text (InstrumentOptions.handedOn): its output is what V8
   * runs, its map what Node reads. A full map (not sparse-map.ts's: a compiler composing it
   * looks up each of its tokens, also on lines where no token moved), and no shifts
   * registered: they tell columns of this text, not of the compiler's output.
   */
  handedOn = false,
  /** node:vm's lineOffset and columnOffset (first line), added to a place no input map gave: V8 counts them (vm-hooks.ts). */
  offsets?: readonly [number, number],
): Printed {
  const info = sourceInfoOf(functions);
  const location = inputMap && inputMapUrl && !INLINE_MAP.test(inputMapUrl) ? mapLocation(sourceName, inputMapUrl) : undefined;
  const origins = inputMap ? originalPlaces(functions, file, inputMap, location ?? sourceName) : undefined;
  const table: (string | number)[] = [];
  // Listeners: [index, event, method]* as a third argument, only when there are any.
  const listeners: (string | number)[] = [];
  // An index loop: entries() makes an iterator result and an [index, fn] pair per function,
  // and a first start runs this loop cold (typescript.js: ~22,000 functions).
  for (let index = 0; index < functions.length; index++) {
    const fn = functions[index]!;
    const place = origins?.places[index];
    if (place) table.push(fn.name, place[0], place[1], fn.flags);
    else if (offsets) {
      const line = fn.line + offsets[0];
      const column = fn.line === 1 ? fn.column + offsets[1] : fn.column;
      // A function of the runner's head, before the file's own first character (vite-node's
      // `async (__vi_ssr_import__, …)=>{`, told to V8 by a negative columnOffset): what runs
      // the file's top level, so named and placed as that, not at a column below 1.
      if (line < 1 || (line === 1 && column < 1)) table.push(TOP_LEVEL, 1, 1, fn.flags);
      else table.push(fn.name, line, column, fn.flags);
    }
    else table.push(fn.name, fn.line, fn.column, fn.flags);
    if (fn.listener) listeners.push(index, fn.listener.event, fn.listener.method);
  }
  const newline = code.endsWith("\n") ? "" : "\n";
  const base = BASE + (info?.tag ?? "");
  // Registered when the module starts (__scope$p), or with the table in a file without one.
  const starts = startsOf(edits, code);
  const told = shiftsOf(edits, code, starts);
  const shifts = told ?? "";
  const unmapped = shiftsForStacks && told !== undefined && (inputMap === undefined || (inputMap !== null && ownComment !== undefined));
  const registration = shifts && !handedOn ? [JSON.stringify(file), JSON.stringify(unmapped ? UNMAPPED_SHIFTS + shifts : shifts)] : [];
  // The table call: file, table, listeners, text table, shifts (file, text), origins.
  const args = [JSON.stringify(file), JSON.stringify(table), listeners.length ? JSON.stringify(listeners) : "0"];
  const files = origins && origins.files.length > 0 ? JSON.stringify(origins.files) : undefined;
  if (info || registration.length > 0 || files) args.push(info ? JSON.stringify(sourceTable(info, file)) : "0");
  if (!info && registration.length > 0) args.push(...registration);
  else if (files) args.push("0", "0");
  if (files) args.push(files);
  // Each function reads the global once, into `g`.
  const shadowable = NAMES_GLOBAL.test(code);
  const global = shadowable ? `${GLOBAL_OF}()` : "globalThis";
  const hookOf = `g[g.Symbol.for(${JSON.stringify(HOOK_KEY)})]`;
  edits.append(
    `${newline}${MARKER}var ${HOOK},${base},${TEMP};function ${INIT}(){var g=${global};${HOOK}=${hookOf}||${noop("g")};` +
      `${base}=${HOOK}.f(${args.join(",")});return ${HOOK}}` +
      (info
        ? `function ${PENDING}(){var g=${global},h=${hookOf};h&&h.p&&h.p(${JSON.stringify(info.tag)},function(){return ${HOOK}||${INIT}()}${registration.map((arg) => `,${arg}`).join("")})}`
        : "") +
      (shadowable ? GLOBAL_FUNCTION : "") +
      "\n",
  );
  if (unmapped && ownComment) return printedText(edits, `${ownComment}\n`, wrap);
  if (inputMap === null || unmapped) return printedText(edits, "", wrap);
  // Without a map to chain: segments only where a token moved (sparse-map.ts); none needed: no map.
  const sparse = inputMap || handedOn ? undefined : sparseMap(edits, code, sourceName, starts);
  if (sparse === null) return { code: edits.toString() };
  // A full map needs magic-string's own (the same calls replayed).
  let map = sparse ?? fullMap(edits, code, sourceName);
  if (inputMap) {
    // Only our map's one source has the input map. Its own sources are originals, also the
    // one Babel names after the file itself (same name, resolved): asked again, the loader
    // would hand back the same map forever.
    map = remapping(map as never, (source, context) => {
      if (context.depth !== 1 || source !== sourceName) return null;
      if (location) context.source = location;
      return inputMap as never;
    }) as unknown as SourceMapV3;
  }
  const text = edits.toString();
  const encoded = Buffer.from(JSON.stringify(map)).toString("base64");
  return { code: `${text}${MAP_COMMENT_PREFIX}data:application/json;charset=utf-8;base64,${encoded}\n`, map };
}
