/**
 * Step 4 of the pipeline: the instrumented text and its source map. Appends the file's
 * hook variables and function table (after the last line: nothing above moves), the
 * marker that makes instrumentation idempotent, and an inline source map chained onto
 * the file's own input map when it has one (a `sourceMappingURL` comment, inline or a
 * readable file next to it), so positions lead to the original sources.
 */
import remapping from "@jridgewell/remapping";
import type MagicString from "magic-string";
import { BASE, HOOK, INIT, type FunctionInfo } from "./transform";

/** Present once in every instrumented file; a file containing it is never instrumented again. */
export const MARKER = "/*scope:instrumented*/";

/** The global the injected code looks up: the runtime's hook object (runtime.ts). */
export const HOOK_KEY = "scope.functions";

/** What the injected code calls when no runtime is installed: ids, and nothing recorded. */
const NOOP =
  "{f:function(){return 0},c:function(){},C:function(){return -1},r:function(){},x:function(){return -1}," +
  "s:function(){},X:function(){return -1},y:function(i,t,v){return v},n:function(i,t,v){return v}}";

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
  map: SourceMapV3;
}

const SOURCE_MAP_COMMENT = /\/\/[#@] sourceMappingURL=([^\s'"]+)\s*$/;

/** The input map named by a trailing `//# sourceMappingURL=` comment, and where that comment is. */
export function findInputMap(
  code: string,
  readFile?: (url: string) => string | undefined,
): { map?: SourceMapV3; start: number; end: number } | undefined {
  const tail = code.length > 4096 ? code.length - 4096 : 0;
  const found = SOURCE_MAP_COMMENT.exec(code.slice(tail));
  if (!found) return undefined;
  const start = tail + found.index;
  const url = found[1]!;
  let text: string | undefined;
  try {
    const inline = /^data:application\/json(?:;charset=[\w-]+)?;base64,(.*)$/i.exec(url);
    if (inline) text = Buffer.from(inline[1]!, "base64").toString("utf8");
    else if (readFile) text = readFile(url);
    return { map: text ? (JSON.parse(text) as SourceMapV3) : undefined, start, end: code.length };
  } catch {
    return { start, end: code.length };
  }
}

export function print(
  edits: MagicString,
  code: string,
  file: string,
  functions: FunctionInfo[],
  inputMap?: SourceMapV3,
  sourceName = file,
): Printed {
  const table: (string | number)[] = [];
  // Listeners: [index, event, method]* as a third argument, only when there are any.
  const listeners: (string | number)[] = [];
  for (const [index, fn] of functions.entries()) {
    table.push(fn.name, fn.line, fn.column, fn.flags);
    if (fn.listener) listeners.push(index, fn.listener.event, fn.listener.method);
  }
  const newline = code.endsWith("\n") ? "" : "\n";
  edits.append(
    `${newline}${MARKER}var ${HOOK},${BASE};function ${INIT}(){${HOOK}=globalThis[Symbol.for(${JSON.stringify(HOOK_KEY)})]||${NOOP};` +
      `${BASE}=${HOOK}.f(${JSON.stringify(file)},${JSON.stringify(table)}${listeners.length ? `,${JSON.stringify(listeners)}` : ""});return ${HOOK}}\n`,
  );
  const generated = edits.generateMap({ source: sourceName, includeContent: false, hires: "boundary" });
  let map = generated as unknown as SourceMapV3;
  if (inputMap) {
    map = remapping(generated as never, (source) => (source === sourceName ? (inputMap as never) : null)) as unknown as SourceMapV3;
  }
  const text = edits.toString();
  const encoded = Buffer.from(JSON.stringify(map)).toString("base64");
  return { code: `${text}//# sourceMappingURL=data:application/json;charset=utf-8;base64,${encoded}\n`, map };
}
