/**
 * Step 3 of the pipeline: insert entry/exit calls into every matched function, as text
 * edits on a MagicString (nothing else of the file is reprinted, and no line is added
 * inside the program: line numbers stay the original ones even without source maps).
 *
 * One visit state per file, a table from node type to handler (istanbul's shape), ids
 * allocated in one place (`visit.functions`). What a function becomes, at "full":
 *
 *   function f(a) { BODY }
 *   function f(a) { var $t=(H||I()).C(F+n,arguments),$r;try{ BODY' }
 *                   catch($e){$t=H.x(F+n,$t,$e);throw $e}finally{H.r(F+n,$t,$r)} }
 *
 * where BODY' has each `return X` as `return $r=(X)`. In generators each `yield X`
 * becomes `yield* H.w(F+n,$t,X)`: a one-step iterator that yields X and hands back
 * what next(v) sent, so the hook sees the yield, the resume and a consumer's
 * gen.return(v) (yield* forwards it; exact, no result object re-wrapped), and `$r`
 * starts as H.u so H.r can tell "fell off the end" from "returned"; async generators
 * keep `H.n(F+n,$t,yield H.y(F+n,$t,(X)))` (a yield* would change their await ticks).
 * Async functions call H.X/H.s (settle) instead of H.x/H.r. At "calls" only
 * `(H||I()).c(F+n);` is inserted. H, I and F are the file's hook variable, its hoisted
 * initialiser and its first function id, appended at the end of the file (see
 * print.ts): hoisted, so a function called before the module body runs (circular
 * imports) still finds them. F is named `__scope$f<tag>`, the tag a hash of the source,
 * so every instrumented function's own text says which file and which function it is
 * (runtime.ts reads it back from Function.prototype.toString: listener ids, original
 * source text). Nothing reads `this`, so derived constructors may call the hook before
 * `super()`; parameters are untouched (fn.length, defaults, their scope), declarations
 * stay declarations (hoisting, fn.name), directives stay first.
 *
 * Parameters are never edited, so a default initializer that throws (or a destructuring
 * parameter that fails) records no call: the entry call is the body's first statement.
 * Recording "call then throw" would need code around the initializer, and an expression
 * cannot catch: only a function frame can (a thunk `a = H.p(() => init)`), which adds
 * frames to every error's stack the program sees, and moving defaults into the body
 * changes fn.length, the parameter scope and TDZ. So it is left as is (documented).
 *
 * Listeners: `x.on("name", <inline function>)` is known statically (listenerOf, the
 * table's listeners argument). Any other `x.on(a, b, ...)` (on, once, addListener,
 * prepend(Once)Listener, addEventListener; a non-computed member callee, two or more
 * arguments, no spread in the first two) becomes `x.on(A, (H||I()).l(E,b,"on"[,id]), ...)`:
 * the arguments keep their order and single evaluation, the call its receiver, and `l`
 * returns b itself. E is the literal name when there is one, else `A` is `$a=(a)` and E
 * reads `$a` back (before b runs, so a nested registration inside b cannot change it);
 * `id` is given when b is an inline function (0 when it is not instrumented).
 */
import { createHash } from "node:crypto";
import type MagicString from "magic-string";
import type { Level } from "./match";
import { lineEndFrom, lineStarts, stringLiteral } from "./line-ends";
import { bindingNames, type ChildKeys, type Node } from "./parse";

/** The global the injected code looks up: the runtime's hook object (runtime.ts). */
export const HOOK_KEY = "scope.functions";
export const HOOK = "__scope$";
export const INIT = "__scope$i";
/**
 * The hook object at a hook call: `__scope$` once set, else INIT's result. `??`, not `||`:
 * V8 compiles `||` on a value it has no type for into a full ToBoolean (Smi, false, "",
 * undetectable, HeapNumber and BigInt checks: ~14 instructions per instrumented call),
 * `??` into two compares with undefined and null.
 */
export const HOOKED = `(${HOOK}??${INIT}())`;
/** The file's first function id; the emitted name is this plus the file's tag (TAG_CHARS). */
export const BASE = "__scope$f";
/** The event name of a listener registration, read back once (see visitCall). */
export const TEMP = "__scope$a";
/** Hands the file's initialiser to the runtime when the module starts (see print.ts). */
export const PENDING = "__scope$p";
export const CALL_TOKEN = "__scope$t";
export const RETURN_VALUE = "__scope$r";
const CAUGHT = "__scope$e";
/** Characters of the file tag after BASE: [0-9a-z], from the source's hash. */
export const TAG_CHARS = 8;

export const FunctionFlag = {
  async: 1,
  generator: 2,
  arrow: 4,
  method: 8,
  getter: 16,
  setter: 32,
  constructor: 64,
  static: 128,
  /** A stateful handler's method: its events carry the receiver's fields (settings `stateful`). */
  stateful: 256,
} as const;

export interface FunctionInfo {
  name: string;
  /** 1-based, original positions. */
  line: number;
  column: number;
  flags: number;
  level: Exclude<Level, "off">;
  /** Passed inline as a listener: `emitter.on("event", fn)` (see listenerOf). */
  listener?: { event: string; method: string };
}

/**
 * The text a function (or class) object shows through Function.prototype.toString, for
 * every function and class whose text the transform changed: [start, end) in the
 * original source (where the engine's text for it starts: a method's from its `async`,
 * `get`, `*` or key, after `static`; a class from `class`; a constructor is its class),
 * how many characters were inserted into it, and `key`, the smallest function index in
 * it, which is the smallest `BASE<tag>+n` the instrumented text contains. Nested texts
 * sharing a key differ in length (the outer one strictly contains the inner one), so
 * (key, instrumented length) finds the one entry a verbatim engine (V8) shows.
 */
export interface SourceRange {
  key: number;
  /** The instrumented function it belongs to (a class: its constructor), or -1. */
  index: number;
  start: number;
  end: number;
  inserted: number;
  kind: "function" | "class";
  /** For entries without an instrumented function: the function's or class's name. */
  name: string;
}

export interface SourceInfo {
  /** The file's tag (BASE + tag is its first-id variable). */
  tag: string;
  /** The source's length and 32-bit hash (hashSource), to check a re-read copy. */
  length: number;
  hash: number;
  /** The file has JSX: its original text is not what the engine runs (print.ts). */
  jsx: boolean;
  /** The file has an `import()` expression or a direct eval (node-hooks.ts: no V8 code cache for it on Node 20). */
  dynamicImport: boolean;
  ranges: SourceRange[];
}

const sourceInfos = new WeakMap<FunctionInfo[], SourceInfo>();

/** Keeps what a transform found about the file's texts (transform-raw.ts too). */
export function setSourceInfo(functions: FunctionInfo[], info: SourceInfo): void {
  sourceInfos.set(functions, info);
}

/** What transform() found about the file's texts (print.ts writes it into the table call). */
export function sourceInfoOf(functions: FunctionInfo[]): SourceInfo | undefined {
  return sourceInfos.get(functions);
}

/**
 * Two 32-bit hashes of `code`: the first 8 bytes of the SHA-256 of its UTF-8 (native, where
 * a loop over the UTF-16 units cost a first start ~30 ms on typescript.js; the transform
 * cache hashes the source once for its key and hands the digest on, InstrumentOptions
 * sourceDigest). The first is recorded to check a re-read source (runtime.ts), both make
 * the file's tag.
 */
export function hashSource(code: string, digest?: Uint8Array): [number, number] {
  const bytes = digest ?? sourceDigest(code);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return [view.getUint32(0), view.getUint32(4)];
}

/** The SHA-256 of `code` as UTF-8 (hashSource, the transform cache's key). */
export function sourceDigest(code: string): Uint8Array {
  return sha256().update(code).digest();
}

/** Taken when the module loads: the runtime checks re-read sources inside toString, where the program may have replaced crypto's exports. */
const nodeCreateHash = createHash;
const sha256 = () => nodeCreateHash("sha256");

/** TAG_CHARS base-36 characters from the two hashes (41 bits). */
export function sourceTag(h1: number, h2: number): string {
  return (h2 * 512 + (h1 >>> 23)).toString(36).padStart(TAG_CHARS, "0");
}

/** Registration methods whose second argument is a listener for the event named first. */
export const LISTENER_METHODS = new Set(["on", "once", "addListener", "prependListener", "prependOnceListener", "addEventListener"]);

/**
 * vite's SSR transform (vite 6+: vitest 3's vite-node and vitest 4's module runner) puts
 * a getter of each export at a module's head, `__vite_ssr_exportName__("add", () => { try
 * { return add } catch {} })`, run at every read of an imported binding: vite's plumbing,
 * not the program's, at no place of the source (the map does not cover it: it showed as
 * `<anonymous>` at the file's first lines), and as many calls as the reads. Not traced.
 */
export const VITE_EXPORT_NAME = "__vite_ssr_exportName__";

/** A getter VITE_EXPORT_NAME is handed: the second argument of a call of it. */
function isViteExportGetter(node: Node, parent: Node | null): boolean {
  if (parent?.type !== "CallExpression" || (parent.arguments as Node[])[1] !== node) return false;
  const callee = parent.callee as Node;
  return callee.type === "Identifier" && callee.name === VITE_EXPORT_NAME;
}

/** A string literal or a template without substitutions: its value. */
function literalString(node: Node): string | undefined {
  if (node.type === "Literal" && typeof node.value === "string") return node.value;
  const quasis = node.quasis as Node[] | undefined;
  if (node.type === "TemplateLiteral" && quasis?.length === 1) {
    const cooked = (quasis[0]!.value as { cooked?: string } | undefined)?.cooked;
    if (typeof cooked === "string") return cooked;
  }
  return undefined;
}

function isFunctionNode(node: Node): boolean {
  return node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression";
}

/** `x.on(...)` and the like: the method name, when the callee is a non-computed member. */
function listenerMethod(call: Node): string | undefined {
  const callee = call.callee as Node;
  if (callee.type !== "MemberExpression" || callee.computed === true) return undefined;
  const property = callee.property as Node;
  if (property.type !== "Identifier" || !LISTENER_METHODS.has(String(property.name))) return undefined;
  return String(property.name);
}

/**
 * `x.on("name", <this function>)` and the like, with the event a string literal (or a
 * template without substitutions): the event it handles, known without running anything.
 */
function listenerOf(node: Node, parent: Node | null): { event: string; method: string } | undefined {
  if (!parent || parent.type !== "CallExpression") return undefined;
  const args = parent.arguments as Node[];
  if (args.length < 2 || args[1] !== node) return undefined;
  const method = listenerMethod(parent);
  if (method === undefined) return undefined;
  const event = literalString(args[0]!);
  return event === undefined ? undefined : { event: event.slice(0, 200), method };
}

/** The function being visited: what its returns and yields become. */
export interface Scope {
  id: string;
  full: boolean;
  generator: boolean;
  async: boolean;
}

/** A class or object literal whose methods are being visited. */
export interface Container {
  name: string;
  /** Its methods are stateful handlers (settings `stateful`): `this` is snapshot. */
  stateful: boolean;
  /** A class's instrumented constructor (its function index), if any. */
  constructorIndex?: number;
}

/** Where a text began to be visited: characters inserted and functions allocated so far. */
export interface Mark {
  inserted: number;
  first: number;
}

interface Visit {
  code: string;
  edits: MagicString;
  functions: FunctionInfo[];
  lineStarts: number[];
  levelOf: (name: string) => Level;
  classNames: string[];
  statefulOf: (container: string) => boolean;
  containers: Container[];
  /** `BASE<tag>`: the file's first-id variable. */
  base: string;
  /** Characters inserted so far (every edit goes through insert*). */
  inserted: number;
  ranges: SourceRange[];
  /** Methods and accessors being visited: their text starts before their function node. */
  members: Map<Node, Mark>;
  /** Inline functions passed as call arguments, instrumented: their index. */
  inlineIndex: Map<Node, number>;
  /**
   * Logical and conditional expressions being visited whose place names them, with that name:
   * a function that is one of their values takes it (`var __awaiter = (this && this.__awaiter)
   * || function (…) {…}`, tsc's helpers; `x = c ? () => … : null`), as V8 names it in stacks.
   */
  passNames: Map<Node, string>;
  /** Inside a function that is "off": its code is left untouched. */
  offDepth: number;
  jsx: boolean;
  dynamicImport: boolean;
  /** Per node type, the keys that can hold child nodes (parse.ts ChildKeys); absent: every key. */
  childKeys: ChildKeys | undefined;
}

type Handler = (visit: Visit, node: Node, parent: Node | null, scope: Scope | null) => void;

const handlers: Record<string, Handler> = {
  FunctionDeclaration: visitFunction,
  FunctionExpression: visitFunction,
  ArrowFunctionExpression: visitFunction,
  ReturnStatement: visitReturn,
  YieldExpression: visitYield,
  ClassDeclaration: visitClass,
  ClassExpression: visitClass,
  ObjectExpression: visitObject,
  MethodDefinition: visitMember,
  Property: visitMember,
  CallExpression: visitCall,
  JSXElement: visitJsx,
  JSXFragment: visitJsx,
  ImportExpression: visitImport,
  LogicalExpression: visitPassingName,
  ConditionalExpression: visitPassingName,
};

/** Instruments every function of `program` that `levelOf` does not turn off. */
export function transform(
  program: Node,
  code: string,
  edits: MagicString,
  levelOf: (name: string) => Level,
  statefulOf: (container: string) => boolean = () => false,
  childKeys?: ChildKeys,
  /** The source's SHA-256 when the caller has it (hashSource). */
  digest?: Uint8Array,
): FunctionInfo[] {
  const [h1, h2] = hashSource(code, digest);
  const tag = sourceTag(h1, h2);
  const visit: Visit = {
    code,
    edits,
    functions: [],
    lineStarts: lineStarts(code),
    levelOf,
    classNames: [],
    statefulOf,
    containers: [],
    base: BASE + tag,
    inserted: 0,
    ranges: [],
    members: new Map(),
    inlineIndex: new Map(),
    passNames: new Map(),
    offDepth: 0,
    jsx: false,
    dynamicImport: false,
    childKeys,
  };
  walk(visit, program, null, null);
  if (visit.functions.length > 0) announce(visit, program);
  sourceInfos.set(visit.functions, { tag, length: code.length, hash: h1, jsx: visit.jsx, dynamicImport: visit.dynamicImport, ranges: visit.ranges });
  return visit.functions;
}

/**
 * `__scope$p();` before the program's first statement (after any directive, on its
 * line): tells the runtime, when the module starts, how to register the file, so a
 * function of a file none of whose functions ran yet is still found by its text (a
 * handler imported from it, its toString). Registration itself stays lazy.
 */
function announce(visit: Visit, program: Node): void {
  const statements = (program.body as Node[] | undefined) ?? [];
  const first = statements.find((statement) => !(statement.type === "ExpressionStatement" && typeof statement.directive === "string"));
  const last = statements[statements.length - 1];
  if (first) insertBefore(visit, first.start, `${PENDING}();`);
  else if (last) insertLeft(visit, last.end, `;${PENDING}();`);
}

function walk(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const handler = handlers[node.type];
  if (handler) handler(visit, node, parent, scope);
  else children(visit, node, scope);
}

function children(visit: Visit, node: Node, scope: Scope | null): void {
  // The parser's own table of child keys when it has one (oxc: its nodes' shapes are generated
  // from the same schema); else Object.keys over for-in: many node shapes defeat for-in's
  // enumeration cache.
  const keys = visit.childKeys?.[node.type] ?? Object.keys(node);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    if (key === "loc" || key === "range" || key === "parent") continue;
    const value = node[key];
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === "object" && typeof (item as Node).type === "string") walk(visit, item as Node, node, scope);
    } else if (typeof (value as Node).type === "string") walk(visit, value as Node, node, scope);
  }
}

// Every edit goes through these, so a text's inserted length is a difference of counters.
function insertRight(visit: Visit, at: number, text: string): void {
  visit.edits.appendRight(at, text);
  visit.inserted += text.length;
}

function insertLeft(visit: Visit, at: number, text: string): void {
  visit.edits.appendLeft(at, text);
  visit.inserted += text.length;
}

/** Before anything already inserted at `at`: wraps what starts there. */
function insertBefore(visit: Visit, at: number, text: string): void {
  visit.edits.prependRight(at, text);
  visit.inserted += text.length;
}

function mark(visit: Visit): Mark {
  return { inserted: visit.inserted, first: visit.functions.length };
}

/** Records the text of a function or class the transform changed (see SourceRange). */
function addRange(visit: Visit, from: Mark, start: number, end: number, index: number, kind: SourceRange["kind"], name: string): void {
  if (visit.functions.length === from.first) return; // nothing instrumented inside: the text is the original
  visit.ranges.push({ key: from.first, index, start, end, inserted: visit.inserted - from.inserted, kind, name: index >= 0 && kind === "function" ? "" : name });
}

/** A logical or conditional expression: the name its place gives, passed on to its values (Visit.passNames). */
function visitPassingName(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const name = parent ? nameFromParent(visit, parent, node) : "";
  if (name === "") return children(visit, node, scope);
  visit.passNames.set(node, name);
  children(visit, node, scope);
  visit.passNames.delete(node);
}

function visitImport(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  visit.dynamicImport = true;
  children(visit, node, scope);
}

function visitJsx(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  visit.jsx = true;
  children(visit, node, scope);
}

function visitClass(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const id = node.id as Node | null;
  const name = id ? String(id.name) : (parent && nameFromParent(visit, parent, node)) || "<class>";
  const from = mark(visit);
  const container: Container = { name, stateful: visit.statefulOf(name) };
  visit.classNames.push(name);
  visit.containers.push(container);
  children(visit, node, scope);
  visit.containers.pop();
  visit.classNames.pop();
  addRange(visit, from, classStart(visit, node), node.end, container.constructorIndex ?? -1, "class", name);
}

/** An object literal: its methods are stateful when the name it is bound to matches. */
function visitObject(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const name = parent && (parent.type === "VariableDeclarator" || parent.type === "AssignmentExpression") ? nameFromParent(visit, parent, node) : "";
  visit.containers.push({ name, stateful: name !== "" && visit.statefulOf(name) });
  children(visit, node, scope);
  visit.containers.pop();
}

/** A method or accessor: its text starts at its key (or async/get/set/*), so it is marked here. */
function visitMember(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  if (!isMethodLike(node)) return children(visit, node, scope);
  visit.members.set(node, mark(visit));
  children(visit, node, scope);
  visit.members.delete(node);
}

function isMethodLike(member: Node | null): boolean {
  if (!member) return false;
  if (member.type === "MethodDefinition") return true;
  return member.type === "Property" && (member.method === true || member.kind === "get" || member.kind === "set");
}

/**
 * Whether `node` is a method of a stateful container whose `this` is the instance once
 * the body runs: class methods, accessors and instance fields holding a function (not
 * constructors: `this` may be unbound before super(); not static), object literal
 * methods and function-valued properties (not arrows: their `this` is the outer one).
 */
function isStatefulMethod(visit: Visit, node: Node, parent: Node | null): boolean {
  const container = visit.containers[visit.containers.length - 1];
  if (!container?.stateful || !parent) return false;
  if (parent.type === "MethodDefinition") return parent.kind !== "constructor" && parent.static !== true;
  if (parent.type === "PropertyDefinition") return parent.value === node && parent.static !== true;
  if (parent.type === "Property") return parent.value === node && node.type !== "ArrowFunctionExpression";
  return false;
}

function visitFunction(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const body = node.body as Node | null;
  if (!body) return children(visit, node, scope); // TypeScript overloads, declare, abstract
  const method = isMethodLike(parent) && parent!.value === node ? parent! : null;
  const from = (method && visit.members.get(method)) || mark(visit);
  const isConstructor = method?.kind === "constructor";
  const name = functionName(visit, node, parent);
  const level = isViteExportGetter(node, parent) ? "off" : visit.levelOf(name);
  let index = -1;
  if (level === "off") {
    visit.offDepth++;
    children(visit, node, null);
    visit.offDepth--;
  } else {
    index = visit.functions.length;
    instrumentFunction(visit, node, parent, body, name, level);
    if (parent?.type === "CallExpression" && (parent.arguments as Node[])[1] === node) visit.inlineIndex.set(node, index);
    if (isConstructor) {
      const container = visit.containers[visit.containers.length - 1];
      if (container) container.constructorIndex = index;
    }
  }
  // A constructor's text is its class's (visitClass records it).
  if (!isConstructor) addRange(visit, from, method ? memberStart(visit, method) : node.start, node.end, index, "function", name);
}

function instrumentFunction(visit: Visit, node: Node, parent: Node | null, body: Node, name: string, level: Exclude<Level, "off">): void {
  const index = visit.functions.length;
  const { line, column } = position(visit.lineStarts, node.start);
  const flags = functionFlags(node, parent);
  const listener = listenerOf(node, parent);
  visit.functions.push(listener ? { name, line, column, flags, level, listener } : { name, line, column, flags, level });
  const own: Scope = { id: `${visit.base}+${index}`, full: level === "full", generator: node.generator === true, async: node.async === true };
  const self = own.full && isStatefulMethod(visit, node, parent) ? ",this" : "";
  if (self) visit.functions[index]!.flags |= FunctionFlag.stateful;
  const arrow = node.type === "ArrowFunctionExpression";
  const asyncOnly = node.async === true && node.generator !== true;
  if (body.type !== "BlockStatement") {
    expressionBody(visit, node, body, own, arrow, asyncOnly, self);
    return;
  }
  const start = afterDirectives(visit, body);
  if (!own.full) {
    insertRight(visit, start, `${HOOKED}.c(${own.id});`);
    return children(visit, node, own);
  }
  // A sync generator's $r starts as H.u: "no return ran" (a consumer's gen.return(v), see H.w).
  const initial = own.generator && !own.async ? `=${HOOK}.u` : "";
  const enter = `var ${CALL_TOKEN}=${HOOKED}.C(${own.id},${argumentsOf(node, arrow)}${self}),${RETURN_VALUE}${initial};try{`;
  // An empty body: entry and exit at one offset, in one insertion so they stay in order.
  if (start >= body.end - 1) return void insertRight(visit, start, enter + exitCode(own.id, asyncOnly, self));
  insertRight(visit, start, enter);
  children(visit, node, own);
  insertLeft(visit, body.end - 1, exitCode(own.id, asyncOnly, self));
}

/** `self`: ",this" for a stateful method (the receiver is snapshot after the call), else "". */
export function exitCode(id: string, asyncOnly: boolean, self = ""): string {
  const threw = asyncOnly ? "X" : "x";
  const ended = asyncOnly ? "s" : "r";
  return `}catch(${CAUGHT}){${CALL_TOKEN}=${HOOK}.${threw}(${id},${CALL_TOKEN},${CAUGHT}${self});throw ${CAUGHT}}finally{${HOOK}.${ended}(${id},${CALL_TOKEN},${RETURN_VALUE}${self})}`;
}

/** `x => EXPR`: at "calls" a comma expression; at "full" a block with the same try. */
function expressionBody(visit: Visit, node: Node, body: Node, own: Scope, arrow: boolean, asyncOnly: boolean, self: string): void {
  if (!own.full) {
    insertRight(visit, body.start, `(${HOOKED}.c(${own.id}),`);
    children(visit, node, own);
    insertLeft(visit, body.end, ")");
    return;
  }
  const open = arrowEnd(visit, node);
  const enter = `{var ${CALL_TOKEN}=${HOOKED}.C(${own.id},${argumentsOf(node, arrow)}${self}),${RETURN_VALUE};try{return ${RETURN_VALUE}=(`;
  insertRight(visit, open, enter);
  children(visit, node, own);
  insertLeft(visit, node.end, `)${exitCode(own.id, asyncOnly, self)}}`);
}

function visitReturn(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  if (!scope?.full) return children(visit, node, scope);
  const argument = node.argument as Node | null;
  if (!argument) {
    insertLeft(visit, node.start + "return".length, ` ${RETURN_VALUE}=void 0`);
    return;
  }
  // A space: minified code writes `return{...}`, `return"s"`.
  insertRight(visit, argument.start, ` ${RETURN_VALUE}=(`);
  children(visit, node, scope);
  insertLeft(visit, argument.end, ")");
}

function visitYield(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  if (!scope?.full || !scope.generator || node.delegate === true) return children(visit, node, scope);
  const argument = node.argument as Node | null;
  const afterKeyword = node.start + "yield".length;
  if (!scope.async) {
    // `yield X` → `yield* H.w(F+n,$t,X)`: the `*` right after the keyword (no line break allowed there).
    const head = `* ${HOOK}.w(${scope.id},${CALL_TOKEN},`;
    if (!argument) return void insertLeft(visit, afterKeyword, `${head}void 0)`);
    insertLeft(visit, afterKeyword, head);
    children(visit, node, scope);
    insertLeft(visit, argument.end, ")");
    return;
  }
  insertRight(visit, node.start, `${HOOK}.n(${scope.id},${CALL_TOKEN},`);
  if (!argument) {
    insertLeft(visit, afterKeyword, ` ${HOOK}.y(${scope.id},${CALL_TOKEN},void 0)`);
    insertLeft(visit, node.end, ")");
    return;
  }
  insertRight(visit, argument.start, ` ${HOOK}.y(${scope.id},${CALL_TOKEN},(`);
  children(visit, node, scope);
  insertLeft(visit, argument.end, "))");
  insertLeft(visit, node.end, ")");
}

/**
 * `x.on(a, b, ...)` with a listener method name: the runtime path (see the header), unless
 * the static path covers it (a literal name and an inline function: listenerOf) or the
 * call is inside a function that is "off".
 */
function visitCall(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  const args = node.arguments as Node[];
  // A direct eval runs its code as part of this script: it may hold an import().
  if ((node.callee as Node).type === "Identifier" && (node.callee as Node).name === "eval") visit.dynamicImport = true;
  const method = visit.offDepth === 0 && args.length >= 2 ? listenerMethod(node) : undefined;
  if (method === undefined) return children(visit, node, scope);
  const [first, handler] = [args[0]!, args[1]!];
  if (first.type === "SpreadElement" || handler.type === "SpreadElement") return children(visit, node, scope);
  const literal = literalString(first);
  const inline = isFunctionNode(handler);
  if (literal !== undefined && inline) return children(visit, node, scope);
  // A function or class is no event name (and `$a=(function(){})` would name it "$a").
  if (isFunctionNode(first) || first.type === "ClassExpression") return children(visit, node, scope);
  children(visit, node, scope);
  let event: string;
  // No raw U+2028/U+2029 in the inserted name: it would add a line.
  if (literal !== undefined) event = stringLiteral(literal.slice(0, 200));
  else {
    insertBefore(visit, first.start, `${TEMP}=(`);
    insertLeft(visit, first.end, ")");
    event = TEMP;
  }
  const index = inline ? visit.inlineIndex.get(handler) : undefined;
  const id = inline ? `,${index === undefined ? "0" : `${visit.base}+${index}`}` : "";
  // Parenthesised: a node's range leaves out its own parentheses (`(a, b)` is one argument).
  insertBefore(visit, handler.start, `${HOOKED}.l(${event},(`);
  insertLeft(visit, handler.end, `),${JSON.stringify(method)}${id})`);
}

/** Skips whitespace and comments from `from`. */
export function skipTrivia(code: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const char = code.charCodeAt(i);
    if (char === 47 /* / */ && code.charCodeAt(i + 1) === 47) {
      // A line comment ends at any line terminator (a lone \r, U+2028 too).
      const end = lineEndFrom(code, i);
      i = end < code.length ? end + 1 : to;
    } else if (char === 47 && code.charCodeAt(i + 1) === 42 /* * */) {
      const end = code.indexOf("*/", i + 2);
      i = end < 0 ? to : end + 2;
    } else if (char === 32 || (char >= 9 && char <= 13) || char === 0xa0 || char === 0xfeff || char === 0x2028 || char === 0x2029) i++;
    else break;
  }
  return i;
}

/** After a node's decorators, if it has any. */
function afterDecorators(node: Node): number {
  const decorators = node.decorators as Node[] | undefined;
  let from = node.start;
  if (Array.isArray(decorators)) for (const decorator of decorators) from = Math.max(from, decorator.end);
  return from;
}

const WORD = /[A-Za-z_$][\w$]*/y;

/**
 * Where the engine's text of a method starts: its first token that is `async`, `get`,
 * `set`, `*`, `[` or the key, skipping `static` and TypeScript modifiers.
 */
function memberStart(visit: Visit, member: Node): number {
  return scanMemberStart(visit.code, afterDecorators(member), (member.key as Node).start);
}

/** memberStart from the member's start after decorators (`from`) and its key's start. */
export function scanMemberStart(code: string, from: number, keyStart: number): number {
  let i = from;
  while (i < keyStart) {
    i = skipTrivia(code, i, keyStart);
    if (i >= keyStart || code[i] === "*" || code[i] === "[") return i;
    WORD.lastIndex = i;
    const word = WORD.exec(code)?.[0];
    if (!word || word === "async" || word === "get" || word === "set") return i;
    i += word.length;
  }
  return Math.min(i, keyStart);
}

/** Where the engine's text of a class starts: `class`, after decorators and modifiers. */
function classStart(visit: Visit, node: Node): number {
  return scanClassStart(visit.code, afterDecorators(node), node.start, node.end);
}

/** classStart from the class's start after decorators (`from`), its start and end. */
export function scanClassStart(code: string, from: number, start: number, end: number): number {
  let i = from;
  for (let guard = 0; guard < 8 && i < end; guard++) {
    i = skipTrivia(code, i, end);
    WORD.lastIndex = i;
    const word = WORD.exec(code)?.[0];
    if (!word || word === "class") return i;
    i += word.length;
  }
  return start;
}

/** Where the body's code starts: after `{` and any directive prologue ("use strict"). */
function afterDirectives(visit: Visit, body: Node): number {
  const statements = body.body as Node[];
  let last: Node | undefined;
  for (const statement of statements) {
    if (statement.type === "ExpressionStatement" && typeof statement.directive === "string") last = statement;
    else break;
  }
  if (!last) return body.start + 1;
  // A directive may end without `;`: add one so the inserted call is not glued to it.
  insertRight(visit, last.end, ";");
  return last.end;
}

/**
 * What the call event summarises: `arguments`, or for arrows (which have none of their
 * own) their parameters: a name as itself, a destructuring pattern as an object of the
 * names it binds (`({ n }) =>` shows `[{"n":2}]`), read once the parameters are bound.
 */
function argumentsOf(node: Node, arrow: boolean): string {
  if (!arrow) return "arguments";
  const values = (node.params as Node[]).map((param) => {
    let target = param;
    if (target.type === "AssignmentPattern") target = target.left as Node;
    if (target.type === "RestElement") target = target.argument as Node;
    if (target.type === "Identifier") return String(target.name);
    const names: string[] = [];
    bindingNames(target, (name) => names.push(name));
    return names.length > 0 && names.length <= 16 ? `{${names.join(",")}}` : "void 0";
  });
  return `[${values.join(",")}]`;
}

/** The offset just after an arrow's `=>`, skipping parameters, types and comments. */
function arrowEnd(visit: Visit, node: Node): number {
  let from = node.start;
  for (const param of node.params as Node[]) from = Math.max(from, param.end);
  const returnType = node.returnType as Node | null | undefined;
  if (returnType) from = Math.max(from, returnType.end);
  return scanArrowEnd(visit.code, from, node.start);
}

/** arrowEnd from the end of the parameters (and return type). */
export function scanArrowEnd(code: string, from: number, start: number): number {
  for (let i = from; i < code.length; i++) {
    const char = code[i];
    if (char === "=" && code[i + 1] === ">") return i + 2;
    if (char === "/" && code[i + 1] === "/") i = lineEndFrom(code, i);
    else if (char === "/" && code[i + 1] === "*") i = code.indexOf("*/", i + 2) + 1;
    if (i < 0) break;
  }
  throw new Error(`no => in arrow function at offset ${start}`);
}

function functionFlags(node: Node, parent: Node | null): number {
  let flags = 0;
  if (node.async === true) flags |= FunctionFlag.async;
  if (node.generator === true) flags |= FunctionFlag.generator;
  if (node.type === "ArrowFunctionExpression") flags |= FunctionFlag.arrow;
  if (parent && (parent.type === "MethodDefinition" || (parent.type === "Property" && (parent.method || parent.kind !== "init")))) {
    flags |= FunctionFlag.method;
    if (parent.kind === "get") flags |= FunctionFlag.getter;
    if (parent.kind === "set") flags |= FunctionFlag.setter;
    if (parent.kind === "constructor") flags |= FunctionFlag.constructor;
    if (parent.static === true) flags |= FunctionFlag.static;
  }
  return flags;
}

export const MAX_NAME_CHARS = 80;

function functionName(visit: Visit, node: Node, parent: Node | null): string {
  const id = node.id as Node | null | undefined;
  if (id && typeof id.name === "string") {
    if (parent?.type === "MethodDefinition" || parent?.type === "Property") return memberName(visit, parent);
    return id.name;
  }
  if (!parent) return "<anonymous>";
  return nameFromParent(visit, parent, node) || "<anonymous>";
}

function nameFromParent(visit: Visit, parent: Node, node: Node): string {
  switch (parent.type) {
    case "VariableDeclarator":
      return parent.init === node ? source(visit, parent.id as Node) : "";
    case "AssignmentExpression":
    case "AssignmentPattern":
      return parent.right === node ? source(visit, parent.left as Node) : "";
    case "MethodDefinition":
    case "PropertyDefinition":
    case "AccessorProperty":
    case "Property":
      return parent.value === node ? memberName(visit, parent) : "";
    case "ExportDefaultDeclaration":
      return "default";
    case "LogicalExpression":
      return visit.passNames.get(parent) ?? "";
    case "ConditionalExpression":
      return parent.test === node ? "" : (visit.passNames.get(parent) ?? "");
    default:
      return "";
  }
}

function memberName(visit: Visit, member: Node): string {
  const key = member.key as Node;
  let name: string;
  if (member.computed === true) name = `[${source(visit, key)}]`;
  else if (key.type === "Identifier") name = String(key.name);
  else if (key.type === "PrivateIdentifier") name = `#${String(key.name)}`;
  else if (key.type === "Literal") name = String(key.value);
  else name = source(visit, key);
  const inClass = member.type !== "Property" && visit.classNames.length > 0;
  return inClass ? `${visit.classNames[visit.classNames.length - 1]}.${name}` : name;
}

function source(visit: Visit, node: Node): string {
  if (node.type === "Identifier") return String(node.name);
  return sourceText(visit.code, node.start, node.end);
}

/** A node's text as a name: whitespace runs as one space, at most MAX_NAME_CHARS. */
export function sourceText(code: string, start: number, end: number): string {
  const text = code.slice(start, Math.min(end, start + MAX_NAME_CHARS)).replace(/\s+/g, " ");
  return end - start > MAX_NAME_CHARS ? `${text}…` : text;
}

/** 1-based line and column of `offset`. */
export function position(starts: number[], offset: number): { line: number; column: number } {
  const line = lineOf(starts, offset);
  return { line, column: offset - starts[line - 1]! + 1 };
}

/** 1-based line of `offset` (position without an object: transform-raw.ts, once per function). */
export function lineOf(starts: number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= offset) low = middle;
    else high = middle - 1;
  }
  return low + 1;
}
