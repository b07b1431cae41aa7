/**
 * Generates src/instrument/oxc-walk.generated.ts from oxc-parser's own generated walker
 * for its raw-transfer buffer (node_modules/oxc-parser/src-js/generated/lazy/walk.js):
 * the same traversal of every node type, field offsets and enum discriminants, with
 * oxc's lazy node objects taken out. What is left reads the buffer with typed arrays and
 * allocates nothing; the nodes the instrumenter acts on (functions, returns, yields,
 * classes, object literals, members, calls, JSX, import()) go to handlers set by
 * src/instrument/transform-raw.ts, and every other node only records itself as the
 * current parent (its type id and offset), which is what the handlers read.
 *
 *   bun scripts/gen-oxc-walk.ts          write the file
 *   bun scripts/gen-oxc-walk.ts --check  exit 1 when the file is not what the installed oxc-parser gives
 *
 * The file is pinned to the oxc-parser version it was made from (OXC_WALK_VERSION);
 * oxc-raw.ts uses it only when the loaded oxc-parser has that version.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const oxcDir = join(root, "node_modules/oxc-parser");
const target = join(root, "src/instrument/oxc-walk.generated.ts");

/** Node types the instrumenter handles: walkX(pos) calls the handler, childrenX(pos) walks on. */
export const HANDLED: Record<string, string> = {
  Function: "onFunction",
  ArrowFunctionExpression: "onArrow",
  ReturnStatement: "onReturn",
  YieldExpression: "onYield",
  Class: "onClass",
  ObjectExpression: "onObject",
  MethodDefinition: "onMethod",
  ObjectProperty: "onProperty",
  CallExpression: "onCall",
  JSXElement: "onJsxElement",
  JSXFragment: "onJsxFragment",
  ImportExpression: "onImport",
  LogicalExpression: "onLogical",
  ConditionalExpression: "onConditional",
};

/** Structs without a node type of their own that are a parent in ESTree: a synthetic type id. */
export const SYNTHETIC: Record<string, number> = { FormalParameter: 1000 };

/**
 * Children oxc's lazy walker leaves out but its ESTree deserializer builds (so transform.ts
 * visits them): rest elements of parameters and patterns, a class's superclass. Added after
 * the line `after` of the walker named; `crossCheck` below finds any others.
 */
const PATCHES: Record<string, { after: string; add: string }> = {
  walkFormalParameters: {
    after: "  walkVecFormalParameter(pos + 16, ast, visitors);\n",
    add: "  if (ast.buffer.int32[(pos >> 2) + 10] !== 0 && ast.buffer.int32[(pos >> 2) + 11] !== 0) walkBindingPattern(ast.buffer.int32[(pos >> 2) + 10] + 56, ast, visitors);\n",
  },
  walkClass: {
    after: "  walkOptionBoxTSTypeParameterDeclaration(pos + 72, ast, visitors);\n",
    add: "  walkOptionExpression(pos + 80, ast, visitors);\n",
  },
  walkObjectPattern: {
    after: "  walkVecBindingProperty(pos + 16, ast, visitors);\n",
    add: "  if (!(ast.buffer.int32[(pos + 40) >> 2] === 0 && ast.buffer.int32[((pos + 40) >> 2) + 1] === 0)) walkBindingPattern(ast.buffer.int32[(pos + 40) >> 2] + 16, ast, visitors);\n",
  },
  walkArrayPattern: {
    after: "  walkVecOptionBindingPattern(pos + 16, ast, visitors);\n",
    add: "  if (!(ast.buffer.int32[(pos + 40) >> 2] === 0 && ast.buffer.int32[((pos + 40) >> 2) + 1] === 0)) walkBindingPattern(ast.buffer.int32[(pos + 40) >> 2] + 16, ast, visitors);\n",
  },
  walkObjectAssignmentTarget: {
    after: "  walkVecAssignmentTargetProperty(pos + 16, ast, visitors);\n",
    add: "  if (!(ast.buffer.int32[(pos + 40) >> 2] === 0 && ast.buffer.int32[((pos + 40) >> 2) + 1] === 0)) walkAssignmentTarget(ast.buffer.int32[(pos + 40) >> 2] + 16, ast, visitors);\n",
  },
  walkArrayAssignmentTarget: {
    after: "  walkVecOptionAssignmentTargetMaybeDefault(pos + 16, ast, visitors);\n",
    add: "  if (!(ast.buffer.int32[(pos + 40) >> 2] === 0 && ast.buffer.int32[((pos + 40) >> 2) + 1] === 0)) walkAssignmentTarget(ast.buffer.int32[(pos + 40) >> 2] + 16, ast, visitors);\n",
  },
};

/**
 * Fields the deserializer reads as nodes that no walker reaches, known to hold none the
 * transform acts on (directives, import phases, literal parts), by deserializer name.
 */
const NOT_WALKED: Record<string, number[]> = {
  FunctionBody: [16],
  Program: [88],
  ImportDeclaration: [12],
  ImportExpression: [12],
  RegExpLiteral: [16],
  TemplateElement: [16],
  FormalParameters: [56],
};

/**
 * Compares, per node type, the offsets oxc's deserializer reads nodes from with those the
 * (patched) walker walks, and each enum's variants: a new oxc-parser whose lazy walker
 * leaves out a child the ESTree has fails here instead of instrumenting less.
 */
function crossCheck(deserializer: string, walker: string): void {
  const functionsOf = (src: string, prefix: string) => {
    const out = new Map<string, string>();
    for (const m of src.matchAll(new RegExp(`\\nfunction ${prefix}(\\w+)\\(pos[^)]*\\) \\{([\\s\\S]*?)\\n\\}`, "g"))) out.set(m[1]!, m[2]!);
    return out;
  };
  const d = functionsOf(deserializer, "deserialize");
  const w = functionsOf(walker, "walk");
  const primitive = /^(Bool|I32|U32|F64|Str|JSStr|OptionStr|OptionJSStr|Span|U8|U16|U64|ModuleKind)$/;
  const problems: string[] = [];
  for (const [name, body] of w) {
    const read = d.get(name);
    // TypeScript-only nodes: the walk runs on plain JavaScript (js, jsx) only.
    if (read === undefined || name.startsWith("TS")) continue;
    const walked = new Set([...body.matchAll(/walk\w+\(pos \+ (\d+)/g)].map((m) => Number(m[1])));
    for (const m of body.matchAll(/int32\[\(pos \+ (\d+)\) >> 2\] \+ \d+/g)) walked.add(Number(m[1]));
    if (/int32\[\(pos >> 2\) \+ 10\]/.test(body)) walked.add(56);
    if (/walk\w+\(pos, ast/.test(body)) walked.add(0);
    for (const m of read.matchAll(/deserialize(\w+)\(pos \+ (\d+)\)/g)) {
      const callee = m[1]!;
      const offset = Number(m[2]);
      if (primitive.test(callee) || (/(Kind|Type|Operator)$/.test(callee) && !/^(Box|Vec|Option)/.test(callee))) continue;
      if (walked.has(offset) || NOT_WALKED[name]?.includes(offset)) continue;
      problems.push(`${name}: deserializer reads a node at +${offset} that the walker does not walk`);
    }
    if (body.includes("switch")) {
      const cases = (text: string) => [...text.matchAll(/case (\d+):/g)].map((m) => m[1]).sort().join(",");
      if (cases(body) !== cases(read)) problems.push(`${name}: enum variants differ (walker ${cases(body)}, deserializer ${cases(read)})`);
    }
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
}

/**
 * Takes out the walkers that do nothing and every call of them: a node without children
 * (an identifier, a literal, `this`) only records itself as the parent of nothing, and a
 * Box, Option or Vec of such nodes walks nothing either. What is left visits the same nodes
 * the handlers see, with the same parents; the cold first pass of a first start no longer
 * makes a call per identifier (each call of the interpreter's before V8 optimizes the walk).
 * A `case N:` of an enum stays (its discriminant is still known: no throw).
 */
function pruneEmpty(walkers: string[]): string[] {
  const nameOf = (walker: string) => /^(?:export )?function (\w+)\(pos\)/.exec(walker)![1]!;
  const empty = new Set<string>();
  // A call alone on its line, or under an Option's test (on its line or the one before).
  const callsOf = (name: string) => [new RegExp(`^ *if \\(.*\\)\\n? *${name}\\([^;\\n]*\\);\\n`, "gm"), new RegExp(`^ *(?:return )?${name}\\([^;\\n]*\\);\\n`, "gm")];
  let bodies = walkers;
  for (let changed = true; changed; ) {
    changed = false;
    for (const walker of bodies) {
      const name = nameOf(walker);
      if (empty.has(name) || walker.startsWith("export ")) continue;
      const rest = walker
        .replace(/^function \w+\(pos\) \{\n/, "")
        .replace(/\}\s*$/, "")
        .replace(/^  const savedType = parentType, savedPos = parentPos;\n  parentType = \d+;\n  parentPos = pos;\n/, "")
        .replace(/  parentType = savedType;\n  parentPos = savedPos;\n$/, "")
        // The loop of a Vec around no call.
        .replace(/^  const pos32 = pos >> 2;\n  pos = int32\[pos32\];\n  const endPos = pos \+ int32\[pos32 \+ 2\] \* \d+;\n  while \(pos < endPos\) \{\n    pos \+= \d+;\n  \}\n$/, "")
        .trim();
      if (rest !== "") continue;
      empty.add(name);
      changed = true;
      bodies = bodies.map((other) => callsOf(name).reduce((text, call) => text.replace(call, ""), other));
    }
  }
  for (const walker of bodies) for (const name of empty) if (new RegExp(`\\b${name}\\(`).test(walker) && nameOf(walker) !== name) throw new Error(`pruneEmpty: ${nameOf(walker)} still calls ${name}`);
  return bodies.filter((walker) => !empty.has(nameOf(walker)));
}

/**
 * Calls of the Box and Option walkers made in place: `walkBoxX(p)` is `walkX(int32[(p) >> 2])`
 * and `walkOptionX(p)` its test then the call, so a boxed node (most expressions and
 * statements) costs one call instead of two. A first start's walk runs cold: before V8
 * optimizes the walkers (inlining these for itself) every call is the interpreter's, and
 * the cold walk of typescript.js cost ~4x the warm one (BENCHMARKS.md).
 */
function inlineWrappers(walkers: string[]): string[] {
  const nameOf = (walker: string) => /^(?:export )?function (\w+)\(pos\)/.exec(walker)![1]!;
  const inlined = new Map<string, (arg: string) => string>();
  for (const walker of walkers) {
    const name = nameOf(walker);
    const box = /^function \w+\(pos\) \{\n  return (\w+)\(int32\[pos >> 2\]\);\n\}\n*$/.exec(walker);
    if (name.startsWith("walkBox") && box) {
      const target = box[1]!;
      inlined.set(name, (arg) => `${target}(int32[${arg === "pos" ? "pos" : `(${arg})`} >> 2])`);
      continue;
    }
    const option = /^function \w+\(pos\) \{\n  if \((.*)\)\n? *(\w+)\(pos\);\n\}\n*$/.exec(walker);
    if (name.startsWith("walkOption") && option) {
      const [test, target] = [option[1]!, option[2]!];
      inlined.set(name, (arg) => {
        const at = arg === "pos" ? "pos" : `(${arg})`;
        return `if (${test.replace(/\bpos\b/g, at)}) ${target}(${arg})`;
      });
    }
  }
  // An Option's target may be a Box: resolved until nothing inlinable is called.
  const rewrite = (text: string): string =>
    text.replace(/^( *)(?:return )?(walk(?:Box|Option)\w+)\(([^;\n]*)\);$/gm, (line, indent: string, name: string, arg: string) => {
      const make = inlined.get(name);
      if (!make) return line;
      const made = make(arg);
      const inner = /^if \((.*)\) (walk\w+)\((.*)\)$/.exec(made);
      if (inner && inlined.has(inner[2]!)) return `${indent}if (${inner[1]}) ${rewrite(`${inner[2]}(${inner[3]});`).trim()}`;
      return `${indent}${made};`;
    });
  const out: string[] = [];
  for (const walker of walkers) {
    const name = nameOf(walker);
    if (inlined.has(name)) continue;
    let text = walker;
    for (let i = 0; i < 3; i++) text = rewrite(text);
    out.push(text);
  }
  for (const walker of out) for (const name of inlined.keys()) if (new RegExp(`\\b${name}\\(`).test(walker)) throw new Error(`inlineWrappers: ${nameOf(walker)} still calls ${name}`);
  return out;
}

export function generate(): string {
  const version = (JSON.parse(readFileSync(join(oxcDir, "package.json"), "utf8")) as { version: string }).version;
  let source = readFileSync(join(oxcDir, "src-js/generated/lazy/walk.js"), "utf8");
  const deserializer = readFileSync(join(oxcDir, "src-js/generated/deserialize/js.js"), "utf8");
  source = source.replace(/^import \{[\s\S]*?\} from "\.\/constructors\.js";\n/m, "").replace("export { walkProgram };\n", "");
  const chunks = source.split(/\n(?=function )/);
  const out: string[] = [];
  const typeIds: Record<string, number> = {};
  const patched = new Set<string>();
  /** Each walker after its patch, before conversion: what crossCheck reads. */
  const patchedSource: string[] = [];
  for (const chunk of chunks) {
    const head = /^function (\w+)\(pos, ast, visitors\) \{/.exec(chunk);
    if (!head) {
      if (chunk.includes("function")) throw new Error(`unexpected text in walk.js: ${chunk.slice(0, 200)}`);
      continue;
    }
    const name = head[1]!;
    let body = chunk.replace(/^function (\w+)\(pos, ast, visitors\) \{/, "function $1(pos) {");
    let typeId: number | undefined;
    body = body.replace(
      /  const enterExit = visitors\[(\d+)\];\n  let node,\n    enter,\n    exit = null;\n  if \(enterExit !== null\) \{\n    \(\{ enter, exit \} = enterExit\);\n    node = new \w+\(pos, ast\);\n    if \(enter !== null\) enter\(node\);\n  \}\n/,
      (_all, id: string) => {
        typeId = Number(id);
        return `  const savedType = parentType, savedPos = parentPos;\n  parentType = ${id};\n  parentPos = pos;\n`;
      },
    );
    if (typeId !== undefined) {
      if (!body.includes("  if (exit !== null) exit(node);\n")) throw new Error(`${name}: no exit call`);
      body = body.replace("  if (exit !== null) exit(node);\n", "  parentType = savedType;\n  parentPos = savedPos;\n");
    }
    body = body.replace(/  const visit = visitors\[(\d+)\];\n  if \(visit !== null\) visit\(new \w+\(pos, ast\)\);\n/, (_all, id: string) => {
      typeId = Number(id);
      return "";
    });
    const patch = PATCHES[name];
    if (patch) {
      patched.add(name);
      if (!body.includes(patch.after)) throw new Error(`${name}: layout changed (no "${patch.after.trim()}")`);
      body = body.replace(patch.after, patch.after + patch.add);
    }
    patchedSource.push(body.replace(/^function (\w+)\(pos\) \{/, "function $1(pos, ast, visitors) {"));
    const synthetic = SYNTHETIC[name.replace(/^walk/, "")];
    if (synthetic !== undefined) {
      body = body.replace("function " + name + "(pos) {\n", `function ${name}(pos) {\n  const savedType = parentType, savedPos = parentPos;\n  parentType = ${synthetic};\n  parentPos = pos;\n`);
      body = body.replace(/\n\}\s*$/, "\n  parentType = savedType;\n  parentPos = savedPos;\n}\n");
    }
    body = body
      .replaceAll(", ast, visitors)", ")")
      .replace(/const \{ int32 \} = ast\.buffer,\n    pos32/g, "const pos32")
      .replaceAll("ast.buffer.int32", "int32")
      .replaceAll("ast.buffer[", "uint8[");
    if (/\bast\b|\bvisitors\b/.test(body)) throw new Error(`${name}: unconverted text:\n${body}`);
    const typeName = name.replace(/^walk/, "");
    if (typeId !== undefined) typeIds[typeName] = typeId;
    const handler = HANDLED[typeName];
    if (handler) {
      if (typeId === undefined) throw new Error(`${name}: no node type id`);
      out.push(body.replace(`function ${name}(pos) {`, `export function children${typeName}(pos) {`));
      out.push(`function ${name}(pos) {\n  ${handler}(pos, parentType, parentPos);\n}\n`);
    } else out.push(body);
  }
  const walkers = inlineWrappers(pruneEmpty(out));
  for (const name of Object.keys(HANDLED)) if (typeIds[name] === undefined) throw new Error(`walk.js has no walker for ${name}`);
  for (const name of Object.keys(PATCHES)) if (!patched.has(name)) throw new Error(`walk.js has no ${name}`);
  crossCheck(deserializer, patchedSource.join("\n"));
  const handlerNames = [...new Set(Object.values(HANDLED))];
  const ids = Object.entries(typeIds)
    .sort((a, b) => a[1] - b[1])
    .map(([n, id]) => `  ${n}: ${id},`)
    .join("\n");
  return `// @ts-nocheck
// Generated by scripts/gen-oxc-walk.ts from oxc-parser ${version}'s src-js/generated/lazy/walk.js
// (MIT, Boshen and oxc contributors): do not edit; run \`bun scripts/gen-oxc-walk.ts\`.
// The walk of oxc's raw-transfer buffer without its lazy node objects (see the script).

/** The oxc-parser version whose buffer layout this walker reads. */
export const OXC_WALK_VERSION = ${JSON.stringify(version)};

/** Node type ids (oxc's lazy type ids; synthetic ones from ${1000}). */
export const TYPE = {
${ids}
${Object.entries(SYNTHETIC)
  .map(([n, id]) => `  ${n}: ${id},`)
  .join("\n")}
};

let uint8, int32;
/** The nearest enclosing node: its type id and offset (-1 at the top). */
let parentType = -1,
  parentPos = 0;
let ${handlerNames.join(", ")};

/** Walks the program at \`programPos\`, calling \`handlers\` for the node types they name. */
export function walk(buffer, int32Array, programPos, handlers) {
  uint8 = buffer;
  int32 = int32Array;
  ${handlerNames.map((h) => `${h} = handlers.${h};`).join("\n  ")}
  parentType = -1;
  parentPos = 0;
  try {
    walkProgram(programPos);
  } finally {
    uint8 = int32 = void 0;
    ${handlerNames.map((h) => `${h} = void 0;`).join("\n    ")}
  }
}

${walkers.join("\n")}`;
}

if (import.meta.main) {
  const text = generate();
  if (process.argv.includes("--check")) {
    const current = readFileSync(target, "utf8");
    if (current !== text) {
      console.error(`scope: ${target} is not what the installed oxc-parser gives; run bun scripts/gen-oxc-walk.ts`);
      process.exit(1);
    }
  } else writeFileSync(target, text);
}
