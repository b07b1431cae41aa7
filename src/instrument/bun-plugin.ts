/**
 * Bun: one plugin for both uses. At run time the preload registers it with
 * `Bun.plugin(instrumentPlugin(config))` so modules are instrumented as Bun loads them;
 * in a build pipeline `Bun.build({ plugins: [instrumentPlugin(config)] })` produces
 * instrumented bundles (the hook object then comes from the runtime, or the no-op).
 */
import type { BunPlugin } from "bun";
import { instrumentVia, openTransformCache } from "./cache";
import { warningLine } from "./instrument";
import { Matcher, type MatchConfig } from "./match";
import { languageOf, loadTypeScriptParser } from "./parse";
import { siblingReader } from "./node-hooks";

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
      build.onLoad({ filter }, async (args) => {
        const language = languageOf(args.path);
        const loader = language === "tsx" ? "tsx" : language === "ts" ? "ts" : language === "jsx" ? "jsx" : "js";
        const code = await Bun.file(args.path).text();
        if (!matcher.file(args.path)) return { contents: code, loader };
        const result = instrumentVia(cache, code, args.path, { matcher, readFile: siblingReader(args.path) });
        if (result.status === "failed") warn(warningLine(args.path, result.reason));
        return { contents: result.code, loader };
      });
    },
  };
}
