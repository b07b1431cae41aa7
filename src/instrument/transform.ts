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
 * where BODY' has each `return X` as `return $r=(X)`, and, in generators, each `yield X`
 * as `H.n(F+n,$t,yield H.y(F+n,$t,(X)))`. Async functions call H.X/H.s (settle) instead
 * of H.x/H.r. At "calls" only `(H||I()).c(F+n);` is inserted. H, I and F are the file's
 * hook variable, its hoisted initialiser and its first function id, appended at the end
 * of the file (see print.ts): hoisted, so a function called before the module body runs
 * (circular imports) still finds them. Nothing reads `this`, so derived constructors
 * may call the hook before `super()`; parameters are untouched (fn.length, defaults,
 * their scope), declarations stay declarations (hoisting, fn.name), directives stay first.
 */
import type MagicString from "magic-string";
import type { Level } from "./match";
import type { Node } from "./parse";

export const HOOK = "__scope$";
export const INIT = "__scope$i";
export const BASE = "__scope$f";
const CALL_TOKEN = "__scope$t";
const RETURN_VALUE = "__scope$r";
const CAUGHT = "__scope$e";

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

/** Registration methods whose second argument is a listener for the event named first. */
const LISTENER_METHODS = new Set(["on", "once", "addListener", "prependListener", "prependOnceListener", "addEventListener"]);

/**
 * `x.on("name", <this function>)` and the like, with the event a string literal (or a
 * template without substitutions): the event it handles, known without running anything.
 */
function listenerOf(node: Node, parent: Node | null): { event: string; method: string } | undefined {
  if (!parent || parent.type !== "CallExpression") return undefined;
  const args = parent.arguments as Node[];
  if (args.length < 2 || args[1] !== node) return undefined;
  const callee = parent.callee as Node;
  if (callee.type !== "MemberExpression" || callee.computed === true) return undefined;
  const property = callee.property as Node;
  if (property.type !== "Identifier" || !LISTENER_METHODS.has(String(property.name))) return undefined;
  const first = args[0]!;
  if (first.type === "Literal" && typeof first.value === "string") return { event: first.value.slice(0, 200), method: String(property.name) };
  const quasis = first.quasis as Node[] | undefined;
  if (first.type === "TemplateLiteral" && quasis?.length === 1) {
    const cooked = (quasis[0]!.value as { cooked?: string } | undefined)?.cooked;
    if (typeof cooked === "string") return { event: cooked.slice(0, 200), method: String(property.name) };
  }
  return undefined;
}

/** The function being visited: what its returns and yields become. */
interface Scope {
  id: string;
  full: boolean;
  generator: boolean;
}

/** A class or object literal whose methods are being visited. */
interface Container {
  name: string;
  /** Its methods are stateful handlers (settings `stateful`): `this` is snapshot. */
  stateful: boolean;
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
};

/** Instruments every function of `program` that `levelOf` does not turn off. */
export function transform(
  program: Node,
  code: string,
  edits: MagicString,
  levelOf: (name: string) => Level,
  statefulOf: (container: string) => boolean = () => false,
): FunctionInfo[] {
  const visit: Visit = { code, edits, functions: [], lineStarts: lineStarts(code), levelOf, classNames: [], statefulOf, containers: [] };
  walk(visit, program, null, null);
  return visit.functions;
}

function walk(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const handler = handlers[node.type];
  if (handler) handler(visit, node, parent, scope);
  else children(visit, node, scope);
}

function children(visit: Visit, node: Node, scope: Scope | null): void {
  // Object.keys over for-in: many node shapes defeat for-in's enumeration cache.
  const keys = Object.keys(node);
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

function visitClass(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const id = node.id as Node | null;
  const name = id ? String(id.name) : (parent && nameFromParent(visit, parent, node)) || "<class>";
  visit.classNames.push(name);
  visit.containers.push({ name, stateful: visit.statefulOf(name) });
  children(visit, node, scope);
  visit.containers.pop();
  visit.classNames.pop();
}

/** An object literal: its methods are stateful when the name it is bound to matches. */
function visitObject(visit: Visit, node: Node, parent: Node | null, scope: Scope | null): void {
  const name = parent && (parent.type === "VariableDeclarator" || parent.type === "AssignmentExpression") ? nameFromParent(visit, parent, node) : "";
  visit.containers.push({ name, stateful: name !== "" && visit.statefulOf(name) });
  children(visit, node, scope);
  visit.containers.pop();
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
  const name = functionName(visit, node, parent);
  const level = visit.levelOf(name);
  if (level === "off") return children(visit, node, null);
  const index = visit.functions.length;
  const { line, column } = position(visit.lineStarts, node.start);
  const flags = functionFlags(node, parent);
  const listener = listenerOf(node, parent);
  visit.functions.push(listener ? { name, line, column, flags, level, listener } : { name, line, column, flags, level });
  const own: Scope = { id: `${BASE}+${index}`, full: level === "full", generator: node.generator === true };
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
    visit.edits.appendRight(start, `(${HOOK}||${INIT}()).c(${own.id});`);
    return children(visit, node, own);
  }
  const enter = `var ${CALL_TOKEN}=(${HOOK}||${INIT}()).C(${own.id},${argumentsOf(node, arrow)}${self}),${RETURN_VALUE};try{`;
  // An empty body: entry and exit at one offset, in one insertion so they stay in order.
  if (start >= body.end - 1) return void visit.edits.appendRight(start, enter + exitCode(own.id, asyncOnly, self));
  visit.edits.appendRight(start, enter);
  children(visit, node, own);
  visit.edits.appendLeft(body.end - 1, exitCode(own.id, asyncOnly, self));
}

/** `self`: ",this" for a stateful method (the receiver is snapshot after the call), else "". */
function exitCode(id: string, asyncOnly: boolean, self = ""): string {
  const threw = asyncOnly ? "X" : "x";
  const ended = asyncOnly ? "s" : "r";
  return `}catch(${CAUGHT}){${CALL_TOKEN}=${HOOK}.${threw}(${id},${CALL_TOKEN},${CAUGHT}${self});throw ${CAUGHT}}finally{${HOOK}.${ended}(${id},${CALL_TOKEN},${RETURN_VALUE}${self})}`;
}

/** `x => EXPR`: at "calls" a comma expression; at "full" a block with the same try. */
function expressionBody(visit: Visit, node: Node, body: Node, own: Scope, arrow: boolean, asyncOnly: boolean, self: string): void {
  if (!own.full) {
    visit.edits.appendRight(body.start, `((${HOOK}||${INIT}()).c(${own.id}),`);
    children(visit, node, own);
    visit.edits.appendLeft(body.end, ")");
    return;
  }
  const open = arrowEnd(visit, node);
  const enter = `{var ${CALL_TOKEN}=(${HOOK}||${INIT}()).C(${own.id},${argumentsOf(node, arrow)}${self}),${RETURN_VALUE};try{return ${RETURN_VALUE}=(`;
  visit.edits.appendRight(open, enter);
  children(visit, node, own);
  visit.edits.appendLeft(node.end, `)${exitCode(own.id, asyncOnly, self)}}`);
}

function visitReturn(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  if (!scope?.full) return children(visit, node, scope);
  const argument = node.argument as Node | null;
  if (!argument) {
    visit.edits.appendLeft(node.start + "return".length, ` ${RETURN_VALUE}=void 0`);
    return;
  }
  // A space: minified code writes `return{...}`, `return"s"`.
  visit.edits.appendRight(argument.start, ` ${RETURN_VALUE}=(`);
  children(visit, node, scope);
  visit.edits.appendLeft(argument.end, ")");
}

function visitYield(visit: Visit, node: Node, _parent: Node | null, scope: Scope | null): void {
  if (!scope?.full || !scope.generator || node.delegate === true) return children(visit, node, scope);
  const argument = node.argument as Node | null;
  visit.edits.appendRight(node.start, `${HOOK}.n(${scope.id},${CALL_TOKEN},`);
  if (!argument) {
    visit.edits.appendLeft(node.start + "yield".length, ` ${HOOK}.y(${scope.id},${CALL_TOKEN},void 0)`);
    visit.edits.appendLeft(node.end, ")");
    return;
  }
  visit.edits.appendRight(argument.start, ` ${HOOK}.y(${scope.id},${CALL_TOKEN},(`);
  children(visit, node, scope);
  visit.edits.appendLeft(argument.end, "))");
  visit.edits.appendLeft(node.end, ")");
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
  visit.edits.appendRight(last.end, ";");
  return last.end;
}

/** What the call event summarises: `arguments`, or for arrows their named parameters. */
function argumentsOf(node: Node, arrow: boolean): string {
  if (!arrow) return "arguments";
  const names = (node.params as Node[]).map((param) => {
    let target = param;
    if (target.type === "AssignmentPattern") target = target.left as Node;
    if (target.type === "RestElement") target = target.argument as Node;
    return target.type === "Identifier" ? String(target.name) : "void 0";
  });
  return `[${names.join(",")}]`;
}

/** The offset just after an arrow's `=>`, skipping parameters, types and comments. */
function arrowEnd(visit: Visit, node: Node): number {
  const code = visit.code;
  let from = node.start;
  for (const param of node.params as Node[]) from = Math.max(from, param.end);
  const returnType = node.returnType as Node | null | undefined;
  if (returnType) from = Math.max(from, returnType.end);
  for (let i = from; i < code.length; i++) {
    const char = code[i];
    if (char === "=" && code[i + 1] === ">") return i + 2;
    if (char === "/" && code[i + 1] === "/") i = code.indexOf("\n", i);
    else if (char === "/" && code[i + 1] === "*") i = code.indexOf("*/", i + 2) + 1;
    if (i < 0) break;
  }
  throw new Error(`no => in arrow function at offset ${node.start}`);
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

const MAX_NAME_CHARS = 80;

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
  const text = visit.code.slice(node.start, Math.min(node.end, node.start + MAX_NAME_CHARS)).replace(/\s+/g, " ");
  return node.end - node.start > MAX_NAME_CHARS ? `${text}…` : text;
}

function lineStarts(code: string): number[] {
  const starts = [0];
  for (let i = code.indexOf("\n"); i >= 0; i = code.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line and column of `offset`. */
export function position(starts: number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= offset) low = middle;
    else high = middle - 1;
  }
  return { line: low + 1, column: offset - starts[low]! + 1 };
}
