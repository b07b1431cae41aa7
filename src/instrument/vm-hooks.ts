/**
 * Code that reaches V8 through node:vm with a filename the selection matches: vite-node
 * (vitest ≤ 3) transforms a project's files with vite and evaluates each with
 * `vm.runInThisContext("'use strict';async (__vi_ssr_import__, …)=>{{" + code + "\n}}", { filename,
 * columnOffset: -head.length })`, past both load hooks (node-hooks.ts). `vm.Script`,
 * `vm.createScript`, `vm.runInThisContext` and `vm.compileFunction` are wrapped (with
 * --functions only) so such a source is instrumented as a loaded file is: the same
 * transform and runtime, the same function table records, its places chained through the
 * map the code carries (vite-node's inline map, which is not the code's last line) and the
 * column shifts of its stack positions counted from the offsets V8 is given (callsites.ts
 * registerScriptOffsets), so vitest's own stack mapping reads the positions it has untraced.
 *
 * A script's top level is global: print.ts's footer (`var __scope$…;function __scope$i…`)
 * there would be shared by every script. A script is taken only when its top level (after
 * the directives) declares nothing a block would change (expression statements, `var`, `;`),
 * and its code is put in one block whose `let` holds the footer (its variables and
 * functions): `{let …;` stands before the first statement when that is on the first line
 * (after the directives), or at the start when there is no directive, and V8 is told to
 * count that line's columns as many characters earlier; `}` closes it after the code. The
 * completion value (the function vite-node calls) is the block's, so the script's. A function body
 * (compileFunction) keeps the footer in its own scope as a CommonJS module does.
 *
 * A `vm.Script` is compiled as given (its errors, cachedData, createCachedData are the
 * original's); the context it runs in is known only when it runs: an instrumented twin is
 * compiled then and run instead. Code for another context (jest's test environment:
 * `script.runInContext`, jest 30's `compileFunction` with a `parsingContext`;
 * `vm.runInContext`, `vm.runInNewContext`) finds the runtime there once the agent's
 * `enterRealm` has readied that context (runtime.ts installRealm: the hook through an
 * accessor on its global, its toString, its promises; callsites.ts: its formatter's
 * positions). A cachedData handed to `runInThisContext` or `compileFunction` was made for
 * the original source: dropped (compileFunction's function says `cachedDataRejected`).
 * Once node:inspector is loaded (a test runner's V8 coverage) nothing more is instrumented.
 * Anything else is left as it is, and reported.
 */
import { decode, encode } from "@jridgewell/sourcemap-codec";
import { fileURLToPath } from "node:url";
import { STAMP_FILENAME } from "../agent/shared/stamp";
import { registerScriptOffsets } from "./callsites";
import { instrument, isInstrumented, warningLine } from "./instrument";
import type { Matcher } from "./match";
import { GLOBAL_OF, MARKER, type SourceMapV3 } from "./print";
import { parse } from "./parse";
import type { Realm } from "./runtime";
import { INIT, PENDING } from "./transform";

type Vm = typeof import("node:vm");
type Options = Record<string, unknown>;
type RunningOptions = import("node:vm").RunningScriptOptions;
type Context = import("node:vm").Context;

const installedKey = Symbol.for("scope.instrument.vm");

/** The runtime's side of vm code (runtime.ts, handed in by the agent: the ESM loader's bundle has no runtime). */
export interface VmRuntime {
  /** Readies another context for code instrumented for it (runtime.ts installRealm); none: such code is left as it is. */
  enterRealm?: (realm: Realm) => boolean;
  /** Keeps an instrumented source's text for its functions' toString (runtime.ts keepSource). */
  keepSource?: (file: string, code: string) => void;
}

/**
 * Wraps node:vm's compiling entries (once per thread); `warn` gets a file left untouched.
 * `own`: scope's directories (the agent's lazy chunks are compiled through vm.Script, after
 * the hooks in a worker): never instrumented, never looked at; nor is a stamp's class copy
 * (STAMP_FILENAME).
 */
export function installVmHooks(matcher: Matcher, warn: (line: string) => void, own: string[], runtime: VmRuntime = {}): void {
  const { enterRealm, keepSource } = runtime;
  const host = globalThis as Record<symbol, unknown>;
  if (host[installedKey]) return;
  host[installedKey] = true;
  const vm = require("node:vm") as Vm & Record<string, unknown>;
  const OriginalScript = vm.Script;
  const { runInThisContext, compileFunction, createScript, runInContext, runInNewContext, isContext, createContext } = vm;
  const { sep } = require("node:path") as typeof import("node:path");
  const prefixes = own.map((dir) => (dir.endsWith(sep) ? dir : dir + sep));
  // A per-request stamp's class copy (agent/shared/stamp.ts) is compiled while the program runs: scope's code too.
  const scopes = (filename: string) =>
    filename.startsWith("node:") || filename === STAMP_FILENAME || prefixes.some((prefix) => filename.startsWith(prefix));

  // A test runner's V8 coverage (jest --coverageProvider=v8, vitest's v8 provider) counts
  // what V8 runs under the file's name against the code it compiled: an instrumented twin
  // would make its report wrong. It takes that coverage through node:inspector, which
  // nothing else of a test run loads (scope's own `attach` never hooks node:vm): once that
  // module is loaded, selected vm code is left as it is, and reported.
  let inspected = false;
  const inspecting = (): boolean => {
    if (!inspected) {
      const loaded = (process as { moduleLoadList?: unknown }).moduleLoadList;
      inspected = Array.isArray(loaded) && loaded.includes("NativeModule inspector");
    }
    return inspected;
  };
  /** Whether `value` is a contextified object (anything else: Node's own error, as given). */
  const aContext = (value: unknown): value is Context => {
    try {
      return typeof value === "object" && value !== null && isContext(value);
    } catch {
      return false;
    }
  };
  /** Contexts readied for instrumented code (enterRealm), or found unfit (false). */
  const realms = new WeakMap<object, boolean>();
  /** Whether code instrumented for `context` (another one than this) finds the runtime there: readies it once. */
  const entered = (context: unknown): boolean => {
    if (enterRealm === undefined || !aContext(context)) return false;
    let ready = realms.get(context);
    if (ready === undefined) {
      ready = false;
      try {
        // A function compiled there: its global is a sloppy call's `this`, its intrinsics
        // are its own prototype and its async function's promise's (no property of the
        // global read but `Error`, whose prepareStackTrace Node calls for that context).
        const probe = Reflect.apply(compileFunction, vm, ["return [this, typeof Error === 'function' ? Error : undefined, async function () {}]", [], { parsingContext: context }]) as () => [object, unknown, () => object];
        const [global, error, asyncFunction] = probe();
        const compile = (params: string[], body: string) => Reflect.apply(compileFunction, vm, [body, params, { parsingContext: context }]) as (...args: unknown[]) => unknown;
        ready = enterRealm({ global, error, compile, functionPrototype: Object.getPrototypeOf(probe) as object, promisePrototype: Object.getPrototypeOf(asyncFunction()) as object });
      } catch {
        ready = false;
      }
      realms.set(context, ready);
    }
    return ready;
  };

  /**
   * The source and options V8 is handed for `code` (undefined: as given; scope's own
   * failure never reaches the program), to run in `context` (another one than this;
   * readied when the code is instrumented).
   */
  const prepared = (code: unknown, given: unknown, body: boolean, context?: unknown): { code: string; options: Options; dropped: boolean } | undefined => {
    try {
      return prepare(code, given, body, context);
    } catch {
      return undefined;
    }
  };
  const prepare = (code: unknown, given: unknown, body: boolean, context: unknown): { code: string; options: Options; dropped: boolean } | undefined => {
    const options: Options = typeof given === "string" ? { filename: given } : typeof given === "object" && given !== null ? { ...(given as Options) } : {};
    const filename = options.filename;
    if (typeof code !== "string" || typeof filename !== "string" || scopes(filename)) return undefined;
    // Asked first without counting: a selected file left as it is is reported with why, not as a match.
    const selection = matcher.peek(filename);
    if (!selection.selected) return void matcher.file(filename);
    if (context !== undefined && enterRealm === undefined) return void matcher.untraced(filename, selection, ELSEWHERE);
    if (inspecting()) return void matcher.untraced(filename, selection, INSPECTED);
    const lineOffset = integer(options.lineOffset);
    const columnOffset = integer(options.columnOffset);
    let made: ReturnType<typeof instrumentVmSource>;
    try {
      made = instrumentVmSource(matcher, code, filename, lineOffset, columnOffset, body);
    } catch (error) {
      warn(warningLine(filename, error instanceof Error ? error.message : String(error)));
    }
    if (typeof made === "string") matcher.untraced(filename, selection, made);
    if (typeof made !== "object") return undefined;
    if (context !== undefined && !entered(context)) return void matcher.untraced(filename, selection, ELSEWHERE);
    keepSource?.(filename, code);
    registerScriptOffsets(filename, lineOffset, columnOffset);
    if (made.columnOffset !== columnOffset) options.columnOffset = made.columnOffset;
    const dropped = options.cachedData !== undefined;
    delete options.cachedData;
    return { code: made.code, options, dropped };
  };

  // Code scope leaves as it is in another context: reported (a vm module; runInNewContext
  // making a context with options of its own).
  const elsewhere = (code: unknown, options: unknown, why: string) => {
    const filename = typeof options === "string" ? options : typeof options === "object" && options !== null ? (options as Options).filename ?? (options as Options).identifier : undefined;
    if (typeof code !== "string" || typeof filename !== "string") return;
    const file = filename.startsWith("file:") ? fileURLToPath(filename) : filename;
    if (scopes(file)) return;
    const selection = matcher.peek(file);
    if (selection.selected) matcher.untraced(file, selection, why);
    else matcher.file(file);
  };
  /** A Script's source and options, until it first runs; then its instrumented twin (null: none). */
  const pending = new WeakMap<object, [string, unknown]>();
  const twins = new WeakMap<object, InstanceType<typeof OriginalScript> | null>();
  /** The instrumented twin of `script` (made when it first runs, for `context`: another one than this), or none. */
  const twinOf = (script: object, context?: unknown): InstanceType<typeof OriginalScript> | null => {
    let twin = twins.get(script);
    if (twin === undefined) {
      const source = pending.get(script);
      const made = source && prepared(source[0], source[1], false, context);
      twin = made ? new OriginalScript(made.code, made.options as never) : null;
      twins.set(script, twin);
      pending.delete(script);
    }
    // A twin made for one context runs in another once that one is readied too.
    return twin && (context === undefined || entered(context)) ? twin : null;
  };
  // A Script is compiled as given (its errors, its cachedData and createCachedData are the
  // original's); the context it runs in is known only then: the instrumented twin is
  // compiled (once) and run instead, in this context or another one readied for it (jest
  // runs its modules so). runInNewContext makes its context and calls runInContext.
  class Script extends OriginalScript {
    // Scripts Node makes itself (vm.runInContext's) are OriginalScripts: still `instanceof vm.Script`.
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof OriginalScript;
    }

    constructor(code: string, options?: unknown) {
      super(code, options as never);
      const filename = typeof options === "string" ? options : typeof options === "object" && options !== null ? (options as Options).filename : undefined;
      if (typeof code === "string" && typeof filename === "string") pending.set(this, [code, options]);
    }

    override runInThisContext(options?: RunningOptions): unknown {
      const twin = twinOf(this);
      return twin ? twin.runInThisContext(options) : super.runInThisContext(options);
    }

    override runInContext(context: Context, options?: RunningOptions): unknown {
      // Not a context: Node's error, as given.
      const twin = aContext(context) ? twinOf(this, context) : null;
      return twin ? twin.runInContext(context, options) : super.runInContext(context, options);
    }
  }
  Object.defineProperty(Script, "name", { value: OriginalScript.name });
  Object.defineProperty(Script, "length", { value: OriginalScript.length });
  vm.Script = Script as typeof OriginalScript;
  vm.createScript = function createScript_(this: unknown, code: string, options?: unknown) {
    return new Script(code, options);
  } as typeof createScript;
  vm.runInThisContext = function runInThisContext_(this: unknown, code: string, options?: unknown) {
    const made = prepared(code, options, false);
    if (!made) return Reflect.apply(runInThisContext, this, [code, options]);
    // The remaining options (displayErrors, breakOnSigint, timeout) are the run's, as Node splits them.
    return Reflect.apply(runInThisContext, this, [made.code, made.options]);
  } as typeof runInThisContext;
  vm.compileFunction = function compileFunction_(this: unknown, code: string, params?: unknown, options?: unknown) {
    // Compiled in another context (parsingContext): readied for it (not a context: Node's error, as given).
    const context = typeof options === "object" && options !== null ? (options as Options).parsingContext : undefined;
    const made = context === undefined ? prepared(code, options, true) : aContext(context) ? prepared(code, options, true, context) : undefined;
    if (!made) return Reflect.apply(compileFunction, this, [code, params, options]);
    const fn = Reflect.apply(compileFunction, this, [made.code, params, made.options]) as Record<string, unknown>;
    if (made.dropped) fn.cachedDataRejected = true;
    return fn;
  } as typeof compileFunction;
  for (const [wrapped, original] of <[Function, Function][]>[
    [vm.createScript, createScript],
    [vm.runInThisContext, runInThisContext],
    [vm.runInContext, runInContext],
    [vm.runInNewContext, runInNewContext],
    [vm.compileFunction, compileFunction],
  ]) {
    Object.defineProperty(wrapped, "name", { value: original.name });
    Object.defineProperty(wrapped, "length", { value: original.length });
  }
  vm.runInContext = function runInContext_(this: unknown, code: string, contextifiedObject: Context, options?: unknown) {
    // Not a context: Node's error, as given.
    const made = aContext(contextifiedObject) ? prepared(code, options, false, contextifiedObject) : undefined;
    if (!made) return Reflect.apply(runInContext, this, [code, contextifiedObject, options]);
    return Reflect.apply(runInContext, this, [made.code, contextifiedObject, made.options]);
  } as typeof runInContext;
  vm.runInNewContext = function runInNewContext_(this: unknown, code: string, contextObject?: Context, options?: unknown) {
    const made = newContextSource(code, contextObject, options);
    if (!made) return Reflect.apply(runInNewContext, this, [code, contextObject, options]);
    // The context made already is the one Node would make (it takes a context as it is).
    if (!made.code) return Reflect.apply(runInNewContext, this, [code, made.context, options]);
    return Reflect.apply(runInNewContext, this, [made.code, made.context, made.options]);
  } as typeof runInNewContext;
  /**
   * runInNewContext's code, instrumented for the context it runs in: made first (Node takes a
   * context as it is), as Node makes it when the options give it nothing of its own (name,
   * origin, code generation, microtask mode, module loader: else left as it is, and reported).
   */
  const newContextSource = (code: unknown, contextObject: unknown, given: unknown) => {
    try {
      const filename = typeof given === "string" ? given : typeof given === "object" && given !== null ? (given as Options).filename : undefined;
      if (typeof code !== "string" || typeof filename !== "string" || scopes(filename) || !matcher.peek(filename).selected) return void elsewhere(code, given, ELSEWHERE);
      const options = typeof given === "object" && given !== null ? (given as Options) : {};
      // (importModuleDynamically: Node ≥ 22 may make the context with it too.)
      const own = ["contextName", "contextOrigin", "contextCodeGeneration", "microtaskMode", "importModuleDynamically"].some((key) => options[key] !== undefined);
      if (own || enterRealm === undefined || (contextObject !== undefined && (typeof contextObject !== "object" || contextObject === null))) return void elsewhere(code, given, ELSEWHERE);
      const context = contextObject !== undefined && isContext(contextObject as object) ? contextObject : createContext(contextObject as Context | undefined);
      return { ...prepared(code, given, false, context), context };
    } catch {
      return undefined;
    }
  };
  // vm modules (--experimental-vm-modules; vitest's vm pools): a module's text has no place for the footer's scope here.
  const SourceTextModule = vm.SourceTextModule as unknown;
  if (typeof SourceTextModule === "function") {
    const Base = SourceTextModule as new (code: string, options?: unknown) => object;
    class Module extends Base {
      static override [Symbol.hasInstance](value: unknown): boolean {
        return value instanceof Base;
      }

      constructor(code: string, options?: unknown) {
        try {
          elsewhere(code, options, "compiled through node:vm as an ES module (vm.SourceTextModule)");
        } catch {
          // The report is never worth the program.
        }
        super(code, options);
      }
    }
    Object.defineProperty(Module, "name", { value: Base.name });
    vm.SourceTextModule = Module as never;
  }
  // `import { runInThisContext } from "node:vm"` made later sees these too.
  try {
    (require("node:module") as { syncBuiltinESMExports?: () => void }).syncBuiltinESMExports?.();
  } catch {
    // Named imports keep Node's: only the default export's calls are traced.
  }
}

function integer(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) ? value : 0;
}

/** How jest-runtime (29) wraps a module's code for vm.Script: `({"Object.<anonymous>":function(module,exports,…){`. */
const JEST_WRAPPER = '({"Object.<anonymous>":function(';

/** The last inline map comment of the code (as V8 and Node take it), anywhere. */
const INLINE_MAP = /\/\/[#@]\s*sourceMappingURL=data:application\/json[^,]*;base64,([A-Za-z0-9+/=]+)\s*$/gm;

/**
 * The code's own inline map, made to count from the code's first character: V8 is told
 * lineOffset and (first line) columnOffset, and the map (vite-node's) counts as V8 does;
 * jest 29's counts from the end of its wrapper, whose length V8 is told.
 */
export function vmInputMap(code: string, lineOffset: number, columnOffset: number): SourceMapV3 | undefined {
  let last: string | undefined;
  for (const match of code.matchAll(INLINE_MAP)) last = match[1];
  if (last === undefined) return undefined;
  let map: SourceMapV3;
  try {
    map = JSON.parse(Buffer.from(last, "base64").toString("utf8")) as SourceMapV3;
  } catch {
    return undefined;
  }
  if (typeof map.mappings !== "string" || (map as { sections?: unknown }).sections !== undefined) return undefined;
  let lines = map.mappings.split(";");
  // The code's line n is V8's line n + lineOffset.
  if (lineOffset > 0) lines = lines.slice(lineOffset);
  else if (lineOffset < 0) lines = [...new Array<string>(-lineOffset).fill(""), ...lines];
  // Its first line's column c is V8's c + columnOffset: every segment of that line moves (the
  // line decoded alone: its other fields go back as they came). jest 29 (jest-runtime
  // createScriptFromCode) has its module wrapper in the code and gives V8 its length as a
  // positive columnOffset: its map counts from the wrapper's end.
  const head = columnOffset > 0 && code.startsWith(JEST_WRAPPER) && code.charCodeAt(columnOffset - 1) === 123 /* { */ ? columnOffset : -columnOffset;
  if (head !== 0 && lines[0]) {
    const [segments] = decode(lines[0]) as number[][][];
    for (const segment of segments!) segment[0] = segment[0]! + head;
    if (segments![0]![0]! < 0) return undefined;
    lines[0] = encode([segments as [number][]]);
  }
  return { ...map, mappings: lines.join(";") };
}

const NOT_PARSED = "compiled through node:vm, and it does not parse";
/** Why code for another context is left as it is (no way to ready it: enterRealm; runInNewContext's own context options). */
const ELSEWHERE = "compiled through node:vm into another context";
/** Why vm code is left as it is once node:inspector is loaded (V8 coverage: installVmHooks). */
const INSPECTED = "compiled through node:vm while node:inspector is loaded (V8 coverage would count the instrumented code)";

/** Top-level statements a block leaves as they are (the rest: declarations a block would scope). */
const BLOCK_SAFE = new Set(["ExpressionStatement", "EmptyStatement"]);

/**
 * The instrumented source of one vm compile and the columnOffset to give V8 with it; or
 * why it is left as it is (a shape not taken, a source that does not parse); or undefined:
 * nothing to instrument (a match all the same).
 */
export function instrumentVmSource(matcher: Matcher, code: string, filename: string, lineOffset: number, columnOffset: number, body: boolean): { code: string; columnOffset: number } | string | undefined {
  // Already instrumented (node-hooks.ts codeCacheCompiler compiles a module's instrumented code through vm.Script): as it is, not parsed again.
  if (isInstrumented(code)) return undefined;
  if (code.startsWith("#!")) return "compiled through node:vm with a #! line";
  let directives = false;
  if (!body) {
    // The script's top level: only what a block does not change (no `return` either: a
    // script has none). Code that does not parse is V8's to report (a SyntaxError as
    // untraced), not a warning.
    const parsed = parse(code, "vm.js", false);
    if (!parsed.ok) return NOT_PARSED;
    const statements = (parsed.program.body as { type: string; kind?: string; directive?: unknown }[] | undefined) ?? [];
    if (!statements.every((statement) => BLOCK_SAFE.has(statement.type) || (statement.type === "VariableDeclaration" && statement.kind === "var"))) {
      return "compiled through node:vm as a script with global declarations (function, let, const, class)";
    }
    directives = typeof statements[0]?.directive === "string";
  }
  const inputMap = vmInputMap(code, lineOffset, columnOffset);
  const offsets = lineOffset !== 0 || columnOffset !== 0 ? ([lineOffset, columnOffset] as const) : undefined;
  const result = instrument(code, filename, { matcher, module: false, parseAs: "vm.js", inputMap, offsets });
  if (result.status === "failed") return NOT_PARSED;
  if (result.status !== "instrumented") return undefined;
  if (body) return { code: result.code, columnOffset };
  return scoped(result.code, columnOffset, directives) ?? "compiled through node:vm as a script whose first statement follows a directive on a later line";
}

/**
 * The instrumented script in one block holding the footer (see the file's comment): its
 * variables and its functions, as function expressions, in one `let` that opens the
 * block (declarations at the block's end would be statements: V8 gives a sloppy script
 * the last one's function as its completion value); the marker stays, on the last line.
 */
function scoped(code: string, columnOffset: number, directives: boolean): { code: string; columnOffset: number } | undefined {
  const footer = code.lastIndexOf(`\n${MARKER}var `);
  if (footer < 0) return undefined;
  const declared = code.indexOf(";", footer);
  const footerEnd = code.indexOf("\n", footer + 1);
  if (declared < 0 || footerEnd < 0) return undefined;
  const functions = code.slice(declared + 1, footerEnd);
  const init = `function ${INIT}(`;
  const pendingFunction = `}function ${PENDING}(`;
  const at = functions.indexOf(pendingFunction);
  if (!functions.startsWith(init) || functions.indexOf(init, 1) >= 0 || (at >= 0 && functions.indexOf(pendingFunction, at + 1) >= 0)) return undefined;
  const expressions = `${INIT}=function(${functions.slice(init.length)}`
    .replace(pendingFunction, `},${PENDING}=function(`)
    .replace(`}function ${GLOBAL_OF}(`, `},${GLOBAL_OF}=function(`);
  const declarations = `${code.slice(footer + 1 + MARKER.length + 4, declared)},${expressions}`;
  const close = `${MARKER}}${code.slice(footerEnd)}`;
  const call = `${PENDING}();`;
  const pending = at >= 0 ? code.indexOf(call) : -1;
  if (pending >= 0 && pending < footer && code.lastIndexOf("\n", pending - 1) < 0) {
    // The first statement is on the first line: the block opens in place of the announcement
    // (transform.ts announce), made in the `let` (no statement's value: the script's
    // completion value stays its own), and V8 counts that line's columns as many characters
    // earlier as the text grew.
    const open = `{let ${declarations},${PENDING}d=${PENDING}();`;
    const text = `${code.slice(0, pending)}${open}${code.slice(pending + call.length, footer + 1)}${close}`;
    return { code: text, columnOffset: columnOffset - (open.length - call.length) };
  }
  // No directive: the block opens at the very start, on the first line as well.
  if (directives) return undefined;
  const open = `{let ${declarations};`;
  return { code: `${open}${code.slice(0, footer + 1)}${close}`, columnOffset: columnOffset - open.length };
}
