/**
 * Which files Bun 1.4.5 runs as CommonJS, decided from the AST as Bun's transpiler does
 * (checked against Bun itself in spec/instrument-bun.test.ts): for the CommonJS loader
 * of the Bun plugin (bun-commonjs.ts).
 */
import { MAP_COMMENT_PREFIX } from "./map-comment";
import { bindingNames, type Node } from "./parse";

/** What Bun's transpiler looks at to decide a file's module kind (oven-sh/bun src/js_parser, Parser toAST). */
export interface ModuleFacts {
  /** `export` or top-level `await`: an ES module, whatever else it has. */
  esm: boolean;
  /** `import` declarations. */
  imports: boolean;
  importMeta: boolean;
  /** A free `module` or `exports`, a top-level `this`, a `with` statement: CommonJS. */
  commonJsOnly: boolean;
  /** A free `require`, `__dirname` or `__filename`, or a "use strict" directive: CommonJS when the package's type is not set. */
  commonJsHint: boolean;
  /** JSX elements (the loader cannot run CommonJS with JSX: see CommonJsLoader). */
  jsx: boolean;
}

/**
 * Bun's rule (1.4.5): ESM with `export`/top-level await; else CommonJS with CommonJS-only
 * features; else by type (CommonJsLoader.moduleType: the extension counts for the entry
 * point and `require()`, not for an `import`): "commonjs" → CommonJS unless it imports;
 * "module" → ESM; unset → ESM when it imports, CommonJS when it uses
 * require/__dirname/__filename or says "use strict", ESM otherwise. Bun counts
 * uses after dead-code elimination (`if (false) module.exports = x` does not count there):
 * such a file is taken as CommonJS here and runs in sloppy mode where Bun would have made
 * it an ES module. The other way round (Bun: CommonJS, here: ESM) would not run at all.
 */
export function commonJsUnderBun(facts: ModuleFacts, type: "commonjs" | "module" | undefined): boolean {
  if (facts.esm) return false;
  if (facts.commonJsOnly) return true;
  if (type === "commonjs") return !(facts.imports || facts.importMeta);
  if (type === "module") return false;
  return !facts.imports && facts.commonJsHint;
}

/**
 * Bun 1.4.5 decides the kind of the text a runtime plugin's onLoad returns by its contents
 * alone, as for a file without a package type (commonJsUnderBun with no type): neither the
 * extension nor package.json counts. Text it takes for CommonJS there is wrapped and never
 * run (bun-plugin.ts). So a file Bun itself runs as an ES module although it uses
 * `require`, `__dirname`, `__filename` or says "use strict" (a .mjs, a .js of a package of
 * type "module", ...) ran nothing under the plugin and exited 0. Its text must say
 * "ES module" in its contents: `esModuleText`.
 */
export function commonJsAsPluginText(facts: ModuleFacts): boolean {
  return commonJsUnderBun(facts, undefined);
}

/**
 * The text of a file Bun runs as an ES module, for a plugin to return (see commonJsAsPluginText):
 * `export {};` on a line of its own at the end (before a trailing source-map comment), which
 * exports nothing and makes Bun take the text for an ES module whatever else it has. Lines and
 * columns of the code do not move.
 */
export function esModuleText(text: string): string {
  const map = text.lastIndexOf(`\n${MAP_COMMENT_PREFIX}`);
  const end = map < 0 ? -1 : text.indexOf("\n", map + 1);
  if (map >= 0 && (end < 0 || end === text.length - 1)) return `${text.slice(0, map)}\nexport {};${text.slice(map)}`;
  return `${text}\nexport {};\n`;
}

const WATCHED = new Set(["module", "exports", "require", "__dirname", "__filename"]);
/** TypeScript-only keys: types never reference a value Bun counts. */
const TYPE_KEYS = new Set(["typeAnnotation", "returnType", "typeParameters", "typeArguments", "superTypeArguments", "superTypeParameters", "implements"]);
const SKIPPED_KEYS = new Set(["type", "start", "end", "loc", "range"]);

interface Scope {
  names: Set<string>;
  parent: Scope | undefined;
}

interface Context {
  /** Inside any function (arrows too): `await` and `return` are not top-level. */
  fn: boolean;
  /** Inside a function that has its own `this` (not an arrow), a class member or static block. */
  ownThis: boolean;
}

/** The facts of a parsed file (meriyah or oxc ESTree), with scopes for the watched names. */
export function factsOf(program: Node): ModuleFacts {
  const facts: ModuleFacts = { esm: false, imports: false, importMeta: false, commonJsOnly: false, commonJsHint: false, jsx: false };
  const body = program.body as Node[];
  for (const statement of body) {
    if (statement.type !== "ExpressionStatement" || typeof statement.directive !== "string") break;
    if (statement.directive === "use strict") facts.commonJsHint = true;
  }
  const top: Context = { fn: false, ownThis: false };

  const declare = (scope: Scope, name: string) => {
    if (WATCHED.has(name)) scope.names.add(name);
  };
  const reference = (scope: Scope, name: string) => {
    if (!WATCHED.has(name)) return;
    for (let s: Scope | undefined = scope; s; s = s.parent) if (s.names.has(name)) return;
    if (name === "module" || name === "exports") facts.commonJsOnly = true;
    else facts.commonJsHint = true;
  };

  /** `var` names and nested function-scoped declarations of a function body or the program. */
  const hoistVars = (statements: Node[], scope: Scope): void => {
    const visitStatement = (statement: Node | null | undefined): void => {
      if (!statement) return;
      switch (statement.type) {
        case "VariableDeclaration":
          if (statement.kind === "var") for (const declarator of statement.declarations as Node[]) bindingNames(declarator.id as Node, (name) => declare(scope, name));
          break;
        case "BlockStatement":
        case "StaticBlock":
          for (const inner of statement.body as Node[]) visitStatement(inner);
          break;
        case "IfStatement":
          visitStatement(statement.consequent as Node);
          visitStatement(statement.alternate as Node);
          break;
        case "ForStatement":
          visitStatement(statement.init as Node);
          visitStatement(statement.body as Node);
          break;
        case "ForInStatement":
        case "ForOfStatement":
          visitStatement(statement.left as Node);
          visitStatement(statement.body as Node);
          break;
        case "WhileStatement":
        case "DoWhileStatement":
        case "LabeledStatement":
        case "WithStatement":
          visitStatement(statement.body as Node);
          break;
        case "TryStatement":
          visitStatement(statement.block as Node);
          visitStatement((statement.handler as Node | null)?.body as Node);
          visitStatement(statement.finalizer as Node);
          break;
        case "SwitchStatement":
          for (const switchCase of statement.cases as Node[]) for (const inner of switchCase.consequent as Node[]) visitStatement(inner);
          break;
        case "ExportNamedDeclaration":
        case "ExportDefaultDeclaration":
          visitStatement(statement.declaration as Node);
          break;
      }
    };
    for (const statement of statements) visitStatement(statement);
  };

  /** Block-scoped declarations directly in a statement list (and imports at the top). */
  const hoistLexical = (statements: Node[], scope: Scope): void => {
    for (let statement of statements) {
      if ((statement.type === "ExportNamedDeclaration" || statement.type === "ExportDefaultDeclaration") && statement.declaration) statement = statement.declaration as Node;
      switch (statement.type) {
        case "VariableDeclaration":
          if (statement.kind !== "var") for (const declarator of statement.declarations as Node[]) bindingNames(declarator.id as Node, (name) => declare(scope, name));
          break;
        case "FunctionDeclaration":
        case "ClassDeclaration":
        case "TSEnumDeclaration":
        case "TSImportEqualsDeclaration":
          if (statement.id) bindingNames(statement.id as Node, (name) => declare(scope, name));
          break;
        case "ImportDeclaration":
          for (const specifier of statement.specifiers as Node[]) bindingNames(specifier.local as Node, (name) => declare(scope, name));
          break;
      }
    }
  };

  const blockScope = (statements: Node[], parent: Scope): Scope => {
    const scope: Scope = { names: new Set(), parent };
    hoistLexical(statements, scope);
    return scope;
  };

  /** Default values and computed keys inside a declared pattern (the names themselves are declarations). */
  const visitPattern = (pattern: Node | null | undefined, scope: Scope, context: Context): void => {
    if (!pattern) return;
    switch (pattern.type) {
      case "Identifier":
        return;
      case "ObjectPattern":
        for (const property of pattern.properties as Node[]) {
          if (property.type === "RestElement") visitPattern(property.argument as Node, scope, context);
          else {
            if (property.computed) visit(property.key as Node, scope, context);
            visitPattern(property.value as Node, scope, context);
          }
        }
        return;
      case "ArrayPattern":
        for (const element of pattern.elements as (Node | null)[]) visitPattern(element, scope, context);
        return;
      case "RestElement":
        visitPattern(pattern.argument as Node, scope, context);
        return;
      case "AssignmentPattern":
        visitPattern(pattern.left as Node, scope, context);
        visit(pattern.right as Node, scope, context);
        return;
      case "TSParameterProperty":
        visitPattern(pattern.parameter as Node, scope, context);
        return;
      default:
        // A member expression as an assignment target (for-in/of heads): its parts are references.
        visit(pattern, scope, context);
    }
  };

  const visitFunction = (fn: Node, scope: Scope, context: Context, arrow: boolean): void => {
    const inner: Scope = { names: new Set(), parent: scope };
    if (fn.type === "FunctionExpression" && fn.id) bindingNames(fn.id as Node, (name) => declare(inner, name));
    for (const param of (fn.params as Node[] | undefined) ?? []) bindingNames(param, (name) => declare(inner, name));
    const fnContext: Context = { fn: true, ownThis: arrow ? context.ownThis : true };
    const fnBody = fn.body as Node | null | undefined;
    const statements = fnBody && (fnBody.type === "BlockStatement" || fnBody.type === "FunctionBody") ? (fnBody.body as Node[]) : undefined;
    if (statements) {
      hoistVars(statements, inner);
      hoistLexical(statements, inner);
    }
    for (const param of (fn.params as Node[] | undefined) ?? []) visitPattern(param, inner, fnContext);
    if (statements) for (const statement of statements) visit(statement, inner, fnContext);
    else if (fnBody) visit(fnBody, inner, fnContext);
  };

  const visitClass = (node: Node, scope: Scope, context: Context): void => {
    const inner: Scope = { names: new Set(), parent: scope };
    if (node.id) bindingNames(node.id as Node, (name) => declare(inner, name));
    for (const decorator of (node.decorators as Node[] | undefined) ?? []) visit(decorator, scope, context);
    if (node.superClass) visit(node.superClass as Node, inner, context);
    const member: Context = { fn: true, ownThis: true };
    for (const element of ((node.body as Node).body as Node[]) ?? []) {
      for (const decorator of (element.decorators as Node[] | undefined) ?? []) visit(decorator, inner, context);
      if (element.computed) visit(element.key as Node, inner, context);
      switch (element.type) {
        case "MethodDefinition":
        case "TSAbstractMethodDefinition":
          if (element.value) visitFunction(element.value as Node, inner, member, false);
          break;
        case "PropertyDefinition":
        case "AccessorProperty":
          if (element.value) visit(element.value as Node, inner, member);
          break;
        case "StaticBlock": {
          const block: Scope = { names: new Set(), parent: inner };
          hoistVars(element.body as Node[], block);
          hoistLexical(element.body as Node[], block);
          for (const statement of element.body as Node[]) visit(statement, block, member);
          break;
        }
      }
    }
  };

  const visitStatements = (statements: Node[], scope: Scope, context: Context): void => {
    for (const statement of statements) visit(statement, scope, context);
  };

  const visitChildren = (node: Node, scope: Scope, context: Context): void => {
    for (const key in node) {
      if (SKIPPED_KEYS.has(key) || TYPE_KEYS.has(key)) continue;
      const value = node[key];
      if (Array.isArray(value)) {
        for (const item of value) if (item && typeof item === "object" && typeof (item as Node).type === "string") visit(item as Node, scope, context);
      } else if (value && typeof value === "object" && typeof (value as Node).type === "string") visit(value as Node, scope, context);
    }
  };

  const visit = (node: Node | null | undefined, scope: Scope, context: Context): void => {
    if (!node) return;
    switch (node.type) {
      case "Identifier":
        reference(scope, node.name as string);
        return;
      case "ThisExpression":
        if (!context.ownThis) facts.commonJsOnly = true;
        return;
      case "WithStatement":
        facts.commonJsOnly = true;
        break;
      case "AwaitExpression":
        if (!context.fn) facts.esm = true;
        break;
      case "VariableDeclaration":
        if (node.kind === "await using" && !context.fn) facts.esm = true;
        for (const declarator of node.declarations as Node[]) {
          visitPattern(declarator.id as Node, scope, context);
          visit(declarator.init as Node, scope, context);
        }
        return;
      case "ImportDeclaration":
        if (node.importKind !== "type") facts.imports = true;
        return;
      case "ExportNamedDeclaration":
      case "ExportDefaultDeclaration":
      case "ExportAllDeclaration":
        facts.esm = true;
        break;
      case "TSExportAssignment":
        // `export = x` is module.exports = x.
        facts.commonJsOnly = true;
        break;
      case "TSImportEqualsDeclaration":
        if ((node.moduleReference as Node | undefined)?.type === "TSExternalModuleReference") facts.commonJsHint = true;
        return;
      case "MetaProperty":
        if ((node.meta as Node).name === "import") facts.importMeta = true;
        return;
      case "MemberExpression":
        visit(node.object as Node, scope, context);
        if (node.computed) visit(node.property as Node, scope, context);
        return;
      case "Property":
        if (node.computed) visit(node.key as Node, scope, context);
        visit(node.value as Node, scope, context);
        return;
      case "LabeledStatement":
        visit(node.body as Node, scope, context);
        return;
      case "BreakStatement":
      case "ContinueStatement":
        return;
      case "FunctionDeclaration":
      case "FunctionExpression":
        visitFunction(node, scope, context, false);
        return;
      case "ArrowFunctionExpression":
        visitFunction(node, scope, context, true);
        return;
      case "ClassDeclaration":
      case "ClassExpression":
        visitClass(node, scope, context);
        return;
      case "BlockStatement":
      case "TSModuleBlock":
        visitStatements(node.body as Node[], blockScope(node.body as Node[], scope), context);
        return;
      case "ForStatement":
      case "ForInStatement":
      case "ForOfStatement": {
        if (node.await && !context.fn) facts.esm = true;
        const head = (node.type === "ForStatement" ? node.init : node.left) as Node | null;
        const inner: Scope = { names: new Set(), parent: scope };
        if (head?.type === "VariableDeclaration") {
          if (head.kind !== "var") for (const declarator of head.declarations as Node[]) bindingNames(declarator.id as Node, (name) => declare(inner, name));
          visit(head, inner, context);
        } else if (head) visitPattern(head, inner, context);
        for (const key of ["test", "update", "right", "body"]) visit(node[key] as Node | undefined, inner, context);
        return;
      }
      case "SwitchStatement": {
        visit(node.discriminant as Node, scope, context);
        const statements = (node.cases as Node[]).flatMap((switchCase) => switchCase.consequent as Node[]);
        const inner = blockScope(statements, scope);
        for (const switchCase of node.cases as Node[]) {
          visit(switchCase.test as Node, inner, context);
          visitStatements(switchCase.consequent as Node[], inner, context);
        }
        return;
      }
      case "CatchClause": {
        const inner: Scope = { names: new Set(), parent: scope };
        bindingNames(node.param as Node, (name) => declare(inner, name));
        visitPattern(node.param as Node, inner, context);
        visit(node.body as Node, inner, context);
        return;
      }
      case "ExportSpecifier":
        visit(node.local as Node, scope, context);
        return;
      case "TSAsExpression":
      case "TSSatisfiesExpression":
      case "TSNonNullExpression":
      case "TSTypeAssertion":
      case "TSInstantiationExpression":
        visit(node.expression as Node, scope, context);
        return;
      case "TSEnumDeclaration":
        for (const member of ((node.body as Node | undefined)?.members as Node[] | undefined) ?? (node.members as Node[] | undefined) ?? []) visit(member.initializer as Node, scope, context);
        return;
      case "TSModuleDeclaration":
        if (node.body) visit(node.body as Node, scope, context);
        return;
      case "TSParameterProperty":
        visitPattern(node, scope, context);
        return;
      case "JSXElement":
      case "JSXFragment":
        facts.jsx = true;
        break;
      default:
        // Types, interfaces, `declare`: nothing Bun counts.
        if (node.type.startsWith("TS")) return;
    }
    visitChildren(node, scope, context);
  };

  const programScope: Scope = { names: new Set(), parent: undefined };
  hoistVars(body, programScope);
  hoistLexical(body, programScope);
  visitStatements(body, programScope, top);
  return facts;
}
