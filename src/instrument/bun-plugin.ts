/**
 * Bun: one plugin for both uses. At run time the preload registers it with
 * `Bun.plugin(instrumentPlugin(config))` so modules are instrumented as Bun loads them;
 * in a build pipeline `Bun.build({ plugins: [instrumentPlugin(config)] })` produces
 * instrumented bundles (the hook object then comes from the runtime, or the no-op).
 *
 * CommonJS at run time. A runtime plugin's onLoad cannot hand Bun CommonJS source: Bun
 * transpiles the returned text, sees CommonJS (a free `module`/`exports`/`require`, a
 * top-level `this`, ...), wraps it in its CommonJS wrapper function and then evaluates
 * the result as an ES module, where nothing ever calls the wrapper: the module's code
 * never runs, `require()` gets `{}` and an entry point prints nothing and exits 0 (Bun
 * 1.4.5; oven-sh/bun#19279, #22683, #39786; the loader "js"/"ts" makes no difference,
 * there is no "cjs" loader and no way to let Bun load the file itself). It happens to the
 * file returned unchanged too, so every CommonJS file the filter matches would break,
 * traced or not; and a file Bun runs as CommonJS only because of its extension or
 * package type (no CommonJS feature in it) came back as an ES module (strict mode,
 * `this` undefined). So at run time the plugin decides, as Bun does (commonJsUnderBun,
 * checked against Bun in the tests), whether a file is CommonJS, and runs CommonJS files
 * itself (CommonJsLoader): in the module object Bun's own `require` creates, with the
 * `require` Bun gives that module, `this` = `exports`, sloppy mode, the wrapper's five
 * arguments; it hands Bun the result through the "object" loader (what `require()`
 * returns, or the namespace an `import` sees, built as Bun builds it). ES modules are
 * returned as text, as before. Bun.build (a bundler handles CommonJS text) is unchanged.
 *
 * What still differs from Bun's own loading of a CommonJS file: an error thrown while it
 * loads has the loader's frames (scope's agent) below the program's in its stack; columns
 * in stack frames of its code are JavaScriptCore's (Bun remaps them to the start of the
 * call; lines are the same); TypeScript is reprinted by Bun's transpiler (line numbers
 * may move); a file
 * that sets `module.exports = undefined` is seen by `require()` as
 * `{ __esModule: true, default: undefined }`; CommonJS with JSX is not run (a warning
 * says so).
 */
import type { BunPlugin, OnLoadResult } from "bun";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import Module from "node:module";
import { dirname, join } from "node:path";
import * as vm from "node:vm";
import { instrumentVia, openTransformCache } from "./cache";
import { warningLine } from "./instrument";
import { Matcher, type MatchConfig } from "./match";
import { languageOf, loadTypeScriptParser, parse, type Language, type Node } from "./parse";
import { siblingReader } from "./node-hooks";
import { VERSION } from "../version";

export function instrumentPlugin(config: MatchConfig = {}, warn: (line: string) => void = (line) => process.stderr.write(line), cacheDir?: string): BunPlugin {
  const matcher = new Matcher(config);
  const cache = openTransformCache(cacheDir, config);
  loadTypeScriptParser();
  const wantsNodeModules = (config.include ?? []).some((glob) => glob.includes("node_modules"));
  // Bun's onLoad must return contents: keep node_modules out of the filter unless included.
  const filter = wantsNodeModules ? /\.[cm]?[jt]sx?$/ : /^(?!.*[\\/]node_modules[\\/]).*\.[cm]?[jt]sx?$/;
  return {
    name: "scope-instrument",
    setup(build) {
      // Bun.build hands the plugin its build config; Bun.plugin (run time) does not.
      const atRunTime = (build as { config?: unknown }).config === undefined;
      const commonJs = atRunTime ? new CommonJsLoader(matcher, cache, warn) : undefined;
      // Synchronous: `require()` of a module whose onLoad is async throws in Bun.
      build.onLoad({ filter }, (args): OnLoadResult => {
        const language = languageOf(args.path) ?? "js";
        const loader = language === "tsx" ? "tsx" : language === "ts" ? "ts" : language === "jsx" ? "jsx" : "js";
        if (commonJs) {
          const handled = commonJs.onLoad(args.path, language);
          if (handled) return handled;
        }
        const code = commonJs?.takeSource(args.path) ?? readFileSync(args.path, "utf8");
        if (!matcher.file(args.path)) return { contents: code, loader };
        const result = instrumentVia(cache, code, args.path, { matcher, readFile: siblingReader(args.path) });
        if (result.status === "failed") warn(warningLine(args.path, result.reason));
        return { contents: result.code, loader };
      });
    },
  };
}

/** What Bun's `module` objects have that the loader uses. */
interface BunModule {
  exports: unknown;
  id: string;
  loaded: boolean;
  parent?: unknown;
  require?: NodeJS.Require;
}

const moduleInternals = Module as unknown as {
  _cache: Record<string, BunModule | undefined>;
  prototype: { _compile(this: BunModule, content: string, filename: string): unknown };
};

/** Bun's own wrapper has these parameters, in this order; the code follows on the same line. */
const WRAPPER_HEAD = "(function (exports, require, module, __filename, __dirname) {";

/**
 * Runs CommonJS files for the runtime plugin (see the file comment). One onLoad per use:
 * - `require(path)`: Bun has put a fresh module (loaded false) in require.cache and asks
 *   for its source; the file runs in that module and `require()` gets its exports
 *   (`{ __esModule: true, default: exports }` is what makes Bun's require return
 *   `default` itself, with the identity and the value `module.exports` has at the end);
 * - the entry point or an `import` (static or dynamic) of a CommonJS file: no module yet.
 *   The loader calls Bun's `require` for the file, which creates the module and comes back
 *   here as above (so `require.cache`, `module.require`, `module.children` are Bun's),
 *   then hands the `import` the namespace Bun would give it. Bun runs a CommonJS file an
 *   ES module imports while it fetches the imports, as here;
 * - an `import` of a file already in require.cache (required before, or still running in a
 *   cycle): its namespace, the file does not run again.
 */
class CommonJsLoader {
  /** Bun's original, so a program's own `_compile` patch does not see the loader's call. */
  private readonly compile = moduleInternals.prototype._compile;
  private readonly sources = new Map<string, { code: string; commonJs: boolean }>();
  private readonly packageTypes = new Map<string, string | undefined>();
  private entrySeen = false;
  private entryPending: string | undefined;
  private readonly factsCache: FactsCache | undefined;

  constructor(
    private readonly matcher: Matcher,
    private readonly cache: ReturnType<typeof openTransformCache>,
    private readonly warn: (line: string) => void,
  ) {
    this.factsCache = cache ? new FactsCache(cache.dir) : undefined;
  }

  /** The source read by onLoad when it decided the file is an ES module (read once). */
  takeSource(path: string): string | undefined {
    const known = this.sources.get(path);
    this.sources.delete(path);
    return known?.code;
  }

  /** An OnLoadResult when `path` is CommonJS under Bun; undefined for an ES module. */
  onLoad(path: string, language: Language): OnLoadResult | undefined {
    const existing = moduleInternals._cache[path];
    if (existing && existing.loaded === false) {
      // Bun's require: run the file in the module it created.
      const known = this.sources.get(path);
      this.sources.delete(path);
      const code = known?.code ?? readFileSync(path, "utf8");
      if (known ? !known.commonJs : !this.isCommonJs(path, code, language, true)) {
        // An ES module under require(): Bun loads it from the text (require(esm)).
        this.sources.set(path, { code, commonJs: false });
        return undefined;
      }
      this.run(existing, path, code, language);
      // Bun's require returns `default`; not when it is undefined (`module.exports = undefined`):
      // then this object, the one value that differs from Bun's own loader.
      return { loader: "object", exports: { __esModule: true, default: existing.exports } };
    }
    if (existing) {
      // Already required, or running (a cycle through an import): the import sees its exports now.
      return { loader: "object", exports: namespaceOf(existing.exports, this.nodeInterop(path)) };
    }
    const code = readFileSync(path, "utf8");
    // The entry point (once: a later import of the same file is an import).
    const entry = !this.entrySeen && path === Bun.main;
    if (entry) this.entrySeen = true;
    const commonJs = this.isCommonJs(path, code, language, entry);
    this.sources.set(path, { code, commonJs });
    if (!commonJs) return undefined;
    if (entry) this.entryPending = path;
    let exports: unknown;
    try {
      exports = Module.createRequire(path)(path);
    } finally {
      this.sources.delete(path);
      if (this.entryPending === path) this.entryPending = undefined;
    }
    return { loader: "object", exports: namespaceOf(exports, this.nodeInterop(path)) };
  }

  /**
   * Whether Bun runs the file as CommonJS (commonJsUnderBun), where the type comes from
   * the extension first for the entry point and `require()` (`byExtension`), from the
   * package.json alone for an `import` (Bun 1.4.5: an imported .cjs without CommonJS
   * features in a package without a type runs as an ES module, an imported .mjs calling
   * require as CommonJS). CommonJS with JSX is left to Bun with a warning: its JSX
   * transform needs Bun's module loader (the file does not run).
   */
  private isCommonJs(path: string, code: string, language: Language, byExtension: boolean): boolean {
    const type = this.moduleType(path, byExtension);
    // Decided by the words alone: type module without `module`/`exports`/`this`/`with`;
    // type commonjs without `import`/`export`/`await` in a language without JSX.
    if (type === "module" && !/\b(?:module|exports|this|with)\b/.test(code)) return false;
    if (type === "commonjs" && !/\.(?:jsx?|tsx)$/i.test(path) && !/\b(?:import|export|await)\b/.test(code)) return true;
    const facts = this.factsOf(path, code);
    if (!facts) return type === "commonjs";
    if (!commonJsUnderBun(facts, type)) return false;
    if (facts.jsx) {
      this.warn(warningLine(path, "CommonJS with JSX, which a Bun plugin cannot run: oven-sh/bun#19279"));
      return false;
    }
    return true;
  }

  /** The file's ModuleFacts: from the cache, else parsed (undefined when it does not parse). */
  private factsOf(path: string, code: string): ModuleFacts | undefined {
    const key = this.factsCache?.key(path, code);
    const cached = key ? this.factsCache!.get(key) : undefined;
    if (cached) return cached;
    const parsed = parse(code, path);
    if (!parsed.ok) return undefined;
    let facts: ModuleFacts;
    try {
      facts = factsOf(parsed.program);
    } catch {
      return undefined; // A tree this walk does not know: decided by the type alone.
    }
    if (key) this.factsCache!.set(key, facts);
    return facts;
  }

  /** A CommonJS file in a package of type "module" (even a .cjs) is imported with Node's interop. */
  private nodeInterop(path: string): boolean {
    return this.packageType(dirname(path)) === "module";
  }

  /** "commonjs" for .cjs/.cts, "module" for .mjs/.mts (`byExtension`), else the nearest package.json's type. */
  private moduleType(path: string, byExtension: boolean): "commonjs" | "module" | undefined {
    const ext = byExtension ? /\.([cm]?)[jt]sx?$/i.exec(path)?.[1]?.toLowerCase() : undefined;
    if (ext === "c") return "commonjs";
    if (ext === "m") return "module";
    const type = this.packageType(dirname(path));
    return type === "commonjs" || type === "module" ? type : undefined;
  }

  private packageType(dir: string): string | undefined {
    if (this.packageTypes.has(dir)) return this.packageTypes.get(dir);
    let type: string | undefined;
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, "package.json"), "utf8");
    } catch {
      const parent = dirname(dir);
      type = parent === dir ? undefined : this.packageType(parent);
    }
    if (text !== undefined) {
      try {
        const value = (JSON.parse(text) as { type?: unknown }).type;
        type = typeof value === "string" ? value : undefined;
      } catch {
        type = undefined;
      }
    }
    this.packageTypes.set(dir, type);
    return type;
  }

  /** Instruments (when matched) and runs the file in `module`, as Bun's CommonJS loader does. */
  private run(module: BunModule, path: string, code: string, language: Language): void {
    let text = code;
    if (this.matcher.file(path)) {
      const result = instrumentVia(this.cache, code, path, { matcher: this.matcher, readFile: siblingReader(path), module: false });
      if (result.status === "failed") this.warn(warningLine(path, result.reason));
      text = result.code;
    }
    if (language === "ts" || language === "tsx") text = typeScriptToScript(text, language, path);
    // A fresh module has no `require` yet: Bun's _compile gives it the one its code would get
    // (and sets `loaded`, which Bun's own loader also sets before the code runs).
    if (typeof module.require !== "function") this.compile.call(module, "", path);
    const require = module.require!;
    if (this.entryPending === path) {
      this.entryPending = undefined;
      module.id = ".";
      module.parent = null;
    }
    // Bun drops a hashbang line; keep the columns.
    if (text.startsWith("#!")) text = `//${text.slice(2)}`;
    const wrapper = vm.runInThisContext(`${WRAPPER_HEAD}${text}\n})`, {
      filename: path,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }) as (this: unknown, ...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, require, module, path, dirname(path));
  }
}

/**
 * Each file's ModuleFacts (a few bytes) next to its transform in the transform cache
 * (cache.ts: same directory, same layout of 64-hex names in 2-hex shards, so the same
 * pruning), so a start whose transforms all come from the cache parses nothing here
 * either. The key (the source, the file, scope's version, FACTS_FORMAT) is not one the
 * transform cache ever computes.
 */
class FactsCache {
  constructor(private readonly dir: string) {}

  key(path: string, code: string): string {
    return createHash("sha256").update(`scope-bun-module-facts\0${FACTS_FORMAT}\0${VERSION}\0${path}\0`).update(code).digest("hex");
  }

  get(key: string): ModuleFacts | undefined {
    const path = join(this.dir, key.slice(0, 2), key);
    try {
      const facts = JSON.parse(readFileSync(path, "utf8")) as ModuleFacts;
      const now = Date.now();
      if (now - statSync(path).mtimeMs > 60 * 60 * 1000) utimesSync(path, now / 1000, now / 1000);
      return typeof facts === "object" && facts !== null && typeof facts.esm === "boolean" ? facts : undefined;
    } catch {
      return undefined;
    }
  }

  set(key: string, facts: ModuleFacts): void {
    const shard = join(this.dir, key.slice(0, 2));
    try {
      mkdirSync(shard, { recursive: true, mode: 0o700 });
      const temporary = join(shard, `${key}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
      writeFileSync(temporary, JSON.stringify(facts), { mode: 0o600 });
      renameSync(temporary, join(shard, key));
    } catch {
      // A read-only or full cache: the next start parses again.
    }
  }
}

/** Changes when factsOf (or ModuleFacts) does: older entries are then never read. */
const FACTS_FORMAT = 1;

/**
 * TypeScript to JavaScript a CommonJS wrapper can run: Bun's transpiler, its helpers
 * (decorators, ...) imported from "bun:wrap" turned into a require. Bun reprints the
 * code: line numbers in stack traces of such files may differ from the source's.
 */
function typeScriptToScript(code: string, language: "ts" | "tsx", path: string): string {
  // Without a file, Bun's transpiler declares __filename "input.ts" and __dirname "": the values instead.
  const define = { __filename: JSON.stringify(path), __dirname: JSON.stringify(dirname(path)) };
  const out = new Bun.Transpiler({ loader: language, target: "bun", define }).transformSync(code);
  return out.replace(/^import\s*\{([^}]*)\}\s*from\s*"bun:wrap";?/gm, (_, names: string) => `var {${names.replace(/\s+as\s+/g, ": ")}} = require("bun:wrap");`);
}

/**
 * The namespace Bun gives an `import` of a CommonJS module: `default` is `module.exports`
 * and every own property name but `default`, non-enumerable ones included, with its value
 * now. Unless the file is in a package of type "module" (`node`: Node's interop), a
 * `module.exports` that says `__esModule` and has its own `default` gives that `default`,
 * and `__esModule` is not a name (Babel's interop).
 */
function namespaceOf(exports: unknown, node: boolean): Record<string, unknown> {
  const namespace: Record<string, unknown> = {};
  const isObject = exports !== null && (typeof exports === "object" || typeof exports === "function");
  if (!isObject) {
    namespace.default = exports;
    return namespace;
  }
  const source = exports as Record<string, unknown>;
  let esModule = false;
  try {
    esModule = !node && Boolean(source.__esModule) && Object.prototype.hasOwnProperty.call(source, "default");
  } catch {
    // A throwing getter: as without.
  }
  namespace.default = esModule ? source.default : exports;
  for (const key of Object.getOwnPropertyNames(source)) {
    if (key === "default" || (key === "__esModule" && !node)) continue;
    try {
      namespace[key] = source[key];
    } catch {
      namespace[key] = undefined;
    }
  }
  return namespace;
}

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

  const bindingNames = (pattern: Node | null | undefined, out: (name: string) => void): void => {
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
