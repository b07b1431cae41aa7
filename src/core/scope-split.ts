/**
 * Splits a bundle's top-level scope into nested function scopes of at most `limit` names
 * each (V8 gives a scope with more than 75 context-allocated names a NameToIndexHashTable,
 * which every isolate that deserialises it from a code cache rehashes: BENCHMARKS.md
 * "Worker start: the top-level scope split"). The bundle is CommonJS source as Bun writes
 * it: a flat list of top-level declarations and statements. A name may only be placed at
 * or outside the level of every statement that refers to it; statements other than
 * function declarations keep their order (levels run one after another: each level's
 * statements, then a call of the next level's arrow); function declarations, hoisted, go
 * where their references allow. References are found conservatively (any identifier with a
 * top-level name, shadowed or not). Returns the source unchanged when no split fits.
 */

type Node = { type: string; start: number; end: number; [key: string]: unknown };

const FUNCTION_TYPES = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);

/** Top-level names a statement declares: its own, and the `var`s of the blocks in it (hoisted to the top level). */
function declared(statement: Node): string[] {
  if (statement.type === "FunctionDeclaration" || statement.type === "ClassDeclaration") return [(statement.id as Node & { name: string }).name];
  const names: string[] = [];
  // A top-level let or const is the top level's too; in a block, only a var is.
  if (statement.type === "VariableDeclaration") for (const declarator of statement.declarations as Node[]) collectPattern(declarator.id as Node, names);
  else hoistedVars(statement, names);
  return names;
}

function hoistedVars(node: unknown, names: string[]): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const item of node) hoistedVars(item, names);
    return;
  }
  const n = node as Node;
  if (FUNCTION_TYPES.has(n.type) || n.type === "ClassDeclaration" || n.type === "ClassExpression") return;
  if (n.type === "VariableDeclaration" && n.kind === "var") for (const declarator of n.declarations as Node[]) collectPattern(declarator.id as Node, names);
  for (const key in n) if (key !== "type" && key !== "start" && key !== "end") hoistedVars(n[key], names);
}

/** Whether the top level (outside functions) returns, or the source calls `eval` (direct): moving statements into an arrow would change them. */
function unsplittable(node: unknown, inFunction: boolean): boolean {
  if (node === null || typeof node !== "object") return false;
  if (Array.isArray(node)) return node.some((item) => unsplittable(item, inFunction));
  const n = node as Node;
  if (n.type === "ReturnStatement" && !inFunction) return true;
  if (n.type === "CallExpression" && (n.callee as Node).type === "Identifier" && (n.callee as Node).name === "eval") return true;
  const inner = inFunction || FUNCTION_TYPES.has(n.type);
  for (const key in n) if (key !== "type" && key !== "start" && key !== "end" && unsplittable(n[key], inner)) return true;
  return false;
}

function collectPattern(pattern: Node, names: string[]): void {
  if (pattern.type === "Identifier") names.push(pattern.name as string);
  else if (pattern.type === "ObjectPattern") for (const p of pattern.properties as Node[]) collectPattern((p.type === "RestElement" ? p.argument : p.value) as Node, names);
  else if (pattern.type === "ArrayPattern") for (const e of pattern.elements as (Node | null)[]) e && collectPattern(e.type === "RestElement" ? (e.argument as Node) : e, names);
  else if (pattern.type === "AssignmentPattern") collectPattern(pattern.left as Node, names);
  else if (pattern.type === "RestElement") collectPattern(pattern.argument as Node, names);
}

/** Every identifier name used in a node, leaving out non-computed property keys and member names. */
function identifiers(node: unknown, out: Set<string>): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const item of node) identifiers(item, out);
    return;
  }
  const n = node as Node;
  if (n.type === "Identifier") {
    out.add(n.name as string);
    return;
  }
  for (const key in n) {
    if (key === "type" || key === "start" || key === "end" || key === "range" || key === "loc") continue;
    if (!n.computed && ((n.type === "MemberExpression" && key === "property") || ((n.type === "Property" || n.type === "MethodDefinition" || n.type === "PropertyDefinition") && key === "key"))) {
      // An object literal's shorthand `{ a }` reads `a`: its value is the same Identifier.
      continue;
    }
    identifiers(n[key], out);
  }
}

/**
 * Names a level may declare: under V8's 75 inline names (kScopeInfoMaxInlinedLocalNamesSize),
 * with room for the wrapper's six parameters, which the outermost level's scope holds too.
 */
export const TOP_SCOPE_NAMES = 64;

export interface ScopeSplit {
  /** The source with its top level split, or the source unchanged. */
  source: string;
  /** Names at each level, outermost first (one level: not split). */
  levels: number[];
}

/**
 * `body`: the bundle's text (Bun's CommonJS output, no wrapper). The result is the same text
 * with levels 1… inside `(() => { ... })();` arrows nested at the end of the level before.
 */
export function splitTopScope(body: string, limit = TOP_SCOPE_NAMES): ScopeSplit {
  // Loaded here, at a build's bundling: never in a traced program, nor at the compiled CLI's start.
  const { parseSync } = require("oxc-parser") as typeof import("oxc-parser");
  const program = parseSync("bundle.cjs", body, { sourceType: "script" }).program as unknown as { body: Node[] };
  const statements = program.body;
  if (unsplittable(statements, false)) return { source: body, levels: [0] };
  const owner = new Map<string, number>();
  statements.forEach((statement, index) => {
    for (const name of declared(statement)) owner.set(name, index);
  });
  // deps[i]: the statements whose names statement i refers to.
  const deps = statements.map((statement, index) => {
    const names = new Set<string>();
    identifiers(statement, names);
    const out = new Set<number>();
    for (const name of names) {
      const at = owner.get(name);
      if (at !== undefined && at !== index) out.add(at);
    }
    return out;
  });
  const isFree = (i: number) => statements[i]!.type === "FunctionDeclaration";
  const ordered = statements.map((_, i) => i).filter((i) => !isFree(i));
  // Edges: i must be at or inside every dep's level; an ordered statement at or inside the one before it.
  for (let k = 1; k < ordered.length; k++) deps[ordered[k]!]!.add(ordered[k - 1]!);
  // Strongly connected components (Tarjan, iterative), each placed whole.
  const n = statements.length;
  const comp = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const num = new Array<number>(n).fill(-1);
  const stack: number[] = [];
  const onStack = new Array<boolean>(n).fill(false);
  let counter = 0;
  const comps: number[][] = [];
  for (let root = 0; root < n; root++) {
    if (num[root] !== -1) continue;
    const work: [number, number[]][] = [[root, [...deps[root]!]]];
    num[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [v, rest] = frame;
      const w = rest.pop();
      if (w !== undefined) {
        if (num[w] === -1) {
          num[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          work.push([w, [...deps[w]!]]);
        } else if (onStack[w]) low[v] = Math.min(low[v]!, num[w]!);
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]![0];
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === num[v]) {
        const members: number[] = [];
        let x: number;
        do {
          x = stack.pop()!;
          onStack[x] = false;
          comp[x] = comps.length;
          members.push(x);
        } while (x !== v);
        comps.push(members);
      }
    }
  }
  // Tarjan emits components dependencies first: place them in that order.
  const sizeOf = (members: number[]) => members.reduce((sum, i) => sum + declared(statements[i]!).length, 0);
  const levelOf = new Array<number>(n).fill(0);
  const counts: number[] = [];
  for (const members of comps) {
    const size = sizeOf(members);
    if (size > limit) return { source: body, levels: [owner.size] };
    let level = 0;
    for (const i of members) for (const d of deps[i]!) if (comp[d] !== comp[i]) level = Math.max(level, levelOf[d]!);
    while ((counts[level] ?? 0) + size > limit) level++;
    counts[level] = (counts[level] ?? 0) + size;
    for (const i of members) levelOf[i] = level;
  }
  if (counts.length <= 1) return { source: body, levels: counts.length === 0 ? [0] : counts };
  // Write each level's statements in their original order, the next level's arrow at its end.
  const text = (i: number) => body.slice(statements[i]!.start, statements[i]!.end);
  const head = statements.length > 0 ? body.slice(0, statements[0]!.start) : body;
  const tail = statements.length > 0 ? body.slice(statements[statements.length - 1]!.end) : "";
  let out = head;
  for (let level = 0; level < counts.length; level++) {
    if (level > 0) out += "\n(() => {\n";
    for (let i = 0; i < n; i++) if (levelOf[i] === level) out += text(i) + "\n";
  }
  for (let level = 1; level < counts.length; level++) out += "})();\n";
  return { source: out + tail, levels: counts };
}
