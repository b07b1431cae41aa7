/**
 * Stack positions as the program has them untraced, for the program's own stack tools.
 *
 * Instrumentation adds no line, but it moves columns on the lines where it inserts code
 * (a function's first line, `return`s at "full"). Node formats stacks itself through the
 * inline map print.ts appends, which leads from the instrumented columns to the original
 * ones. A program that formats stacks itself (`Error.prepareStackTrace`: source-map-support,
 * which babel-register, ts-node and many test set-ups install; @babel/core's frame
 * filter; an APM agent) reads positions from V8's CallSite objects and maps them through
 * *its* idea of the file's map, the one made for the code before scope touched it. So
 * the CallSites handed to such a function give, for frames of instrumented files, the
 * positions the code has untraced (print.ts columnShifts, registered by each file when
 * its module starts), from their position methods and their toString.
 *
 * Visible to the program: `Error.prepareStackTrace` is an accessor (own, not enumerable)
 * and reads back a wrapper of the function put there, not that function itself (putting
 * the wrapper back stores the function); an untraced CallSite has own methods; while a
 * CommonJS module's top level runs, `Error.stackTraceLimit` reads OWN_FRAMES_PER_MODULE
 * more per nested `require` (scope's own frames, below). Not
 * covered: CallSite.getPosition (an offset); a formatter defined with
 * Object.defineProperty; other contexts (vm) but those instrumented code runs in
 * (installContextCallSitePositions); Bun (an accessor there turns its
 * prepareStackTrace support off).
 */
import { fileURLToPath } from "node:url";
import { framesNamedByReceiver, loaderFrameKey } from "../agent/shared/reflect";

/**
 * Marks a file's column shifts (as print.ts registers them) when the file carries no map
 * of scope's: Node's own stack formatter then gets the file's positions untraced too.
 */
export const UNMAPPED_SHIFTS = "~";

/** Per file: the columnShifts text as registered, then its lines' insertions ([column, length]*). */
const registered = new Map<string, string | Map<number, number[]>>();
/** Files that carry no map of scope's (print.ts UNMAPPED_SHIFTS): Node's formatter gets them untraced too. */
const unmapped = new Set<string>();

/** Called by the runtime's hook (p, f) with the file's print.ts columnShifts text. */
export function registerShifts(file: unknown, shifts: unknown): void {
  if (typeof file !== "string" || typeof shifts !== "string" || shifts.length === 0 || registered.has(file)) return;
  if (shifts.startsWith(UNMAPPED_SHIFTS)) {
    if (shifts.length === UNMAPPED_SHIFTS.length) return;
    unmapped.add(file);
    registered.set(file, shifts.slice(UNMAPPED_SHIFTS.length));
  } else registered.set(file, shifts);
}

/** An ES module frame's file: URL as the path its file registered under (one conversion per URL). */
const paths = new Map<string, string | null>();

function pathOf(url: string): string | undefined {
  let path = paths.get(url);
  if (path === undefined) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = null;
    }
    if (paths.size >= 4096) paths.clear(); // URLs with queries: bounded all the same
    paths.set(url, path);
  }
  return path ?? undefined;
}

/** Whether the file registered its shifts as carrying no map of scope's. */
function isUnmapped(fileName: unknown): boolean {
  if (typeof fileName !== "string" || unmapped.size === 0) return false;
  if (unmapped.has(fileName)) return true;
  if (!fileName.startsWith("file:")) return false;
  const path = pathOf(fileName);
  return path !== undefined && unmapped.has(path);
}

function linesOf(file: string): Map<number, number[]> | undefined {
  const entry = registered.get(file);
  if (entry === undefined || typeof entry !== "string") return entry;
  const lines = new Map<number, number[]>();
  const numbers = entry.split(",").map(Number);
  for (let i = 0; i + 1 < numbers.length; ) {
    const count = numbers[i + 1]!;
    lines.set(numbers[i]!, numbers.slice(i + 2, i + 2 + 2 * count));
    i += 2 + 2 * count;
  }
  registered.set(file, lines);
  return lines;
}

/**
 * The untraced [line, column] (1-based, as CallSite gives them) of a position in an
 * instrumented file; undefined when nothing was inserted before it on its line. A
 * position inside inserted code is given the place the insertion stands at.
 */
export function untracedPosition(fileName: unknown, line: unknown, column: unknown): [number, number] | undefined {
  if (typeof fileName !== "string" || typeof line !== "number" || typeof column !== "number" || registered.size === 0) return undefined;
  let file = fileName;
  if (!registered.has(file) && file.startsWith("file:")) {
    const path = pathOf(file);
    if (path === undefined) return undefined;
    file = path;
  }
  const offsets = scriptOffsets.get(file);
  if (offsets === undefined) return shiftedBack(file, line, column);
  // node:vm code: V8 counts its lines from lineOffset, its first line's columns from columnOffset.
  const [lineOffset, columnOffset] = offsets;
  const own = line - lineOffset;
  const first = own === 1 ? columnOffset : 0;
  const found = shiftedBack(file, own, column - first);
  return found && [found[0] + lineOffset, found[1] + first];
}

function shiftedBack(file: string, line: number, column: number): [number, number] | undefined {
  const inserted = linesOf(file)?.get(line);
  if (!inserted) return undefined;
  const at = column - 1;
  let shift = 0;
  for (let i = 0; i + 1 < inserted.length; i += 2) {
    const start = inserted[i]! + shift;
    if (at < start) break;
    if (at < start + inserted[i + 1]!) return [line, inserted[i]! + 1];
    shift += inserted[i + 1]!;
  }
  return shift === 0 ? undefined : [line, at - shift + 1];
}

/** Per file compiled through node:vm with offsets (vm-hooks.ts): [lineOffset, columnOffset]. */
const scriptOffsets = new Map<string, [number, number]>();

/** The offsets V8 adds to the positions of `file`'s code (vm's lineOffset, columnOffset), for its shifts. */
export function registerScriptOffsets(file: string, lineOffset: number, columnOffset: number): void {
  if (lineOffset === 0 && columnOffset === 0) scriptOffsets.delete(file);
  else scriptOffsets.set(file, [lineOffset, columnOffset]);
}

interface CallSiteLike {
  getFileName(): string | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  getEnclosingLineNumber?(): number | null;
  getEnclosingColumnNumber?(): number | null;
  toString(): string;
}

/** CallSites already looked at (a formatter may pass a trace on to another). */
const seen = new WeakSet<object>();
/** Those of them given their untraced positions. */
const untraced = new WeakSet<object>();

/**
 * Gives the CallSites of instrumented files their untraced positions, as own properties
 * (V8's CallSite methods are neither writable nor configurable on the prototype).
 */
function untraceSites(trace: unknown[]): void {
  for (const site of trace) untraceSite(site);
}

function untraceSite(site: unknown): void {
  if (typeof site !== "object" || site === null || seen.has(site)) return;
  seen.add(site);
  const call = site as CallSiteLike;
  if (typeof call.getFileName !== "function" || typeof call.getLineNumber !== "function" || typeof call.getColumnNumber !== "function") return;
  const file = call.getFileName();
  const line = call.getLineNumber();
  const column = call.getColumnNumber();
  const mapped = untracedPosition(file, line, column);
  const enclosing =
    typeof call.getEnclosingLineNumber === "function" && typeof call.getEnclosingColumnNumber === "function"
      ? untracedPosition(file, call.getEnclosingLineNumber(), call.getEnclosingColumnNumber())
      : undefined;
  if (!mapped && !enclosing) return;
  untraced.add(site);
  const own = (name: string, value: () => unknown) => Object.defineProperty(site, name, { value, writable: true, enumerable: false, configurable: true });
  if (mapped) {
    const text = String(call);
    const position = `:${line}:${column}`;
    const index = text.lastIndexOf(position);
    const shown = index < 0 ? text : `${text.slice(0, index)}:${mapped[0]}:${mapped[1]}${text.slice(index + position.length)}`;
    own("getLineNumber", function getLineNumber() {
      return mapped[0];
    });
    own("getColumnNumber", function getColumnNumber() {
      return mapped[1];
    });
    own("toString", function toString() {
      return shown;
    });
  }
  if (enclosing) {
    own("getEnclosingLineNumber", function getEnclosingLineNumber() {
      return enclosing[0];
    });
    own("getEnclosingColumnNumber", function getEnclosingColumnNumber() {
      return enclosing[1];
    });
  }
}

/**
 * A CallSite as V8 made it, for Node's own formatter (which maps positions through
 * scope's inline maps): a site given untraced positions is seen through an object of its
 * prototype's methods bound to it.
 */
function rawSite(site: unknown): unknown {
  if (typeof site !== "object" || site === null || !untraced.has(site)) return site;
  const proto = Object.getPrototypeOf(site) as Record<string, unknown>;
  const view: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(proto)) {
    const method = proto[name];
    if (typeof method === "function" && name !== "constructor") view[name] = (method as (...args: unknown[]) => unknown).bind(site);
  }
  return view;
}

/**
 * A CallSite for Node's own formatter: as V8 made it where Node maps the file through
 * scope's map; given its untraced positions where the file carries none (its shifts alone).
 */
function nodeSite(site: unknown): unknown {
  if (unmapped.size === 0 || typeof site !== "object" || site === null) return rawSite(site);
  let file: unknown;
  try {
    const call = site as CallSiteLike;
    file = typeof call.getFileName === "function" ? call.getFileName() : undefined;
  } catch {
    return rawSite(site);
  }
  if (!isUnmapped(file)) return rawSite(site);
  try {
    untraceSite(site);
  } catch {
    // Positions stay as V8 gave them.
  }
  return site;
}

const installedKey = Symbol.for("scope.instrument.callsites");

/**
 * scope's own frames. While a CommonJS module's top level runs, scope's `_compile` wrapper
 * (node-hooks.ts, functions.cjs; with its code-cache compile, a second frame) and the
 * agent's `.js` extension wrapper (lazy.ts, node-bundle.cjs) are on the stack, one set per
 * nested `require`. Where this accessor sees every formatting (Node ≥ 20.19: installed
 * over Node's own formatter), every formatter is handed the trace without them, and the
 * `_compile` wrapper raises `Error.stackTraceLimit` by as many frames while the module runs
 * (raiseStackTraceLimit), so V8 keeps as many of the program's frames as untraced; the trace
 * is then cut back to the program's limit. scope's frames are those of the files next to
 * this one (the agent's directory holds scope's files only).
 */
let ownDirectory: string | undefined;

/**
 * node-hooks.ts codeCacheCompiler runs a module in place of Node's `_compile` (its function
 * is named so) and hands it a `require` of its own: their frames show Node's (node-hooks.ts
 * nodeModuleSites), by the name of scope's function.
 */
let nodeSites: Map<unknown, unknown> | undefined;

export function setNodeModuleSites(sites: { compile: unknown; require: unknown } | undefined): void {
  if (nodeSites === undefined && sites !== undefined) nodeSites = new Map([["compileCached", sites.compile], ["require", sites.require]]);
}

/**
 * The most frames of scope's a module level puts on the stack: the `_compile` wrapper, its
 * code-cache compile, the agent's `.js` wrapper where its loader lacks Node's shape (lazy.ts;
 * on Node's own loader the hand-over has no frame: loaded-files.ts), and its two `Module._load`
 * wrappers until `fs` (in a worker) and `child_process` are first required (hooks.ts
 * whenBuiltinReached). More than are there costs nothing but their capture: the trace is cut.
 */
export const OWN_FRAMES_PER_MODULE = 5;

interface Raise {
  /** Error.stackTraceLimit before this raise. */
  before: number;
  /** What this raise set it to. */
  raised: number;
  /** The program's own limit (what it reads untraced). */
  program: number;
}

/** The raises in force, outermost first (one per nested module top level). */
const raises: Raise[] = [];
/**
 * Every limit raised to, with the program's limit then: a trace of exactly that many frames,
 * none of scope's, formatted once nothing is raised (deep recursion thrown out of a top
 * level) was taken with it when the program's limit is still that one.
 */
const raisedTo = new Map<number, number>();
/** Whether a formatter is at `Error.prepareStackTrace` (a program that puts nothing there turns Node's own off, and scope's with it). */
let formatterInPlace: () => boolean = () => false;

function stackTraceLimitValue(): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(Error, "stackTraceLimit");
  return descriptor && "value" in descriptor && descriptor.writable ? descriptor.value : undefined;
}

/**
 * Called by the `_compile` wrapper before a module's top level runs: raises
 * Error.stackTraceLimit by OWN_FRAMES_PER_MODULE when it is a finite positive number (a
 * program reading it meanwhile reads the raised value). Undefined: nothing raised.
 */
export function raiseStackTraceLimit(): Raise | undefined {
  if (ownDirectory === undefined || !formatterInPlace()) return undefined;
  const limit = stackTraceLimitValue();
  if (typeof limit !== "number" || !(limit > 0) || limit === Infinity) return undefined;
  const outer = raises[raises.length - 1];
  const raise: Raise = { before: limit, raised: limit + OWN_FRAMES_PER_MODULE, program: outer !== undefined && limit === outer.raised ? outer.program : limit };
  try {
    Error.stackTraceLimit = raise.raised;
  } catch {
    return undefined;
  }
  raises.push(raise);
  if (raisedTo.size < 64) raisedTo.set(raise.raised, raise.program);
  return raise;
}

/** After the module's top level: puts the limit back unless the program changed it meanwhile. */
export function restoreStackTraceLimit(raise: Raise): void {
  const at = raises.lastIndexOf(raise);
  if (at >= 0) raises.length = at;
  if (stackTraceLimitValue() === raise.raised) Error.stackTraceLimit = raise.before;
}

/** The limit the program has set (the raised one seen through), with `raise` (else the innermost one) in force. */
function programLimit(raise = raises[raises.length - 1]): number | undefined {
  const limit = stackTraceLimitValue();
  if (raise !== undefined && limit === raise.raised) return raise.program;
  return typeof limit === "number" ? limit : undefined;
}

/** Node's CommonJS loader, whose functions scope replaced and named (reflect.ts keepFrameName). */
const LOADER_FILE = "node:internal/modules/cjs/loader";

/**
 * Whether `site` is a frame of scope's. A frame of a loader function scope named gets the
 * names it has untraced from its CallSite (getFunctionName null, getMethodName its key);
 * its text is V8's own, the untraced one.
 */
function isOwnSite(site: unknown): boolean {
  if (typeof site !== "object" || site === null) return false;
  const call = site as CallSiteLike;
  if (typeof call.getFileName !== "function") return false;
  const file = call.getFileName();
  if (file === LOADER_FILE && framesNamedByReceiver) untracedLoaderNames(call);
  return typeof file === "string" && file.startsWith(ownDirectory!);
}

function untracedLoaderNames(site: CallSiteLike): void {
  const named = site as CallSiteLike & { getFunctionName?(): unknown };
  const key = typeof named.getFunctionName === "function" ? loaderFrameKey(named.getFunctionName() as string) : undefined;
  if (key === undefined) return;
  Object.defineProperty(site, "getFunctionName", { value: () => null, configurable: true, writable: true });
  Object.defineProperty(site, "getMethodName", { value: () => key, configurable: true, writable: true });
}

/**
 * The trace without scope's frames, cut to the program's limit where it was taken with a
 * raised one: a trace that holds frames of scope's, any formatted while a module's top
 * level runs, and one of exactly a raised limit's length (raisedTo). Anything unexpected:
 * the trace as it came.
 */
function withoutOwnFrames(trace: unknown[]): unknown[] {
  if (ownDirectory === undefined) return trace;
  try {
    // One pass: the trace itself until a frame of scope's, a copy from there on.
    let kept: unknown[] | undefined;
    for (let i = 0; i < trace.length; i++) {
      const site = trace[i];
      if (!isOwnSite(site)) {
        kept?.push(site);
        continue;
      }
      kept ??= trace.slice(0, i);
      const node = nodeSites?.get((site as { getFunctionName?: () => unknown }).getFunctionName?.());
      if (node !== undefined) kept.push(node);
    }
    let limit: number | undefined;
    if (kept !== undefined || raises.length > 0) limit = programLimit();
    else if (raisedTo.size > 0) {
      const program = raisedTo.get(trace.length);
      if (program !== undefined && program === programLimit()) limit = program;
    }
    kept ??= trace;
    return limit !== undefined && limit >= 0 && kept.length > limit ? kept.slice(0, Math.floor(limit)) : kept;
  } catch {
    return trace;
  }
}

/** This file's directory, from its own frame (taken before the accessor is on). */
function directoryOfThisFile(): string | undefined {
  const errors = Error as ErrorConstructor & { prepareStackTrace?: unknown };
  const saved = Object.getOwnPropertyDescriptor(errors, "prepareStackTrace");
  const limit = Object.getOwnPropertyDescriptor(errors, "stackTraceLimit");
  try {
    errors.prepareStackTrace = (_error: unknown, trace: unknown) => trace;
    Error.stackTraceLimit = 1;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder);
    const trace = holder.stack;
    const file = Array.isArray(trace) && trace.length > 0 ? (trace[0] as CallSiteLike).getFileName() : undefined;
    if (typeof file !== "string" || !file.startsWith("/") || !/\.(cjs|js)$/.test(file)) return undefined;
    return file.slice(0, file.lastIndexOf("/") + 1);
  } catch {
    return undefined;
  } finally {
    if (saved) Object.defineProperty(errors, "prepareStackTrace", saved);
    else Reflect.deleteProperty(errors, "prepareStackTrace");
    if (limit) Object.defineProperty(errors, "stackTraceLimit", limit);
  }
}

/**
 * Makes `Error.prepareStackTrace` an accessor of this context's Error: what is there reads
 * back wrapped (one wrapper per function, named as it is; putting a wrapper back stores
 * its function). Node ≥ 20.19 keeps its own formatter there (ErrorPrepareStackTrace) and
 * calls whatever is there for every stack; older versions call their own when nothing is.
 * The wrapper of a program's function gives the trace's CallSites their untraced
 * positions, then calls it; the wrapper of Node's own hands it the CallSites as V8 made
 * them (also when a program's formatter passes its trace on to it), since Node maps them
 * through scope's inline maps. With `sourceMaps: false` (no map of scope's; the file's
 * own map, if any, stays) Node's gets untraced positions too, as every other formatter.
 */
export function installCallSitePositions(nodeUsesScopeMaps = true): boolean {
  const host = globalThis as Record<symbol, unknown>;
  if (host[installedKey]) return false;
  const errors = Error as ErrorConstructor & { prepareStackTrace?: unknown };
  const descriptor = Object.getOwnPropertyDescriptor(errors, "prepareStackTrace");
  // Only over what Node has (nothing, or its own formatter as a plain value): never over an accessor.
  if (descriptor && !("value" in descriptor && descriptor.writable && descriptor.configurable)) return false;
  host[installedKey] = true;
  const node = typeof descriptor?.value === "function" ? (descriptor.value as Format) : undefined;
  // Only where every formatting comes here (Node's own formatter is at the property).
  if (node !== undefined && node.name === "ErrorPrepareStackTrace") ownDirectory = directoryOfThisFile();
  const current = formatterAccessor(errors, descriptor, nodeUsesScopeMaps ? node : undefined);
  formatterInPlace = () => typeof current() === "function";
  return true;
}

/**
 * The same accessor on the Error of another context whose code is instrumented (node:vm:
 * jest 29 installs source-map-support there; vm-hooks.ts), given before that code runs: Node
 * formats a stack with the `Error.prepareStackTrace` of the error's own context first.
 * Once per Error; false over an accessor already there.
 */
export function installContextCallSitePositions(errors: unknown): boolean {
  if (typeof errors !== "function" || errors === Error || contextErrors.has(errors)) return false;
  contextErrors.add(errors);
  const descriptor = Object.getOwnPropertyDescriptor(errors, "prepareStackTrace");
  if (descriptor && !("value" in descriptor && descriptor.writable && descriptor.configurable)) return false;
  formatterAccessor(errors as ErrorConstructor, descriptor, undefined);
  return true;
}

/** The other contexts' Errors given the accessor. */
const contextErrors = new WeakSet<object>();

type Format = (this: unknown, error: unknown, trace: unknown) => unknown;

/** Makes `errors.prepareStackTrace` the accessor (see installCallSitePositions); returns what is there. */
function formatterAccessor(errors: ErrorConstructor, descriptor: PropertyDescriptor | undefined, node: Format | undefined): () => unknown {
  let current: unknown = descriptor?.value;
  const wrappers = new WeakMap<Format, Format>();
  const formats = new WeakMap<Format, Format>();
  const wrap = (format: Format): Format => {
    let wrapper = wrappers.get(format);
    if (wrapper) return wrapper;
    wrapper =
      format === node
        ? function prepareStackTrace(this: unknown, error: unknown, trace: unknown) {
            if (Array.isArray(trace) && ownDirectory !== undefined) trace = withoutOwnFrames(trace);
            return Reflect.apply(format, this, [error, Array.isArray(trace) && registered.size > 0 ? trace.map(nodeSite) : trace]);
          }
        : function prepareStackTrace(this: unknown, error: unknown, trace: unknown) {
            if (Array.isArray(trace) && ownDirectory !== undefined) trace = withoutOwnFrames(trace);
            if (Array.isArray(trace) && registered.size > 0) {
              try {
                untraceSites(trace);
              } catch {
                // Positions stay as V8 gave them.
              }
            }
            return Reflect.apply(format, this, [error, trace]);
          };
    try {
      Object.defineProperty(wrapper, "name", { value: format.name, configurable: true });
    } catch {
      // A function whose name cannot be read: the wrapper keeps its own.
    }
    wrappers.set(format, wrapper);
    formats.set(wrapper, format);
    return wrapper;
  };
  Object.defineProperty(errors, "prepareStackTrace", {
    configurable: true,
    enumerable: descriptor?.enumerable ?? false,
    get() {
      return typeof current === "function" ? wrap(current as Format) : current;
    },
    set(value: unknown) {
      current = typeof value === "function" ? (formats.get(value as Format) ?? value) : value;
    },
  });
  return () => current;
}

/**
 * Bun: its CallSite methods are ordinary (writable) prototype methods, and Bun reports
 * instrumented positions everywhere (it does not apply the inline map of a plugin's
 * output), so the position methods and toString of its CallSite prototype give untraced
 * positions for instrumented files, whoever asks. Bun's own `error.stack` text (no
 * prepareStackTrace) is formatted natively and keeps the instrumented columns.
 */
export function installBunCallSitePositions(): boolean {
  const host = globalThis as Record<symbol, unknown>;
  if (host[installedKey]) return false;
  const errors = Error as ErrorConstructor & { prepareStackTrace?: unknown };
  if (typeof errors.captureStackTrace !== "function") return false;
  const saved = Object.getOwnPropertyDescriptor(errors, "prepareStackTrace");
  let proto: Record<string, unknown> | undefined;
  try {
    errors.prepareStackTrace = (_error: unknown, trace: unknown) => trace;
    const holder: { stack?: unknown } = {};
    errors.captureStackTrace(holder);
    const trace = holder.stack;
    if (Array.isArray(trace) && trace.length > 0 && typeof trace[0] === "object") proto = Object.getPrototypeOf(trace[0]) as Record<string, unknown>;
  } catch {
    proto = undefined;
  } finally {
    // Assigned back: Bun takes the formatter when it is set (defining or deleting the
    // property leaves the temporary one in force).
    errors.prepareStackTrace = saved && "value" in saved ? saved.value : undefined;
  }
  if (!proto || proto === Object.prototype) return false;
  type Method = (this: unknown) => unknown;
  const original = (name: string) => {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    return descriptor && typeof descriptor.value === "function" && descriptor.writable && descriptor.configurable ? (descriptor.value as Method) : undefined;
  };
  const fileName = original("getFileName");
  const lineNumber = original("getLineNumber");
  const columnNumber = original("getColumnNumber");
  const text = original("toString");
  if (!fileName || !lineNumber || !columnNumber || !text) return false;
  host[installedKey] = true;
  const at = (site: unknown): [number, number, number, number] | undefined => {
    if (registered.size === 0) return undefined;
    const line = lineNumber.call(site);
    const column = columnNumber.call(site);
    const mapped = untracedPosition(fileName.call(site), line, column);
    return mapped ? [mapped[0], mapped[1], line as number, column as number] : undefined;
  };
  const replace = (name: string, method: Method) => Object.defineProperty(proto, name, { value: method, writable: true, enumerable: false, configurable: true });
  replace("getLineNumber", function getLineNumber(this: unknown) {
    return at(this)?.[0] ?? lineNumber.call(this);
  });
  replace("getColumnNumber", function getColumnNumber(this: unknown) {
    return at(this)?.[1] ?? columnNumber.call(this);
  });
  replace("toString", function toString(this: unknown) {
    const shown = String(text.call(this));
    const mapped = at(this);
    if (!mapped) return shown;
    const position = `:${mapped[2]}:${mapped[3]}`;
    const index = shown.lastIndexOf(position);
    return index < 0 ? shown : `${shown.slice(0, index)}:${mapped[0]}:${mapped[1]}${shown.slice(index + position.length)}`;
  });
  return true;
}
