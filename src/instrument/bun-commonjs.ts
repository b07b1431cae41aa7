/**
 * Runs CommonJS files for the Bun runtime plugin (bun-plugin.ts explains why a runtime
 * onLoad cannot hand Bun CommonJS text, oven-sh/bun#19279): decides each file's kind as
 * Bun does (bun-module-kind.ts), and runs a CommonJS file in the module object Bun's
 * own `require` creates, through `vm` with the CommonJS wrapper's parameters.
 */
import type { OnLoadResult } from "bun";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import Module from "node:module";
import { dirname, join } from "node:path";
import * as vm from "node:vm";
import { parseScript } from "meriyah";
import { VERSION } from "../version";
import { ExtensionChain } from "./bun-extensions";
import { commonJsAsPluginText, commonJsUnderBun, factsOf, type ModuleFacts } from "./bun-module-kind";
import { instrumentVia, TRANSFORM_BUILD, type openTransformCache } from "./cache";
import { warningLine } from "./instrument";
import type { Matcher } from "./match";
import { siblingReader } from "./node-hooks";
import { parse, type Language } from "./parse";

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
export class CommonJsLoader {
  /** Bun's original, so a program's own `_compile` patch does not see the loader's call. */
  private readonly compile = moduleInternals.prototype._compile;
  /** Each file onLoad has read and decided; `mark`: an ES module whose text must say so (esModuleText). */
  private readonly sources = new Map<string, { code: string; commonJs: boolean; mark: boolean }>();
  private readonly packageTypes = new Map<string, string | undefined>();
  private entrySeen = false;
  private entryPending: string | undefined;
  private readonly factsCache: FactsCache | undefined;
  /** `Module._extensions[".js"]`, which the file runs through (bun-extensions.ts). */
  private readonly chain: ExtensionChain;

  constructor(
    private readonly matcher: Matcher,
    private readonly cache: ReturnType<typeof openTransformCache>,
    private readonly warn: (line: string) => void,
    /** The plugin's onLoad filter: a path it does not take never reaches this loader. */
    filter?: RegExp,
  ) {
    this.factsCache = cache ? new FactsCache(cache.dir) : undefined;
    const extensions = (Module as unknown as { _extensions?: ConstructorParameters<typeof ExtensionChain>[0] })._extensions;
    this.chain = new ExtensionChain(extensions, filter === undefined ? undefined : (path) => filter.test(path));
  }

  /**
   * The source read by onLoad when it decided the file is an ES module (read once), and
   * whether the text returned for it must be made an ES module's (bun-module-kind.ts esModuleText).
   */
  takeSource(path: string): { code: string; mark: boolean } | undefined {
    const known = this.sources.get(path);
    this.sources.delete(path);
    return known;
  }

  /** An OnLoadResult when `path` is CommonJS under Bun; undefined for an ES module. */
  onLoad(path: string, language: Language): OnLoadResult | undefined {
    const existing = moduleInternals._cache[path];
    if (existing && existing.loaded === false) {
      // Bun's require: run the file in the module it created.
      const known = this.sources.get(path);
      this.sources.delete(path);
      const code = known?.code ?? readFileSync(path, "utf8");
      const kind = known ?? this.kindOf(path, code, language, true);
      if (!kind.commonJs) {
        // An ES module under require(): Bun loads it from the text (require(esm)).
        this.sources.set(path, { code, commonJs: false, mark: kind.mark });
        return undefined;
      }
      this.run(existing, path, code, language);
      // Bun's require returns `default`; not when it is undefined (`module.exports = undefined`):
      // then a namespace of this object, which the files this loader runs get as undefined (requireOf).
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
    const kind = this.kindOf(path, code, language, entry);
    this.sources.set(path, { code, ...kind });
    if (!kind.commonJs) return undefined;
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
   * `mark`: an ES module whose text Bun would take for CommonJS (commonJsAsPluginText).
   */
  private kindOf(path: string, code: string, language: Language, byExtension: boolean): { commonJs: boolean; mark: boolean } {
    const type = this.moduleType(path, byExtension);
    // Decided by the words alone: type module without `module`/`exports`/`this`/`with` (marked
    // without a look for the words Bun counts in a plugin's text: the mark changes nothing in an
    // ES module, and a second pass over the text would cost as much as the first); type
    // commonjs without `import`/`export`/`await` in a language without JSX.
    if (type === "module" && !/\b(?:module|exports|this|with)\b/.test(code)) return { commonJs: false, mark: true };
    if (type === "commonjs" && !/\.(?:jsx?|tsx)$/i.test(path) && !/\b(?:import|export|await)\b/.test(code)) return { commonJs: true, mark: false };
    const facts = this.factsOf(path, code);
    // A file the parser refuses: Bun reports its syntax error as without scope, from the text.
    if (!facts) return { commonJs: type === "commonjs", mark: false };
    if (!commonJsUnderBun(facts, type)) return { commonJs: false, mark: commonJsAsPluginText(facts) };
    if (facts.jsx) {
      this.warn(warningLine(path, "CommonJS with JSX, which a Bun plugin cannot run: oven-sh/bun#19279"));
      return { commonJs: false, mark: false };
    }
    return { commonJs: true, mark: false };
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

  /**
   * By the extension (`byExtension`): "commonjs" for .cjs/.cts, "module" for .mjs/.mts, none
   * for .jsx/.tsx (Bun 1.4.5 applies no package type to them there); else, and for .js/.ts,
   * the nearest package.json's type.
   */
  private moduleType(path: string, byExtension: boolean): "commonjs" | "module" | undefined {
    const ext = byExtension ? /\.([cm]?)[jt](sx?)$/i.exec(path) : undefined;
    if (ext?.[2]?.toLowerCase() === "sx") return undefined;
    if (ext?.[1]?.toLowerCase() === "c") return "commonjs";
    if (ext?.[1]?.toLowerCase() === "m") return "module";
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
    const require = requireOf(module, module.require!);
    if (this.entryPending === path) {
      this.entryPending = undefined;
      module.id = ".";
      module.parent = null;
    }
    // Bun drops a hashbang line; keep the columns.
    if (text.startsWith("#!")) text = `//${text.slice(2)}`;
    text = continuedStringLineEnds(text);
    const wrapper = vm.runInThisContext(`${WRAPPER_HEAD}${text}\n})`, {
      filename: path,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }) as (this: unknown, ...args: unknown[]) => void;
    this.chain.runThrough(module, path, () => wrapper.call(module.exports, module.exports, require, module, path, dirname(path)));
  }
}

/**
 * The `require` a file this loader runs is given (and its `module.require`, the same function
 * as Bun gives): Bun's, but for a file whose `module.exports` is undefined (core-js's
 * dom-token-list-prototype outside a browser), which Bun's require hands back as the namespace
 * of the loader's `{ __esModule: true, default: undefined }` (onLoad): undefined, as Bun's own
 * loader gives (core-js then crashed, taking that namespace for DOMTokenList's prototype).
 * Bun's require has `resolve` of its own and `cache`, `extensions`, `main` as accessors of its
 * prototype that read the require they are called on: each is read from Bun's.
 */
function requireOf(module: BunModule, bunRequire: NodeJS.Require): NodeJS.Require {
  const require = function require(this: unknown, id: string) {
    const exports = Reflect.apply(bunRequire, this, arguments) as unknown;
    return isUndefinedExports(exports) ? undefined : exports;
  };
  for (const key of Reflect.ownKeys(bunRequire)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    Object.defineProperty(require, key, Object.getOwnPropertyDescriptor(bunRequire, key)!);
  }
  const proto = Object.getPrototypeOf(bunRequire) as object | null;
  if (proto !== null && proto !== Function.prototype) {
    for (const key of Reflect.ownKeys(proto)) {
      if (key === "constructor" || Object.prototype.hasOwnProperty.call(require, key)) continue;
      Object.defineProperty(require, key, {
        configurable: true,
        enumerable: false,
        get: () => Reflect.get(bunRequire, key),
        set: (value: unknown) => Reflect.set(bunRequire, key, value),
      });
    }
  }
  module.require = require as unknown as NodeJS.Require;
  return require as unknown as NodeJS.Require;
}

/** Bun's namespace of `{ __esModule: true, default: undefined }`: its two names, and nothing in default. */
function isUndefinedExports(exports: unknown): boolean {
  if (exports === null || typeof exports !== "object" || (exports as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] !== "Module") return false;
  const names = Object.keys(exports);
  return names.length === 2 && (exports as { __esModule?: unknown }).__esModule === true && "default" in exports && (exports as { default?: unknown }).default === undefined;
}

/**
 * Each file's ModuleFacts (a few bytes) next to its transform in the transform cache
 * (cache.ts: same directory, same layout of 64-hex names in 2-hex shards, so the same
 * pruning), so a start whose transforms all come from the cache parses nothing here
 * either. The key (the source, the file, scope's version, the build that made it: cache.ts
 * TRANSFORM_BUILD, which hashes factsOf as built) is not one the transform cache ever computes.
 */
class FactsCache {
  constructor(private readonly dir: string) {}

  key(path: string, code: string): string {
    return createHash("sha256").update(`scope-bun-module-facts\0${TRANSFORM_BUILD}\0${VERSION}\0${path}\0`).update(code).digest("hex");
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
 * JavaScriptCore (Bun 1.4.5) does not count a raw U+2028 or U+2029 inside a string literal
 * as a line end when it parses a function lazily, in a source of some size (~1 KB on), though
 * it does everywhere else: every stack position after one is then a line short. Bun's own
 * loader never shows it one (its transpiler escapes them); this path hands vm the text
 * itself. So each gets `\u2028\` (`\u2029\`) before it: the escape is the same character,
 * and the raw one becomes a line continuation, which JavaScriptCore counts. The string's
 * value and the lines stay; the inserted text ends its line, so no position moves. Only a
 * text that has one is tokenised; one that does not parse as a script is left as it is.
 */
export function continuedStringLineEnds(text: string): string {
  if (text.indexOf("\u2028") < 0 && text.indexOf("\u2029") < 0) return text;
  const at: number[] = [];
  try {
    parseScript(text, {
      ranges: true,
      globalReturn: true,
      webcompat: true,
      onToken: (type, start, end) => {
        if (type !== "StringLiteral") return;
        for (let i = start; i < end; i++) {
          const c = text.charCodeAt(i);
          if (c === 0x2028 || c === 0x2029) at.push(i);
        }
      },
    });
  } catch {
    return text;
  }
  if (at.length === 0) return text;
  let out = "";
  let from = 0;
  for (const i of at) {
    out += `${text.slice(from, i)}\\u${text.charCodeAt(i).toString(16)}\\`;
    from = i;
  }
  return out + text.slice(from);
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
