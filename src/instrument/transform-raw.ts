/**
 * transform.ts on oxc's raw-transfer buffer itself: the same edits, function table and
 * text ranges, without building an ESTree object per node. oxc-walk.generated.ts walks
 * every node of the Rust AST in the buffer (its layout is oxc's, generated from the
 * oxc-parser version installed) and calls the handlers here for the node types the
 * instrumenter acts on; each handler reads the few fields it needs with typed-array reads
 * at the offsets oxc's own deserializer (src-js/generated/deserialize/js.js) reads them
 * from, and answers what transform.ts's handler answers from the ESTree node that
 * deserializer would have built. A node is its byte offset; its parent is the nearest
 * enclosing node the walker recorded (type id and offset).
 *
 * ESTree and oxc's Rust AST differ in places the transform looks at, each handled where
 * it is read: a function's body is a FunctionBody whose directives are apart from its
 * statements; an arrow's expression body is an enum beside the block one; a parameter
 * with a default is a FormalParameter (ESTree: an AssignmentPattern, synthetic type here),
 * `({ a = f } = o)`'s default hangs off an AssignmentTargetPropertyIdentifier (ESTree: a
 * Property whose value is an AssignmentPattern); BindingProperty and
 * AssignmentTargetPropertyProperty are ESTree Properties. Positions in the buffer are
 * already UTF-16 offsets (oxc converts them before JavaScript reads them).
 *
 * Byte-identical output to transform.ts over oxc's ESTree is checked in
 * spec/instrument-oxc-raw.test.ts (and scripts/check-raw-walk.ts over npm files).
 */
import type { InsertionSink } from "./insertions";
import { lineStarts, stringLiteral } from "./line-ends";
import type { Level } from "./match";
import { TYPE, walk, childrenArrowFunctionExpression, childrenCallExpression, childrenClass, childrenConditionalExpression, childrenFunction, childrenImportExpression, childrenJSXElement, childrenJSXFragment, childrenLogicalExpression, childrenMethodDefinition, childrenObjectExpression, childrenObjectProperty, childrenReturnStatement, childrenYieldExpression } from "./oxc-walk.generated";
import {
  BASE,
  CALL_TOKEN,
  FunctionFlag,
  HOOK,
  HOOKED,
  LISTENER_METHODS,
  VITE_EXPORT_NAME,
  PENDING,
  RETURN_VALUE,
  TEMP,
  exitCode,
  hashSource,
  lineOf,
  scanArrowEnd,
  scanClassStart,
  scanMemberStart,
  setSourceInfo,
  sourceTag,
  sourceText,
  type Container,
  type FunctionInfo,
  type Mark,
  type Scope,
  type SourceRange,
} from "./transform";

/** A parsed program in the buffer: valid until the next parse on this thread. */
export interface RawProgram {
  uint8: Uint8Array;
  int32: Int32Array;
  float64: Float64Array;
  /** Offset of the Program node. */
  program: number;
  /** Where the source's UTF-8 bytes start in the buffer, and their length. */
  sourceStart: number;
  sourceByteLength: number;
}

// Node type ids the handlers compare parents with.
const T_OBJECT_PROPERTY = TYPE.ObjectProperty;
const T_CALL = TYPE.CallExpression;
const T_ASSIGNMENT = TYPE.AssignmentExpression;
const T_TARGET_WITH_DEFAULT = TYPE.AssignmentTargetWithDefault;
const T_TARGET_PROPERTY_IDENTIFIER = TYPE.AssignmentTargetPropertyIdentifier;
const T_TARGET_PROPERTY_PROPERTY = TYPE.AssignmentTargetPropertyProperty;
const T_DECLARATOR = TYPE.VariableDeclarator;
const T_ASSIGNMENT_PATTERN = TYPE.AssignmentPattern;
const T_BINDING_PROPERTY = TYPE.BindingProperty;
const T_METHOD = TYPE.MethodDefinition;
const T_PROPERTY_DEFINITION = TYPE.PropertyDefinition;
const T_ACCESSOR = TYPE.AccessorProperty;
const T_EXPORT_DEFAULT = TYPE.ExportDefaultDeclaration;
const T_FORMAL_PARAMETER = TYPE.FormalParameter;
const T_LOGICAL = TYPE.LogicalExpression;
const T_CONDITIONAL = TYPE.ConditionalExpression;

// Expression / Argument / PropertyKey discriminants (deserializeExpression).
const E_NUMERIC = 2;
const E_BIGINT = 3;
const E_STRING = 5;
const E_TEMPLATE = 6;
const E_IDENTIFIER = 7;
const E_ARROW = 10;
const E_CLASS = 16;
const E_FUNCTION = 18;
const E_STATIC_MEMBER = 49;
const A_SPREAD = 64;
const K_IDENTIFIER_NAME = 64;
const K_PRIVATE_IDENTIFIER = 65;
const NONE = 255;

// One transform at a time per thread (synchronous): its state lives here.
let u8: Uint8Array;
let i32: Int32Array;
let f64: Float64Array;
let code: string;
let sourceStart = 0;
let firstNonAscii = 0;
let edits: InsertionSink;
let functions: FunctionInfo[];
let starts: number[];
let levelOf: (name: string) => Level;
let statefulOf: (container: string) => boolean;
let classNames: string[];
let containers: Container[];
let base: string;
/** `${HOOKED}.c(${base}+`, and with the `(` an expression body's comma expression opens: a calls-level hook's text is one of them, the index and its close. */
let callsHook: string;
let callsHookExpression: string;
let inserted = 0;
let ranges: SourceRange[];
let members: Map<number, Mark>;
let inlineIndex: Map<number, number>;
/** Logical and conditional expressions being visited that pass a name on (transform.ts passNames). */
let passNames: Map<number, string>;
let offDepth = 0;
let jsx = false;
let dynamicImport = false;
let scope: Scope | null = null;

const utf8Slice = typeof Buffer === "function" ? (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice : undefined;
const decoder = new TextDecoder();

/** Instruments every function of the program in the buffer that `levelOf` does not turn off. */
export function transformRaw(raw: RawProgram, source: string, magic: InsertionSink, level: (name: string) => Level, stateful: (container: string) => boolean = () => false, digest?: Uint8Array): FunctionInfo[] {
  const [h1, h2] = hashSource(source, digest);
  const tag = sourceTag(h1, h2);
  u8 = raw.uint8;
  i32 = raw.int32;
  f64 = raw.float64;
  code = source;
  sourceStart = raw.sourceStart;
  const sourceEnd = raw.sourceStart + raw.sourceByteLength;
  if (source.length === raw.sourceByteLength) firstNonAscii = sourceEnd;
  else {
    let i = raw.sourceStart;
    while (i < sourceEnd && u8[i]! < 128) i++;
    firstNonAscii = i;
  }
  edits = magic;
  functions = [];
  starts = lineStarts(source);
  // The column shifts (insertions.ts LineShifts) count lines with them too.
  if ("lineStarts" in magic) magic.lineStarts = starts;
  levelOf = level;
  statefulOf = stateful;
  classNames = [];
  containers = [];
  base = BASE + tag;
  callsHook = `${HOOKED}.c(${base}+`;
  callsHookExpression = `(${callsHook}`;
  inserted = 0;
  ranges = [];
  members = new Map();
  inlineIndex = new Map();
  passNames = new Map();
  offDepth = 0;
  jsx = false;
  dynamicImport = false;
  scope = null;
  const result = functions;
  try {
    walk(u8, i32, raw.program, handlers);
    if (result.length > 0) announce(raw.program);
    setSourceInfo(result, { tag, length: source.length, hash: h1, jsx, dynamicImport, ranges });
  } finally {
    // Nothing of the file or the buffer stays reachable from here.
    u8 = i32 = f64 = undefined as never;
    code = "";
    edits = undefined as never;
    functions = ranges = starts = undefined as never;
    members = inlineIndex = undefined as never;
    passNames = undefined as never;
    levelOf = statefulOf = undefined as never;
    scope = null;
  }
  return result;
}

const handlers = {
  onFunction: (pos: number, pt: number, pp: number) => {
    // TSDeclareFunction / TSEmptyBodyFunctionExpression, or no body: walked like any node.
    if (u8[pos + 88]! >= 2 || isNullPointer(pos + 80)) return childrenFunction(pos);
    visitFunction(pos, false, pt, pp);
  },
  onArrow: (pos: number, pt: number, pp: number) => visitFunction(pos, true, pt, pp),
  onReturn: visitReturn,
  onYield: visitYield,
  onClass: visitClass,
  onObject: visitObject,
  onMethod: (pos: number) => {
    members.set(pos, mark());
    childrenMethodDefinition(pos);
    members.delete(pos);
  },
  onProperty: (pos: number) => {
    if (!propertyIsMethodLike(pos)) return childrenObjectProperty(pos);
    members.set(pos, mark());
    childrenObjectProperty(pos);
    members.delete(pos);
  },
  onCall: visitCall,
  onLogical: (pos: number, pt: number, pp: number) => passingName(pos, pt, pp, childrenLogicalExpression),
  onConditional: (pos: number, pt: number, pp: number) => passingName(pos, pt, pp, childrenConditionalExpression),
  onJsxElement: (pos: number) => {
    jsx = true;
    childrenJSXElement(pos);
  },
  onJsxFragment: (pos: number) => {
    jsx = true;
    childrenJSXFragment(pos);
  },
  onImport: (pos: number) => {
    dynamicImport = true;
    childrenImportExpression(pos);
  },
};

// ---- buffer reads -------------------------------------------------------------------

function isNullPointer(at: number): boolean {
  return i32[at >> 2] === 0 && i32[(at >> 2) + 1] === 0;
}

/** The node an enum at `at` (discriminant, then a Box) points to. */
function boxed(at: number): number {
  return i32[(at + 8) >> 2]!;
}

function startOf(node: number): number {
  return i32[node >> 2]!;
}

function endOf(node: number): number {
  return i32[(node >> 2) + 1]!;
}

/** An oxc `Atom`/`&str` at `at` (pointer, length): deserializeStr. */
function str(at: number): string {
  const len = i32[(at >> 2) + 2]!;
  if (len === 0) return "";
  const ptr = i32[at >> 2]!;
  const end = ptr + len;
  // Byte offsets equal UTF-16 offsets in the source's all-ASCII prefix.
  if (ptr >= sourceStart && end <= firstNonAscii) return code.substr(ptr - sourceStart, len);
  return utf8Slice ? utf8Slice.call(u8, ptr, end) : decoder.decode(u8.subarray(ptr, end));
}

/** A string that may hold lone surrogates (flag at +12): deserializeJSStr. */
function jsStr(at: number): string {
  if (u8[at + 12] === 0) return str(at);
  const len = i32[(at >> 2) + 2]!;
  let pos = i32[at >> 2]!;
  const end = pos + len;
  let out = "";
  while (pos < end) {
    const first = u8[pos++]!;
    const codePoint =
      first < 128
        ? first
        : first < 224
          ? ((first & 31) << 6) | (u8[pos++]! & 63)
          : first < 240
            ? ((first & 15) << 12) | ((u8[pos++]! & 63) << 6) | (u8[pos++]! & 63)
            : ((first & 7) << 18) | ((u8[pos++]! & 63) << 12) | ((u8[pos++]! & 63) << 6) | (u8[pos++]! & 63);
    out += String.fromCodePoint(codePoint);
  }
  return out;
}

/** Vec at `at`: its first element's offset and its length. */
function vecPtr(at: number): number {
  return i32[at >> 2]!;
}

function vecLen(at: number): number {
  return i32[(at >> 2) + 2]!;
}

/** The ESTree text of an Expression/PropertyKey/AssignmentTarget/BindingPattern enum at `at`. */
function sourceOf(at: number, identifierTag: number): string {
  const node = boxed(at);
  if (u8[at] === identifierTag) return str(node + 16);
  return sourceText(code, startOf(node), endOf(node));
}

/** A PropertyKey or Expression enum at `at` read as ESTree source(): identifiers by name. */
function sourceOfKey(at: number): string {
  const tag = u8[at]!;
  if (tag === E_IDENTIFIER || tag === K_IDENTIFIER_NAME) return str(boxed(at) + 16);
  const node = boxed(at);
  return sourceText(code, startOf(node), endOf(node));
}

// ---- edits ----------------------------------------------------------------------------

function insertRight(at: number, text: string): void {
  edits.appendRight(at, text);
  inserted += text.length;
}

function insertLeft(at: number, text: string): void {
  edits.appendLeft(at, text);
  inserted += text.length;
}

function insertBefore(at: number, text: string): void {
  edits.prependRight(at, text);
  inserted += text.length;
}

function mark(): Mark {
  return { inserted, first: functions.length };
}

function addRange(from: Mark, start: number, end: number, index: number, kind: SourceRange["kind"], name: string): void {
  addRangeFrom(from.inserted, from.first, start, end, index, kind, name);
}

/** addRange from a mark's two numbers. */
function addRangeFrom(fromInserted: number, fromFirst: number, start: number, end: number, index: number, kind: SourceRange["kind"], name: string): void {
  if (functions.length === fromFirst) return;
  ranges.push({ key: fromFirst, index, start, end, inserted: inserted - fromInserted, kind, name: index >= 0 && kind === "function" ? "" : name });
}

function announce(program: number): void {
  const body = program + 112;
  if (vecLen(body) > 0) return insertBefore(startOf(boxed(vecPtr(body))), `${PENDING}();`);
  const directives = program + 88;
  const count = vecLen(directives);
  if (count > 0) insertLeft(endOf(vecPtr(directives) + (count - 1) * 80), `;${PENDING}();`);
}

// ---- parents (ESTree's view of the nearest enclosing node) ---------------------------

/** ObjectProperty: a method, getter or setter (ESTree Property method / kind). */
function propertyIsMethodLike(pos: number): boolean {
  return u8[pos + 13] === 1 || u8[pos + 12] !== 0;
}

/** transform.ts isMethodLike(parent). */
function isMethodLike(pt: number, pp: number): boolean {
  return pt === T_METHOD || (pt === T_OBJECT_PROPERTY && propertyIsMethodLike(pp));
}

/** `parent.value === node` for the member-like parents (ESTree MethodDefinition, PropertyDefinition, AccessorProperty, Property). */
function memberValueIs(pt: number, pp: number, node: number): boolean {
  switch (pt) {
    case T_METHOD:
      return i32[(pp + 56) >> 2] === node;
    case T_PROPERTY_DEFINITION:
    case T_ACCESSOR:
      return u8[pp + 64] !== NONE && boxed(pp + 64) === node;
    case T_OBJECT_PROPERTY:
      return boxed(pp + 32) === node;
    default:
      // BindingProperty / AssignmentTargetPropertyProperty: their value is a pattern, never a function or class.
      return false;
  }
}

function isProperty(pt: number): boolean {
  return pt === T_OBJECT_PROPERTY || pt === T_BINDING_PROPERTY || pt === T_TARGET_PROPERTY_PROPERTY;
}

/** ESTree memberName(member) for a MethodDefinition, PropertyDefinition, AccessorProperty or Property. */
function memberName(mt: number, mp: number): string {
  let computed: boolean;
  let key: number;
  switch (mt) {
    case T_METHOD:
      computed = u8[mp + 14] === 1;
      key = mp + 40;
      break;
    case T_PROPERTY_DEFINITION:
    case T_ACCESSOR:
      computed = u8[mp + 13] === 1;
      key = mp + 40;
      break;
    case T_OBJECT_PROPERTY:
      computed = u8[mp + 15] === 1;
      key = mp + 16;
      break;
    case T_BINDING_PROPERTY:
      computed = u8[mp + 13] === 1;
      key = mp + 16;
      break;
    default: // AssignmentTargetPropertyProperty
      computed = u8[mp + 12] === 1;
      key = mp + 16;
      break;
  }
  let name: string;
  const tag = u8[key]!;
  const node = boxed(key);
  if (computed) name = `[${sourceOfKey(key)}]`;
  else if (tag === K_IDENTIFIER_NAME || tag === E_IDENTIFIER) name = str(node + 16);
  else if (tag === K_PRIVATE_IDENTIFIER) name = `#${str(node + 16)}`;
  else if (tag === E_STRING) name = jsStr(node + 16);
  else if (tag === E_NUMERIC) name = String(f64[(node + 32) >> 3]);
  else if (tag === E_BIGINT) name = String(BigInt(str(node + 16)));
  else if (tag === 0) name = String(u8[node + 12] === 1);
  else if (tag === 1) name = "null";
  else name = sourceText(code, startOf(node), endOf(node));
  const inClass = !isProperty(mt) && classNames.length > 0;
  return inClass ? `${classNames[classNames.length - 1]}.${name}` : name;
}

/** transform.ts nameFromParent(parent, node). */
function nameFromParent(pt: number, pp: number, node: number): string {
  switch (pt) {
    case T_DECLARATOR:
      return u8[pp + 40] !== NONE && boxed(pp + 40) === node ? sourceOf(pp + 16, 0) : "";
    case T_ASSIGNMENT:
      return boxed(pp + 32) === node ? sourceOf(pp + 16, 0) : "";
    case T_ASSIGNMENT_PATTERN:
      return boxed(pp + 32) === node ? sourceOf(pp + 16, 0) : "";
    case T_TARGET_WITH_DEFAULT:
      return boxed(pp + 32) === node ? sourceOf(pp + 16, 0) : "";
    case T_FORMAL_PARAMETER: {
      if (isNullPointer(pp + 64)) return "";
      return boxed(i32[(pp + 64) >> 2]!) === node ? sourceOf(pp + 40, 0) : "";
    }
    case T_TARGET_PROPERTY_IDENTIFIER:
      return u8[pp + 48] !== NONE && boxed(pp + 48) === node ? str(pp + 32) : "";
    case T_LOGICAL:
      return passNames.get(pp) ?? "";
    case T_CONDITIONAL:
      return boxed(pp + 16) === node ? "" : (passNames.get(pp) ?? "");
    case T_METHOD:
    case T_PROPERTY_DEFINITION:
    case T_ACCESSOR:
    case T_OBJECT_PROPERTY:
    case T_BINDING_PROPERTY:
    case T_TARGET_PROPERTY_PROPERTY:
      return memberValueIs(pt, pp, node) ? memberName(pt, pp) : "";
    case T_EXPORT_DEFAULT:
      return "default";
    default:
      return "";
  }
}

// ---- handlers -------------------------------------------------------------------------

function visitFunction(pos: number, arrow: boolean, pt: number, pp: number): void {
  const method = isMethodLike(pt, pp) && memberValueIs(pt, pp, pos);
  // A method's text starts at its key: marked by onMethod/onProperty; else here (two numbers, no Mark).
  const member = method ? members.get(pp) : undefined;
  const fromInserted = member ? member.inserted : inserted;
  const fromFirst = member ? member.first : functions.length;
  const isConstructor = method && pt === T_METHOD && u8[pp + 13] === 0;
  const name = functionName(pos, arrow, pt, pp);
  const level = isViteExportGetter(pos, pt, pp) ? "off" : levelOf(name);
  let index = -1;
  if (level === "off") {
    offDepth++;
    const saved = scope;
    scope = null;
    if (arrow) childrenArrowFunctionExpression(pos);
    else childrenFunction(pos);
    scope = saved;
    offDepth--;
  } else {
    index = functions.length;
    instrumentFunction(pos, arrow, pt, pp, name, level);
    if (pt === T_CALL && callArgument(pp, 1) === pos) inlineIndex.set(pos, index);
    if (isConstructor) {
      const container = containers[containers.length - 1];
      if (container) container.constructorIndex = index;
    }
  }
  if (!isConstructor) addRangeFrom(fromInserted, fromFirst, method ? memberStart(pt, pp) : startOf(pos), endOf(pos), index, "function", name);
}

/** transform.ts isViteExportGetter: the second argument of a call of `__vite_ssr_exportName__`. */
function isViteExportGetter(pos: number, pt: number, pp: number): boolean {
  if (pt !== T_CALL || u8[pp + 16] !== E_IDENTIFIER || callArgument(pp, 1) !== pos) return false;
  const id = boxed(pp + 16) + 16;
  // By length first, as listenerMethod: no string made for other calls.
  return i32[(id >> 2) + 2] === VITE_EXPORT_NAME.length && str(id) === VITE_EXPORT_NAME;
}

/** The node of argument `n` of a call (-1 when there is none or it is a spread). */
function callArgument(call: number, n: number): number {
  if (vecLen(call + 40) <= n) return -1;
  const at = vecPtr(call + 40) + n * 16;
  return u8[at] === A_SPREAD ? -1 : boxed(at);
}

function functionName(pos: number, arrow: boolean, pt: number, pp: number): string {
  // A Function's id: Option<BindingIdentifier> at +16 (none: a null name pointer).
  if (!arrow && !isNullPointer(pos + 32)) {
    if (pt === T_METHOD || isProperty(pt)) return memberName(pt, pp);
    return str(pos + 32);
  }
  if (pt === -1) return "<anonymous>";
  return nameFromParent(pt, pp, pos) || "<anonymous>";
}

function functionFlags(pos: number, arrow: boolean, pt: number, pp: number): number {
  let flags = 0;
  const isAsync = arrow ? u8[pos + 56] === 1 : u8[pos + 90] === 1;
  if (isAsync) flags |= FunctionFlag.async;
  if (!arrow && u8[pos + 89] === 1) flags |= FunctionFlag.generator;
  if (arrow) flags |= FunctionFlag.arrow;
  if (pt === T_METHOD) {
    flags |= FunctionFlag.method;
    const kind = u8[pp + 13];
    if (kind === 2) flags |= FunctionFlag.getter;
    if (kind === 3) flags |= FunctionFlag.setter;
    if (kind === 0) flags |= FunctionFlag.constructor;
    if (u8[pp + 15] === 1) flags |= FunctionFlag.static;
  } else if (pt === T_OBJECT_PROPERTY && propertyIsMethodLike(pp)) {
    flags |= FunctionFlag.method;
    const kind = u8[pp + 12];
    if (kind === 1) flags |= FunctionFlag.getter;
    if (kind === 2) flags |= FunctionFlag.setter;
  }
  return flags;
}

/** transform.ts listenerOf(node, parent). */
function listenerOf(pos: number, pt: number, pp: number): { event: string; method: string } | undefined {
  if (pt !== T_CALL) return undefined;
  if (vecLen(pp + 40) < 2 || callArgument(pp, 1) !== pos) return undefined;
  const method = listenerMethod(pp);
  if (method === undefined) return undefined;
  const event = literalString(vecPtr(pp + 40));
  return event === undefined ? undefined : { event: event.slice(0, 200), method };
}

/** `x.on(...)` and the like: the method name, when the callee is a non-computed member. */
function listenerMethod(call: number): string | undefined {
  if (u8[call + 16] !== E_STATIC_MEMBER) return undefined;
  const at = boxed(call + 16) + 48;
  // By length first: no string made for the many member calls that cannot be one.
  if (!LISTENER_METHOD_LENGTHS.has(i32[(at >> 2) + 2]!)) return undefined;
  const name = str(at);
  return LISTENER_METHODS.has(name) ? name : undefined;
}

const LISTENER_METHOD_LENGTHS = new Set([...LISTENER_METHODS].map((name) => name.length));

/** A string literal or a template without substitutions (an Argument enum at `at`): its value. */
function literalString(at: number): string | undefined {
  const tag = u8[at];
  if (tag === E_STRING) return jsStr(boxed(at) + 16);
  if (tag === E_TEMPLATE) {
    const node = boxed(at);
    if (vecLen(node + 16) !== 1) return undefined;
    const quasi = vecPtr(node + 16);
    if (u8[quasi + 32 + 12] === 2) return undefined;
    return jsStr(quasi + 32);
  }
  return undefined;
}

function isStatefulMethod(pos: number, arrow: boolean, pt: number, pp: number): boolean {
  const container = containers[containers.length - 1];
  if (!container?.stateful || pt === -1) return false;
  if (pt === T_METHOD) return u8[pp + 13] !== 0 && u8[pp + 15] !== 1;
  if (pt === T_PROPERTY_DEFINITION) return memberValueIs(pt, pp, pos) && u8[pp + 14] !== 1;
  if (isProperty(pt)) return memberValueIs(pt, pp, pos) && !arrow;
  return false;
}

/** The scope of every calls-level function: its returns and yields are left alone, nothing reads its id. */
const CALLS_SCOPE: Scope = { id: "", full: false, generator: false, async: false };

function instrumentFunction(pos: number, arrow: boolean, pt: number, pp: number, name: string, level: Exclude<Level, "off">): void {
  const index = functions.length;
  const offset = startOf(pos);
  const line = lineOf(starts, offset);
  const flags = functionFlags(pos, arrow, pt, pp);
  const listener = listenerOf(pos, pt, pp);
  const column = offset - starts[line - 1]! + 1;
  functions.push(listener ? { name, line, column, flags, level, listener } : { name, line, column, flags, level });
  const saved = scope;
  if (level !== "full") {
    // The calls level: one statement (or a comma expression's first operand), no Scope, no id string of its own.
    scope = CALLS_SCOPE;
    try {
      if (arrow && u8[pos + 40] !== 64) {
        const body = boxed(pos + 40);
        insertRight(startOf(body), `${callsHookExpression}${index}),`);
        childrenArrowFunctionExpression(pos);
        insertLeft(endOf(body), ")");
        return;
      }
      insertRight(afterDirectives(arrow ? boxed(pos + 40) : i32[(pos + 80) >> 2]!), `${callsHook}${index});`);
      walkChildren(pos, arrow);
    } finally {
      scope = saved;
    }
    return;
  }
  const isAsync = arrow ? u8[pos + 56] === 1 : u8[pos + 90] === 1;
  const generator = !arrow && u8[pos + 89] === 1;
  const own: Scope = { id: `${base}+${index}`, full: true, generator, async: isAsync };
  const self = isStatefulMethod(pos, arrow, pt, pp) ? ",this" : "";
  if (self) functions[index]!.flags |= FunctionFlag.stateful;
  const asyncOnly = isAsync && !generator;
  scope = own;
  try {
    if (arrow && u8[pos + 40] !== 64) return expressionBody(pos, own, asyncOnly, self);
    const body = arrow ? boxed(pos + 40) : i32[(pos + 80) >> 2]!;
    const start = afterDirectives(body);
    const initial = own.generator && !own.async ? `=${HOOK}.u` : "";
    const enter = `var ${CALL_TOKEN}=${HOOKED}.C(${own.id},${argumentsOf(pos, arrow)}${self}),${RETURN_VALUE}${initial};try{`;
    const bodyEnd = endOf(body);
    if (start >= bodyEnd - 1) return void insertRight(start, enter + exitCode(own.id, asyncOnly, self));
    insertRight(start, enter);
    walkChildren(pos, arrow);
    insertLeft(bodyEnd - 1, exitCode(own.id, asyncOnly, self));
  } finally {
    scope = saved;
  }
}

function walkChildren(pos: number, arrow: boolean): void {
  if (arrow) childrenArrowFunctionExpression(pos);
  else childrenFunction(pos);
}

function expressionBody(pos: number, own: Scope, asyncOnly: boolean, self: string): void {
  // Only at "full": instrumentFunction writes the calls level's comma expression itself.
  const open = arrowEnd(pos);
  const enter = `{var ${CALL_TOKEN}=${HOOKED}.C(${own.id},${argumentsOf(pos, true)}${self}),${RETURN_VALUE};try{return ${RETURN_VALUE}=(`;
  insertRight(open, enter);
  childrenArrowFunctionExpression(pos);
  insertLeft(endOf(pos), `)${exitCode(own.id, asyncOnly, self)}}`);
}

/** Where the body's code starts: after `{` and any directive prologue (FunctionBody at `body`). */
function afterDirectives(body: number): number {
  const count = vecLen(body + 16);
  if (count === 0) return startOf(body) + 1;
  const end = endOf(vecPtr(body + 16) + (count - 1) * 80);
  insertRight(end, ";");
  return end;
}

/** The FormalParameters of a function or arrow. */
function paramsOf(pos: number, arrow: boolean): number {
  return i32[(arrow ? pos + 24 : pos + 64) >> 2]!;
}

/** Calls `each(patternAt, end)` per ESTree parameter: the binding pattern (enum offset) and the parameter's end. */
function forEachParam(params: number, each: (pattern: number, end: number) => void): void {
  const items = vecPtr(params + 16);
  const count = vecLen(params + 16);
  for (let i = 0; i < count; i++) {
    const item = items + i * 72;
    const hasDefault = !isNullPointer(item + 64);
    each(item + 40, hasDefault ? endOf(item) : endOf(boxed(item + 40)));
  }
  if (i32[(params >> 2) + 10] !== 0 && i32[(params >> 2) + 11] !== 0) {
    const rest = i32[(params >> 2) + 10]!;
    each(rest + 56, i32[(rest + 44) >> 2]!);
  }
}

/** transform.ts argumentsOf for an arrow (a function: `arguments`). */
function argumentsOf(pos: number, arrow: boolean): string {
  if (!arrow) return "arguments";
  const values: string[] = [];
  forEachParam(paramsOf(pos, true), (pattern) => {
    // An AssignmentPattern's left or a RestElement's argument is the pattern itself here.
    if (u8[pattern] === 0) return void values.push(str(boxed(pattern) + 16));
    const names: string[] = [];
    bindingNames(pattern, names);
    values.push(names.length > 0 && names.length <= 16 ? `{${names.join(",")}}` : "void 0");
  });
  return `[${values.join(",")}]`;
}

/** Every name a BindingPattern enum at `at` binds, in source order (parse.ts bindingNames). */
function bindingNames(at: number, out: string[]): void {
  const node = boxed(at);
  switch (u8[at]) {
    case 0:
      out.push(str(node + 16));
      break;
    case 1: {
      const properties = vecPtr(node + 16);
      const count = vecLen(node + 16);
      for (let i = 0; i < count; i++) bindingNames(properties + i * 48 + 32, out);
      if (!isNullPointer(node + 40)) bindingNames(i32[(node + 40) >> 2]! + 16, out);
      break;
    }
    case 2: {
      const elements = vecPtr(node + 16);
      const count = vecLen(node + 16);
      for (let i = 0; i < count; i++) if (u8[elements + i * 16] !== NONE) bindingNames(elements + i * 16, out);
      if (!isNullPointer(node + 40)) bindingNames(i32[(node + 40) >> 2]! + 16, out);
      break;
    }
    case 3:
      bindingNames(node + 16, out);
      break;
  }
}

function arrowEnd(pos: number): number {
  let from = startOf(pos);
  forEachParam(paramsOf(pos, true), (_pattern, end) => {
    from = Math.max(from, end);
  });
  return scanArrowEnd(code, from, startOf(pos));
}

function visitReturn(pos: number): void {
  if (!scope?.full) return childrenReturnStatement(pos);
  if (u8[pos + 16] === NONE) {
    insertLeft(startOf(pos) + "return".length, ` ${RETURN_VALUE}=void 0`);
    return;
  }
  const argument = boxed(pos + 16);
  insertRight(startOf(argument), ` ${RETURN_VALUE}=(`);
  childrenReturnStatement(pos);
  insertLeft(endOf(argument), ")");
}

function visitYield(pos: number): void {
  const current = scope;
  if (!current?.full || !current.generator || u8[pos + 12] === 1) return childrenYieldExpression(pos);
  const hasArgument = u8[pos + 16] !== NONE;
  const argument = hasArgument ? boxed(pos + 16) : -1;
  const afterKeyword = startOf(pos) + "yield".length;
  if (!current.async) {
    const head = `* ${HOOK}.w(${current.id},${CALL_TOKEN},`;
    if (!hasArgument) return void insertLeft(afterKeyword, `${head}void 0)`);
    insertLeft(afterKeyword, head);
    childrenYieldExpression(pos);
    insertLeft(endOf(argument), ")");
    return;
  }
  insertRight(startOf(pos), `${HOOK}.n(${current.id},${CALL_TOKEN},`);
  if (!hasArgument) {
    insertLeft(afterKeyword, ` ${HOOK}.y(${current.id},${CALL_TOKEN},void 0)`);
    insertLeft(endOf(pos), ")");
    return;
  }
  insertRight(startOf(argument), ` ${HOOK}.y(${current.id},${CALL_TOKEN},(`);
  childrenYieldExpression(pos);
  insertLeft(endOf(argument), "))");
  insertLeft(endOf(pos), ")");
}

function visitCall(pos: number): void {
  // A direct eval runs its code as part of this script: it may hold an import().
  if (u8[pos + 16] === E_IDENTIFIER && i32[((boxed(pos + 16) + 16) >> 2) + 2] === 4 && str(boxed(pos + 16) + 16) === "eval") dynamicImport = true;
  const method = offDepth === 0 && vecLen(pos + 40) >= 2 ? listenerMethod(pos) : undefined;
  if (method === undefined) return childrenCallExpression(pos);
  const firstAt = vecPtr(pos + 40);
  const handlerAt = firstAt + 16;
  if (u8[firstAt] === A_SPREAD || u8[handlerAt] === A_SPREAD) return childrenCallExpression(pos);
  const literal = literalString(firstAt);
  const handlerTag = u8[handlerAt];
  const inline = handlerTag === E_FUNCTION || handlerTag === E_ARROW;
  if (literal !== undefined && inline) return childrenCallExpression(pos);
  const firstTag = u8[firstAt];
  if (firstTag === E_FUNCTION || firstTag === E_ARROW || firstTag === E_CLASS) return childrenCallExpression(pos);
  childrenCallExpression(pos);
  const first = boxed(firstAt);
  const handler = boxed(handlerAt);
  let event: string;
  // No raw U+2028/U+2029 in the inserted name: it would add a line.
  if (literal !== undefined) event = stringLiteral(literal.slice(0, 200));
  else {
    insertBefore(startOf(first), `${TEMP}=(`);
    insertLeft(endOf(first), ")");
    event = TEMP;
  }
  const index = inline ? inlineIndex.get(handler) : undefined;
  const id = inline ? `,${index === undefined ? "0" : `${base}+${index}`}` : "";
  insertBefore(startOf(handler), `${HOOKED}.l(${event},(`);
  insertLeft(endOf(handler), `),${JSON.stringify(method)}${id})`);
}

/** After a node's decorators (a Vec<Decorator> at `decorators`, 32 bytes each). */
function afterDecorators(start: number, decorators: number): number {
  let from = start;
  const items = vecPtr(decorators);
  const count = vecLen(decorators);
  for (let i = 0; i < count; i++) from = Math.max(from, endOf(items + i * 32));
  return from;
}

function memberStart(mt: number, mp: number): number {
  if (mt === T_METHOD) return scanMemberStart(code, afterDecorators(startOf(mp), mp + 16), startOf(boxed(mp + 40)));
  return scanMemberStart(code, startOf(mp), startOf(boxed(mp + 16)));
}

function visitClass(pos: number, pt: number, pp: number): void {
  const hasId = !isNullPointer(pos + 56);
  const name = hasId ? str(pos + 56) : (pt !== -1 && nameFromParent(pt, pp, pos)) || "<class>";
  const from = mark();
  const container: Container = { name, stateful: statefulOf(name) };
  classNames.push(name);
  containers.push(container);
  childrenClass(pos);
  containers.pop();
  classNames.pop();
  addRange(from, scanClassStart(code, afterDecorators(startOf(pos), pos + 16), startOf(pos), endOf(pos)), endOf(pos), container.constructorIndex ?? -1, "class", name);
}

/** transform.ts visitPassingName. */
function passingName(pos: number, pt: number, pp: number, children: (pos: number) => void): void {
  const name = nameFromParent(pt, pp, pos);
  if (name === "") return children(pos);
  passNames.set(pos, name);
  children(pos);
  passNames.delete(pos);
}

function visitObject(pos: number, pt: number, pp: number): void {
  const name = pt === T_DECLARATOR || pt === T_ASSIGNMENT ? nameFromParent(pt, pp, pos) : "";
  containers.push({ name, stateful: name !== "" && statefulOf(name) });
  childrenObjectExpression(pos);
  containers.pop();
}
