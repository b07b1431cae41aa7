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
 * returned as text; Bun decides the kind of that text by its contents alone (no extension,
 * no package type), so an ES module it would take for CommonJS there (one calling `require`
 * in a package of type "module", a .mjs saying "use strict", ...) gets `export {};` at its
 * end (bun-module-kind.ts commonJsAsPluginText, esModuleText). Bun.build (a bundler handles CommonJS text) is unchanged.
 * The loader is bun-commonjs.ts; the module-kind rule, bun-module-kind.ts.
 *
 * What still differs from Bun's own loading of a CommonJS file: an error thrown while it
 * loads has the loader's frames (scope's agent) below the program's in its stack; columns
 * in stack frames of its code are JavaScriptCore's (Bun remaps them to the start of the
 * call; lines are the same); TypeScript is reprinted by Bun's transpiler (line numbers
 * may move); a file
 * that sets `module.exports = undefined` is seen as the namespace of
 * `{ __esModule: true, default: undefined }` by the `require()` of a file the loader does not
 * run (the files it runs get undefined: bun-commonjs.ts requireOf); CommonJS with JSX is not
 * run (a warning says so).
 */
import type { BunPlugin, OnLoadResult } from "bun";
import { readFileSync } from "node:fs";
import { CommonJsLoader } from "./bun-commonjs";
import { esModuleText } from "./bun-module-kind";
import { instrumentVia, openTransformCache } from "./cache";
import { warningLine } from "./instrument";
import { Matcher, type MatchConfig } from "./match";
import { languageOf, loadTypeScriptParser } from "./parse";
import { siblingReader } from "./node-hooks";

export function instrumentPlugin(
  config: MatchConfig = {},
  warn: (line: string) => void = (line) => process.stderr.write(line),
  cacheDir?: string,
  observe?: (matcher: Matcher) => void,
  // Run time only: Bun runs no later plugin's onLoad for a file this one loads (esm-plugin.ts).
  append?: (path: string) => string,
): BunPlugin {
  const matcher = new Matcher(config);
  observe?.(matcher);
  const cache = openTransformCache(cacheDir, config);
  loadTypeScriptParser();
  // Bun's onLoad must return contents (and CommonJS runs through CommonJsLoader): keep
  // node_modules out of the filter except the packages the settings may select.
  const filter = loadFilter(matcher);
  return {
    name: "scope-instrument",
    setup(build) {
      // Bun.build hands the plugin its build config; Bun.plugin (run time) does not.
      const atRunTime = (build as { config?: unknown }).config === undefined;
      const commonJs = atRunTime ? new CommonJsLoader(matcher, cache, warn, filter) : undefined;
      // Synchronous: `require()` of a module whose onLoad is async throws in Bun.
      build.onLoad({ filter }, (args): OnLoadResult => {
        const language = languageOf(args.path) ?? "js";
        const loader = language === "tsx" ? "tsx" : language === "ts" ? "ts" : language === "jsx" ? "jsx" : "js";
        if (commonJs) {
          const handled = commonJs.onLoad(args.path, language);
          if (handled) return handled;
        }
        const source = commonJs?.takeSource(args.path);
        const code = source?.code ?? readFileSync(args.path, "utf8");
        // An ES module Bun would take for CommonJS from the text alone says it is one (bun-module-kind.ts).
        const text = (out: string) => (source?.mark ? esModuleText(out) : out) + (append === undefined ? "" : append(args.path));
        if (!matcher.file(args.path)) return { contents: text(code), loader };
        const result = instrumentVia(cache, code, args.path, { matcher, readFile: siblingReader(args.path) });
        if (result.status === "failed") warn(warningLine(args.path, result.reason));
        return { contents: text(result.code), loader };
      });
    },
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Which paths pass through the plugin: every JavaScript/TypeScript file outside
 * node_modules; inside one, only a file whose last `node_modules/` is followed by a package
 * the settings name (`packages`, an include glob's literal segments), or every one when an
 * include glob names node_modules or a package entry is a glob over names. The Matcher
 * decides on what passes.
 */
export function loadFilter(matcher: Matcher): RegExp {
  const names = matcher.nodeModulesNames();
  if (names === undefined) return /\.[cm]?[jt]sx?$/;
  if (names.length === 0) return /^(?!.*[\\/]node_modules[\\/]).*\.[cm]?[jt]sx?$/;
  const allowed = names.map((name) => escapeRegExp(name).replace("/", "[\\\\/]")).join("|");
  // Rejected: a node_modules/ not followed by an allowed name, with no node_modules/ after it.
  return new RegExp(`^(?!.*[\\\\/]node_modules[\\\\/](?!(?:${allowed})[\\\\/])(?!.*[\\\\/]node_modules[\\\\/])).*\\.[cm]?[jt]sx?$`);
}
