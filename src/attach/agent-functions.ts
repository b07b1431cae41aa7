/**
 * Live function tracing in a process scope attached to, by LiveEdit: the script of each
 * chosen function is edited in place through the process's own inspector (an in-process
 * node:inspector Session, so no port stays open): one call is inserted first in each
 * chosen function's body, `try{globalThis.__scope$attach?.c(id,arguments)}catch{}`,
 * and V8's Debugger.setScriptSource swaps the code of the existing functions, closures
 * included (same identity, same state). Removing puts the original text back the same way.
 *
 * Chosen by measurement over conditional breakpoints (a breakpoint whose condition records
 * and returns false: 57-150 µs of CPU per call in Node 20, V8 enters the debugger for each
 * hit) and replacing the functions reachable from module exports (~150 ns a call, but calls
 * through references taken before, such as a router's handler, are missed and identity
 * changes): ARCHITECTURE.md "scope attach". An edited call costs ~20-40 ns.
 *
 * What the program could notice: Function.prototype.toString of an edited function is
 * answered from the original text while the edit is live (toString is replaced then and put
 * back when the last edit goes); a stack frame on the line of an edited function's `{`,
 * after it, reports a column moved by the inserted text's length. V8 refuses an edit that
 * changes a function running or suspended (a generator, an async function awaiting); every
 * edit, refused or not, costs the program one LiveEdit (a heap walk: ~100 ms of its main
 * thread at a 10 MB heap, ~0.5 s at 180 MB). So a refused edit is tried again only a few
 * times, spaced out, and then the script's plain functions (never suspended) are edited
 * without its async functions and generators, which are reported as refused; a removal
 * likewise restores the plain ones at least (`editToward`).
 */
import type * as Inspector from "node:inspector";
import { parseModule, parseScript } from "meriyah";
import { Kind } from "../agent/shared/kinds";
import { preview, type TypeChecks } from "../agent/shared/preview";
import type { Recorder } from "../agent/shared/recorder";
import { Matcher } from "../instrument/match";

/** The global the inserted calls read (non-enumerable, deleted at the detach). */
export const HOOK_KEY = "__scope$attach";
/** Marks the inserted text so toString can take it out again exactly. */
const MARK = "/*scope:attach*/";

export interface FunctionSelection {
  /**
   * Path globs relative to `root` (the process's working directory), matched as `scope run
   * --include` matches them (match.ts Matcher): against a file's real path and the paths it
   * has through symlinks (pnpm's `node_modules/<name>`, a symlinked node_modules, a hoisted
   * workspace's); none: every file outside node_modules.
   */
  files: string[];
  root: string;
  /** RegExp sources over function names ("createOrder", "Orders.create"); none: every function. */
  names: string[];
  /** Files never edited (scope's own agent bundle). */
  skip?: string[];
}

export interface FunctionsResult {
  added: number;
  refused: number;
  scripts: number;
  /** Why scripts were refused (V8's status), at most a few. */
  reasons: string[];
}

interface Traced {
  id: number;
  name: string;
  calls: number;
}

/**
 * By URL. V8's LiveEdit keeps the script's id for the new text and moves the old text to a
 * new script of the same URL (reported to later sessions): the live script is the one with
 * the lowest id, and the id the edit used stays the one to restore through.
 */
interface EditedScript {
  scriptId: string;
  url: string;
  original: string;
  /** The functions whose call is in the script's live text. */
  functions: Traced[];
  /** Where each traced function's call went (to write the text with a subset of them). */
  places: Map<Traced, Found>;
}

interface Found {
  name: string;
  /** Offset where the call goes (after the body's `{`), or the expression body's range for an arrow. */
  insertAt: number;
  expressionEnd?: number;
  /** What the call passes as the arguments: `arguments`, or an arrow's plain parameter names as an array. */
  args: string;
  line: number;
  column: number;
  /** An async function or a generator: one suspended blocks an edit of its body. */
  suspends: boolean;
}

/**
 * Waits before each new try of an edit V8 refused because a changed function runs or is
 * suspended: each try is a LiveEdit the program pays for on its main thread, so few and
 * spaced out (until 2026-12-07: 20 tries 50 ms apart, up to 20 heap walks in ~1-10 s).
 */
const EDIT_RETRY_MS = [100, 200, 400, 800];
const PREVIEW_LIMITS = { depth: 2, chars: 96 };

export class LiveFunctions {
  private session: Inspector.Session | undefined;
  private readonly edited = new Map<string, EditedScript>();
  private readonly byId: Traced[] = [];
  private nextId = 1;
  private originalToString: typeof Function.prototype.toString | undefined;
  private ourToString: typeof Function.prototype.toString | undefined;

  constructor(
    private readonly recorder: Recorder,
    private readonly types: TypeChecks,
    private readonly inspector: typeof Inspector,
  ) {}

  /** The hook the inserted calls find: records one call (id, arguments preview). */
  call(id: number, args: ArrayLike<unknown> | undefined): void {
    const traced = this.byId[id];
    if (!traced) return;
    traced.calls++;
    try {
      const text = args === undefined ? "" : preview(Array.prototype.slice.call(args), this.types, PREVIEW_LIMITS);
      if (text === "") this.recorder.event(Kind.attach_function_call, id);
      else this.recorder.eventWithString(Kind.attach_function_call, id, 0, 0, 0, text);
    } catch (error) {
      this.recorder.fail(error);
    }
  }

  async add(selection: FunctionSelection): Promise<FunctionsResult> {
    const result: FunctionsResult = { added: 0, refused: 0, scripts: 0, reasons: [] };
    const matcher = new Matcher({ root: selection.root, include: selection.files.length > 0 ? selection.files : undefined });
    // V8's script URLs are real paths, as Node's loaders give them.
    matcher.loadedIsReal = true;
    const names = selection.names.map((source) => new RegExp(source));
    const scripts = await this.enable();
    try {
      for (const script of scripts.values()) {
        const path = pathOf(script.url);
        if (path === undefined || this.edited.has(script.url) || selection.skip?.includes(path)) continue;
        if (!matcher.file(path)) continue;
        const { scriptSource } = (await this.post("Debugger.getScriptSource", { scriptId: script.scriptId })) as { scriptSource: string };
        // An expression-bodied arrow's call has no try around it: not in a file that binds the name globalThis.
        const shadows = /\b(?:var|let|const|function|class|import)\s+(?:\{[^}]*)?\bglobalThis\b/.test(scriptSource);
        const found = findFunctions(scriptSource, script.isModule === true).filter((fn) => !shadows || fn.expressionEnd === undefined).filter((fn) => names.length === 0 || names.some((name) => name.test(fn.name) || name.test(lastPart(fn.name))));
        if (found.length === 0) continue;
        result.scripts++;
        await this.editScript(script, scriptSource, found, result);
      }
    } finally {
      await this.disable();
    }
    return result;
  }

  /** Puts every edited script's original text back; returns how many functions were restored. */
  async removeAll(): Promise<{ removed: number; failed: number }> {
    let removed = 0;
    let failed = 0;
    if (this.edited.size === 0) return { removed, failed };
    const scripts = await this.enable();
    try {
      for (const script of [...this.edited.values()]) {
        const suspendable = script.functions.filter((traced) => script.places.get(traced)!.suspends);
        const text = (chosen: Traced[]) => withCalls(script.original, chosen, script.places);
        const { live } = scripts.has(script.url) ? await this.editToward(script.scriptId, script.functions, [], suspendable, text) : { live: script.functions };
        for (const fn of script.functions) {
          const ok = !live.includes(fn);
          this.recorder.event(Kind.attach_function_remove, fn.id, fn.calls, fn.calls, 0, 0, ok ? 0 : 1);
          if (ok) this.byId[fn.id] = undefined as never;
        }
        removed += script.functions.length - live.length;
        failed += live.length;
        if (live.length === 0) this.edited.delete(script.url);
        else script.functions = live;
      }
    } finally {
      await this.disable();
    }
    if (this.edited.size === 0) this.restoreToString();
    return { removed, failed };
  }

  private async editScript(script: ScriptParsed, source: string, found: Found[], result: FunctionsResult): Promise<void> {
    const functions = found.map((fn) => ({ fn, traced: { id: this.nextId++, name: fn.name, calls: 0 } }));
    const places = new Map(functions.map(({ fn, traced }) => [traced, fn]));
    for (const { traced } of functions) this.byId[traced.id] = traced;
    this.installToString();
    const all = functions.map(({ traced }) => traced);
    const plain = all.filter((traced) => !places.get(traced)!.suspends);
    const { live, status } = await this.editToward(script.scriptId, [], all, plain, (chosen) => withCalls(source, chosen, places));
    for (const { fn, traced } of functions) {
      const ok = live.includes(traced);
      this.recorder.event(Kind.attach_function_add, traced.id, this.recorder.str(fn.name), this.recorder.str(script.url), fn.line, fn.column, ok ? 0 : 1);
      if (!ok) this.byId[traced.id] = undefined as never;
    }
    if (live.length > 0) {
      this.edited.set(script.url, { scriptId: script.scriptId, url: script.url, original: source, functions: live, places });
      result.added += live.length;
    }
    if (live.length < all.length) {
      result.refused += all.length - live.length;
      if (result.reasons.length < 4) result.reasons.push(`${script.url}: ${status}${live.length > 0 ? " (its async functions and generators)" : ""}`);
      if (this.edited.size === 0) this.restoreToString();
    }
  }

  /**
   * Takes a script from the text with `current`'s calls in it to the one with `target`'s
   * (`text(chosen)` writes it), as far as V8 lets it: in one edit; when V8 refuses because a
   * changed function is suspended or running, again a few times, spaced out (EDIT_RETRY_MS),
   * then to `fallback` (the target's plain functions with the suspendable ones left as they
   * are: a plain function is never suspended, and none of the program's can be running under
   * scope's own task). Which functions' calls the live text has afterwards, and V8's last status.
   */
  private async editToward(scriptId: string, current: Traced[], target: Traced[], fallback: Traced[], text: (chosen: Traced[]) => string): Promise<{ live: Traced[]; status: string }> {
    let status = await this.setSource(scriptId, text(target));
    for (const delayMs of EDIT_RETRY_MS) {
      if (status === "Ok") return { live: target, status };
      if (!status.startsWith("BlockedBy")) return { live: current, status };
      await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      status = await this.setSource(scriptId, text(target));
    }
    if (status === "Ok") return { live: target, status };
    if (!status.startsWith("BlockedBy") || sameSet(fallback, current)) return { live: current, status };
    return { live: (await this.setSource(scriptId, text(fallback))) === "Ok" ? fallback : current, status };
  }

  /** One Debugger.setScriptSource: V8's status ("Ok", "BlockedByActiveGenerator", a compile error). */
  private async setSource(scriptId: string, scriptSource: string): Promise<string> {
    try {
      const reply = (await this.post("Debugger.setScriptSource", { scriptId, scriptSource })) as { status?: string; exceptionDetails?: { text?: string } };
      if (reply.exceptionDetails) return `CompileError ${reply.exceptionDetails.text ?? ""}`;
      return reply.status ?? "Ok";
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** toString of an edited function answers the original text (the marked insertions taken out). */
  private installToString(): void {
    if (this.ourToString) return;
    const original = Function.prototype.toString;
    const strip = /\/\*scope:attach\*\/[^]*?\/\*scope:attach\*\//g;
    const replacement = {
      toString(this: unknown): string {
        const text = Reflect.apply(original, this, []) as string;
        return text.includes(MARK) ? text.replace(strip, "") : text;
      },
    }.toString;
    Object.defineProperty(replacement, "name", { value: "toString" });
    this.originalToString = original;
    this.ourToString = replacement;
    Object.defineProperty(Function.prototype, "toString", { value: replacement, writable: true, configurable: true, enumerable: false });
  }

  private restoreToString(): void {
    if (!this.ourToString || !this.originalToString) return;
    // Only when still ours: a later replacement by the program stays (ours then answers through it).
    if (Function.prototype.toString === this.ourToString) {
      Object.defineProperty(Function.prototype, "toString", { value: this.originalToString, writable: true, configurable: true, enumerable: false });
      this.ourToString = undefined;
    }
  }

  /** The debugger on; the scripts by URL, the live one of each (lowest id: see EditedScript). */
  private async enable(): Promise<Map<string, ScriptParsed>> {
    const scripts = new Map<string, ScriptParsed>();
    const session = new this.inspector.Session();
    session.on("Debugger.scriptParsed", (message: { params: ScriptParsed }) => {
      const script = message.params;
      if (!script.url) return;
      const known = scripts.get(script.url);
      if (!known || Number(script.scriptId) < Number(known.scriptId)) scripts.set(script.url, script);
    });
    session.connect();
    this.session = session;
    await this.post("Debugger.enable", {});
    return scripts;
  }

  /** Debugger off and the session gone: V8's debugger is active only while scripts are edited. */
  private async disable(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    try {
      await new Promise<void>((resolve) => session.post("Debugger.disable", {}, () => resolve()));
    } finally {
      session.disconnect();
    }
  }

  private post(method: string, params: object): Promise<unknown> {
    const session = this.session;
    if (!session) return Promise.reject(new Error("no inspector session"));
    return new Promise((resolve, reject) => session.post(method, params, (error, reply) => (error ? reject(error) : resolve(reply))));
  }
}

interface ScriptParsed {
  scriptId: string;
  url: string;
  isModule?: boolean;
}

function pathOf(url: string): string | undefined {
  if (url.startsWith("file://")) {
    try {
      return decodeURIComponent(new URL(url).pathname);
    } catch {
      return undefined;
    }
  }
  return url.startsWith("/") ? url : undefined;
}

/** A script's original text with the calls of `chosen` inserted (from the end, so earlier offsets hold). */
function withCalls(source: string, chosen: Traced[], places: Map<Traced, Found>): string {
  let edited = source;
  for (const traced of [...chosen].sort((x, y) => places.get(y)!.insertAt - places.get(x)!.insertAt)) {
    const fn = places.get(traced)!;
    const call = `globalThis.${HOOK_KEY}?.c(${traced.id}${fn.args})`;
    // A block body takes a try: nothing the hook does (or a program that shadows globalThis) reaches the program.
    if (fn.expressionEnd === undefined) edited = `${edited.slice(0, fn.insertAt)}${MARK}try{${call}}catch{}${MARK}${edited.slice(fn.insertAt)}`;
    // An expression body: only at its start (V8 takes an edit at a function's very end for one
    // outside it: an ES module would refuse it as a top-level change), `(call,false)?0:` before
    // it, whose alternative is parsed as the same AssignmentExpression a concise body is.
    else edited = `${edited.slice(0, fn.insertAt)}${MARK}(${call},false)?0:${MARK}${edited.slice(fn.insertAt)}`;
  }
  return edited;
}

function sameSet(x: Traced[], y: Traced[]): boolean {
  return x.length === y.length && x.every((item) => y.includes(item));
}

function lastPart(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? name : name.slice(dot + 1);
}

interface Node {
  type: string;
  start: number;
  end: number;
  loc?: { start: { line: number; column: number } };
  [key: string]: unknown;
}

/** The functions of a source with their names and where a call goes in. */
export function findFunctions(source: string, isModule: boolean): Found[] {
  const options = { ranges: true, loc: true, next: true, webcompat: true, globalReturn: true, preserveParens: false } as const;
  let program: Node;
  try {
    program = (isModule ? parseModule(source, options) : parseScript(source, options)) as unknown as Node;
  } catch {
    return [];
  }
  const found: Found[] = [];
  const visit = (node: unknown, name: string | undefined, owner: string | undefined) => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, undefined, owner);
      return;
    }
    const current = node as Node;
    if (typeof current.type !== "string") return;
    switch (current.type) {
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression": {
        const id = (current.id as { name?: string } | null)?.name;
        const fnName = name ?? id ?? "(anonymous)";
        const body = current.body as Node;
        const arrow = current.type === "ArrowFunctionExpression";
        const params = current.params as Node[];
        // An arrow has no `arguments` of its own: its parameters when they are plain names (no default, pattern or rest).
        const args = !arrow ? ",arguments" : params.every((param) => param.type === "Identifier") ? `,[${params.map((param) => param.name as string).join(",")}]` : "";
        const usesArgumentsName = params.some((param) => param.type === "Identifier" && param.name === "arguments");
        if (body && !usesArgumentsName) {
          const loc = current.loc?.start ?? { line: 0, column: 0 };
          const suspends = current.async === true || current.generator === true;
          if (body.type === "BlockStatement") found.push({ name: fnName, insertAt: body.start + 1, args, line: loc.line, column: loc.column + 1, suspends });
          else found.push({ name: fnName, insertAt: body.start, expressionEnd: body.end, args, line: loc.line, column: loc.column + 1, suspends });
        }
        visit(current.params, undefined, owner);
        visit(current.body, undefined, owner);
        return;
      }
      case "VariableDeclarator":
        visit(current.init, keyName(current.id), owner);
        return;
      case "AssignmentExpression":
        visit(current.right, memberName(current.left as Node), owner);
        return;
      case "ClassDeclaration":
      case "ClassExpression": {
        const className = (current.id as { name?: string } | null)?.name ?? name ?? "(class)";
        visit(current.superClass, undefined, owner);
        visit(current.body, undefined, className);
        return;
      }
      case "MethodDefinition":
      case "PropertyDefinition":
      case "Property": {
        const key = keyName(current.key);
        const label = key === undefined ? undefined : current.kind === "constructor" ? (owner ?? key) : owner ? `${owner}.${key}` : key;
        if (current.computed) visit(current.key, undefined, owner);
        visit(current.value, label, owner);
        return;
      }
      default:
        for (const key in current) {
          if (key === "loc" || key === "start" || key === "end" || key === "range") continue;
          visit(current[key], undefined, owner);
        }
    }
  };
  visit(program, undefined, undefined);
  return found;
}

function keyName(node: unknown): string | undefined {
  const key = node as { type?: string; name?: string; value?: unknown } | null;
  if (!key) return undefined;
  if (key.type === "Identifier" || key.type === "PrivateIdentifier") return key.name;
  if (key.type === "Literal" && (typeof key.value === "string" || typeof key.value === "number")) return String(key.value);
  return undefined;
}

function memberName(node: Node): string | undefined {
  if (node.type === "Identifier") return node.name as string;
  if (node.type !== "MemberExpression" || node.computed) return undefined;
  const property = keyName(node.property);
  const object = node.object as Node;
  const base = object.type === "Identifier" ? (object.name as string) : object.type === "ThisExpression" ? "this" : memberName(object);
  if (property === undefined) return undefined;
  if (base === "module" || base === "exports" || base === "this") return property;
  return base === undefined ? property : `${base}.${property}`;
}
