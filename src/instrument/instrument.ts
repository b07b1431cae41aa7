/**
 * The pipeline: parse → match → transform → print. One call per file; the hooks
 * (node-hooks.ts, bun-plugin.ts) and the ahead-of-time writer (aot.ts) all go through it.
 */
import MagicString from "magic-string";
import { Matcher, type Level, type MatchConfig } from "./match";
import { parseProgram } from "./oxc-raw";
import { languageOf, parse } from "./parse";
import { HOOK_KEY, MARKER, findInputMap, print, type Printed, type SourceMapV3 } from "./print";
import { sourceInfoOf, transform, type FunctionInfo } from "./transform";
import { Insertions } from "./insertions";
import { transformRaw, type RawProgram } from "./transform-raw";

export interface InstrumentOptions {
  /** Which functions, at which level; `matcher` wins when both are given. */
  config?: MatchConfig;
  matcher?: Matcher;
  /** true: ESM; false: CommonJS or script; undefined: try ESM, then script. */
  module?: boolean;
  /** Reads a source map named by a relative `sourceMappingURL` (to chain it). */
  readFile?: (url: string) => string | undefined;
  /** The name the source map gives the original (e.g. the module's file: URL); default `file`. */
  sourceName?: string;
  /** Append an inline source map (default: the matcher's `sourceMaps` setting, true). */
  sourceMap?: boolean;
  /** The SHA-256 of `code` (transform.ts sourceDigest) when the caller has it: not hashed again. */
  sourceDigest?: Uint8Array;
  /** Also the code inside print.ts SCRIPT_WRAPPER (`wrapped`), where print can make it in the same join. */
  wrap?: boolean;
  /**
   * The code goes on to another compiler (a TypeScript loader's, esm-loader.ts), whose output
   * V8 runs: a full inline map of scope's edit for it to compose into its own, and no column
   * shifts, which would be told for columns the compiler's output does not have (print.ts);
   * also under `sourceMaps: false` (no other way back to the untraced columns). Ignored when
   * the code already carries a map comment (a compiler's output: what V8 runs).
   */
  handedOn?: boolean;
  /** The name whose extension chooses the parser, when not `file`'s (node:vm code is JavaScript whatever its filename, vm-hooks.ts). */
  parseAs?: string;
  /**
   * The input map, given by the caller (node:vm code, vm-hooks.ts: its own map comment is
   * not its last line): chained into the table's places, the code's own comment left where it is.
   */
  inputMap?: SourceMapV3;
  /** node:vm's lineOffset and columnOffset: the table's places count them where no map gives one (print.ts). */
  offsets?: readonly [number, number];
}

export type Instrumented =
  /** `dynamicImport`: the code has an `import()` expression or a direct eval. */
  /** `wrapped`: the code inside SCRIPT_WRAPPER, when asked (`wrap`) and made (`code` is then a slice of it). */
  | { status: "instrumented"; code: string; map?: SourceMapV3; functions: FunctionInfo[]; filtered?: string[]; dynamicImport?: boolean; wrapped?: string }
  /** Not matched, already instrumented, or no function in it: `code` is the input. */
  | { status: "unchanged"; code: string; reason: string; filtered?: string[] }
  /** The parser refused it: `code` is the input; `reason` is the one warning line. */
  | { status: "failed"; code: string; reason: string; unavailable?: true };

/** Names kept per file for the selection report. */
const FILTERED_NAMES_MAX = 1024;

/** Files this thread transformed (parsed and walked): the functions agent's code cache is rewritten once after the first (src/agent/node/functions-agent.ts). */
let transformedFiles = 0;

/** How many files this thread has transformed so far. */
export function transformedCount(): number {
  return transformedFiles;
}

export function instrument(code: string, file: string, options: InstrumentOptions = {}): Instrumented {
  const matcher = options.matcher ?? new Matcher(options.config);
  if (!matcher.file(file)) return { status: "unchanged", code, reason: "not matched" };
  if (isInstrumented(code)) return { status: "unchanged", code, reason: "already instrumented" };
  // Node: plain JavaScript is walked in oxc's buffer (transform-raw.ts); anything else, or a
  // file oxc reports errors for, takes the ESTree path (parse.ts), whose messages users see.
  const parseAs = options.parseAs ?? file;
  const raw = rawProgram(code, parseAs, options.module);
  const parsed = raw ? undefined : parse(code, parseAs, options.module);
  if (parsed && !parsed.ok) return parsed.unavailable ? { status: "failed", code, reason: parsed.reason, unavailable: true } : { status: "failed", code, reason: parsed.reason };
  // The walk only inserts: flat insertions (insertions.ts) instead of magic-string's chunk list.
  let edits: MagicString | Insertions = raw && code.length > 0 ? new Insertions(code) : new MagicString(code);
  // Names a function-name glob left out: the selection report's candidates (selection.ts).
  const filtered = matcher.hasFunctionGlobs ? new Set<string>() : undefined;
  const levelOf = (name: string): Level => {
    if (filtered && filtered.size < FILTERED_NAMES_MAX && !matcher.functionSelected(name)) filtered.add(name);
    return matcher.function(file, name);
  };
  let functions: FunctionInfo[];
  try {
    const statefulOf = (container: string) => matcher.isStateful(container);
    if (raw) functions = transformRaw(raw, code, edits, levelOf, statefulOf, options.sourceDigest);
    else if (parsed?.ok) functions = transform(parsed.program, code, edits as MagicString, levelOf, statefulOf, parsed.childKeys, options.sourceDigest);
    else throw new Error("no program"); // unreachable: a failed parse returned above
  } catch (error) {
    return { status: "failed", code, reason: `transform: ${error instanceof Error ? error.message : String(error)}` };
  }
  transformedFiles++;
  const left = filtered && filtered.size > 0 ? [...filtered] : undefined;
  if (left) matcher.onFiltered?.(left);
  // A file without functions may still register listeners (`server.on("request", handler)`).
  if (functions.length === 0 && !edits.hasChanged()) return { status: "unchanged", code, reason: "no functions", filtered: left };
  // A file with a map comment of its own is a compiler's output already (ts-node/esm registered
  // before scope's hands on its JavaScript under the .ts name): what V8 runs, chained as any.
  const handedOn = options.handedOn === true && findInputMap(code) === undefined;
  if (!(options.sourceMap ?? matcher.sourceMaps) && !handedOn) {
    // No map of ours: a map the file names stays, as untraced (lines still hold).
    const printed = print(edits, code, file, functions, null, undefined, undefined, false, undefined, options.wrap === true, false, options.offsets);
    return { status: "instrumented", code: printed.code, functions, filtered: left, ...dynamicImportOf(functions), ...wrappedOf(printed) };
  }
  const given = options.inputMap;
  const input = given ? { map: given, url: undefined, start: code.length, end: code.length } : findInputMap(code, options.readFile);
  // Handed on, the next compiler maps V8's positions: scope's map goes with the text, never shifts.
  const shiftsForStacks = matcher.shiftsForStacks && !handedOn;
  // Chaining an input map needs magic-string's full map (print.ts: replays the calls when it must).
  if (input?.map && edits instanceof Insertions && !shiftsForStacks) edits = edits.toMagicString();
  if (input && !given) edits.remove(input.start, input.end);
  // Under shiftsForStacks the file's own map comment goes back as its last line (print.ts
  // ownComment); a given map's comment never moved: "" (none of scope's, shifts unmapped).
  const ownComment = input && shiftsForStacks ? (given ? "" : code.slice(input.start, input.end).trimEnd()) : undefined;
  const printed = print(edits, code, file, functions, input?.map, options.sourceName, input?.url, shiftsForStacks, ownComment, options.wrap === true, handedOn, options.offsets);
  return { status: "instrumented", code: printed.code, map: printed.map, functions, filtered: left, ...dynamicImportOf(functions), ...wrappedOf(printed) };
}

function wrappedOf(printed: Printed): { wrapped?: string } {
  return printed.wrapped === undefined ? {} : { wrapped: printed.wrapped };
}

/** The program in oxc's raw-transfer buffer, when this runtime and file can take that path. */
function rawProgram(code: string, file: string, module: boolean | undefined): RawProgram | undefined {
  const language = languageOf(file) ?? "js";
  if (language === "ts" || language === "tsx") return undefined;
  const jsx = language === "jsx" || /\.js$/i.test(file);
  const parsed = parseProgram(code, file, jsx ? "jsx" : "js", module === true ? "module" : module === false ? "commonjs" : "unambiguous");
  return parsed?.ok ? parsed.raw : undefined;
}

function dynamicImportOf(functions: FunctionInfo[]): { dynamicImport?: true } {
  return sourceInfoOf(functions)?.dynamicImport ? { dynamicImport: true } : {};
}

/**
 * The marker comment, or (when a bundler or minifier reprinted the file and dropped
 * comments) the hook key, a string literal printers keep.
 */
export function isInstrumented(code: string): boolean {
  // The literal holds the key: the plain search first (the regular expression alone scans typescript.js in ~7 ms).
  return code.includes(MARKER) || (code.includes(HOOK_KEY) && HOOK_KEY_LITERAL.test(code));
}

const HOOK_KEY_LITERAL = new RegExp(`Symbol\\.for\\(["'\`]${HOOK_KEY.replace(".", "\\.")}["'\`]\\)`);

/** The one warning line for a file left untouched because it could not be parsed. */
export function warningLine(file: string, reason: string, action = "loaded"): string {
  return `scope: ${file}: not instrumented (${reason}); ${action} as is\n`;
}
