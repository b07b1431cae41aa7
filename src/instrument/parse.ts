/**
 * Step 1 of the pipeline: source text → ESTree Program with `start`/`end` offsets
 * (UTF-16, as JavaScript strings index). meriyah for JavaScript (pure JS, the fastest
 * of the parsers measured in Node 20, bundles into the agent); oxc-parser for
 * TypeScript only, loaded on first use (a native binding that may be missing). In
 * scope's own bundles oxc-parser opens the binding scope ships (oxc-binding.ts);
 * unbundled it loads as usual from node_modules.
 * See ARCHITECTURE.md "Instrumentation" for the figures.
 */
import { parseModule, parseScript } from "meriyah";
import { parseRaw } from "./oxc-raw";

/** The little of ESTree the later steps read: every node has a type and a range. */
export interface Node {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

export type Language = "js" | "jsx" | "ts" | "tsx";

/** Per node type, the keys that may hold child nodes, in source order. */
export type ChildKeys = Readonly<Record<string, readonly string[]>>;

/**
 * `unavailable`: the parser itself could not be loaded (the file is fine; not worth caching).
 * `childKeys`: the parser's table of child keys (oxc's); absent for meriyah's ASTs.
 */
export type Parsed = { ok: true; program: Node; language: Language; module: boolean; childKeys?: ChildKeys } | { ok: false; reason: string; unavailable?: true };

export function languageOf(file: string): Language | undefined {
  const match = /\.([cm]?[jt]sx?)$/i.exec(file);
  if (!match) return undefined;
  const ext = match[1]!.toLowerCase();
  if (ext === "tsx") return "tsx";
  if (ext.endsWith("ts")) return "ts";
  if (ext === "jsx") return "jsx";
  return "js";
}

/**
 * Parses `code`. `module`: true for ESM, false for CommonJS/script, undefined to try
 * the module goal first and fall back to a script (with top-level return, as CJS).
 */
export function parse(code: string, file: string, module?: boolean): Parsed {
  const language = languageOf(file) ?? "js";
  if (language === "ts" || language === "tsx") return parseTypeScript(code, file, language, module);
  const jsx = language === "jsx" || /\.js$/i.test(file);
  // Node: oxc's raw transfer (oxc-raw.ts); anything it refuses goes to meriyah below.
  const raw = parseRaw(code, file, jsx ? "jsx" : "js", module === true ? "module" : module === false ? "commonjs" : "unambiguous");
  if (raw?.ok) return { ok: true, program: raw.program, language, module: module ?? raw.program.sourceType === "module", childKeys: oxcChildKeys() };
  // Bun (no raw transfer there): oxc's JSON path, when turned on (see parseOxcJson).
  if (raw === undefined && oxcJsonForJavaScript()) {
    const viaJson = parseOxcJson(code, file, jsx, language, module);
    if (viaJson) return viaJson;
  }
  // start/end offsets only: `ranges: true` also allocates a `range` array per node (20% of the parse).
  const options = { next: true, ranges: { start: true, end: true }, jsx, webcompat: true } as const;
  let firstError: unknown;
  if (module !== false) {
    try {
      return { ok: true, program: parseModule(code, options) as unknown as Node, language, module: true };
    } catch (error) {
      firstError = error;
      if (module === true) return { ok: false, reason: messageOf(error) };
    }
  }
  try {
    return { ok: true, program: parseScript(code, { ...options, globalReturn: true }) as unknown as Node, language, module: false };
  } catch (error) {
    // A .js file may hold JSX-free code that meriyah's JSX mode rejects (e.g. `a < b > c`): retry without.
    if (jsx && language === "js") {
      try {
        return { ok: true, program: parseScript(code, { ...options, jsx: false, globalReturn: true }) as unknown as Node, language, module: false };
      } catch {
        // Report the first error below.
      }
    }
    return { ok: false, reason: messageOf(firstError ?? error) };
  }
}

type OxcParse = (file: string, code: string, options: object) => { program: unknown; errors: { message: string }[] };
let oxc: OxcParse | null | undefined;
let oxcError = "";

/**
 * Loads oxc-parser now. The Bun plugin calls this before registering: a `require` made
 * inside a plugin's onLoad would go through the plugin itself.
 */
export function loadTypeScriptParser(): boolean {
  return loadOxc() !== null;
}

function loadOxc(): OxcParse | null {
  if (oxc !== undefined) return oxc;
  try {
    oxc = (require("oxc-parser") as { parseSync: OxcParse }).parseSync;
  } catch (error) {
    oxc = null;
    oxcError = messageOf(error);
  }
  return oxc;
}

let childKeys: ChildKeys | undefined;

/** oxc-parser's visitor keys (generated with its ESTree shapes, TypeScript's included). */
function oxcChildKeys(): ChildKeys {
  childKeys ??= (require("oxc-parser/src-js/generated/visit/keys") as { default: ChildKeys }).default;
  return childKeys;
}

/** Whether Bun parses JavaScript with oxc's JSON path: $SCOPE_BUN_OXC_JSON=1 (measured, BENCHMARKS.md). */
function oxcJsonForJavaScript(): boolean {
  return typeof process !== "undefined" && process.versions.bun !== undefined && process.env.SCOPE_BUN_OXC_JSON === "1";
}

/** JavaScript through oxc's JSON path; undefined on any error (meriyah then parses, its messages are what users see). */
function parseOxcJson(code: string, file: string, jsx: boolean, language: Language, module: boolean | undefined): Parsed | undefined {
  const parseSync = loadOxc();
  if (!parseSync) return undefined;
  try {
    const sourceType = module === true ? "module" : module === false ? "commonjs" : "unambiguous";
    const result = parseSync(file, code, { lang: jsx ? "jsx" : "js", sourceType, astType: "js", range: false, preserveParens: false });
    if (result.errors.length > 0) return undefined;
    const program = result.program as Node;
    return { ok: true, program, language, module: module ?? program.sourceType === "module", childKeys: oxcChildKeys() };
  } catch {
    return undefined;
  }
}

function parseTypeScript(code: string, file: string, language: Language, module: boolean | undefined): Parsed {
  const parseSync = loadOxc();
  if (!parseSync) return { ok: false, reason: `TypeScript needs oxc-parser, which could not be loaded (${oxcError})`, unavailable: true };
  try {
    const sourceType = module === true ? "module" : module === false ? "commonjs" : "unambiguous";
    const result = parseSync(file, code, { lang: language, sourceType, astType: "ts", range: false });
    if (result.errors.length > 0) return { ok: false, reason: result.errors[0]!.message };
    return { ok: true, program: result.program as Node, language, module: module !== false, childKeys: oxcChildKeys() };
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

/** Every name a binding pattern (a parameter, a declarator's id) binds, in source order. */
export function bindingNames(pattern: Node | null | undefined, out: (name: string) => void): void {
  if (!pattern) return;
  switch (pattern.type) {
    case "Identifier":
      out(pattern.name as string);
      break;
    case "ObjectPattern":
      for (const property of pattern.properties as Node[]) bindingNames(property.type === "RestElement" ? (property.argument as Node) : (property.value as Node), out);
      break;
    case "ArrayPattern":
      for (const element of pattern.elements as (Node | null)[]) bindingNames(element, out);
      break;
    case "RestElement":
      bindingNames(pattern.argument as Node, out);
      break;
    case "AssignmentPattern":
      bindingNames(pattern.left as Node, out);
      break;
    case "TSParameterProperty":
      bindingNames(pattern.parameter as Node, out);
      break;
  }
}
