/**
 * Whether a Node program's entry may be an ES module, as Node 20 decides it: what decides
 * when the ESM load hooks (module.register, which starts Node's hooks thread) must be on
 * from the start.
 */
import { mayLoadModules } from "./loads-modules";

/**
 * Node options after which the program's entry or preloads may be ES modules (or scope
 * cannot tell). Made at the first call, not at the module's top level: the Node agent's
 * core has this module, and a literal there would be made in every thread.
 */
const esmOptions = () => /(?:^|\s)(?:--import|--loader|--experimental-loader|--experimental-default-type|--input-type|--test|--watch|--experimental-vm-modules|--experimental-detect-module|--experimental-wasm-modules|--experimental-network-imports|--experimental-policy|--interactive|-i)(?=[\s=]|$)/;

/**
 * Why an ES module may load from the program's start (a reason), or undefined when its
 * entry is CommonJS and nothing ran before scope but its own files (those under `own`, and
 * native addons): then an ES module can reach Node's loader only from code that runs later.
 * Used by function tracing (node-hooks.ts: when its ESM hook can be deferred) and by the
 * Node agent's hook of postgres.js's ES build on Node 20 (src/agent/node/postgres-esm.ts). The entry is CommonJS as
 * Node 20 decides it (run_main.js shouldUseESMLoader): no option that loads modules or
 * changes the default type, a `.cjs` file, or a `.js` or extensionless file outside a
 * `"type": "module"` package whose text compiles as a CommonJS function (else Node's
 * syntax detection runs it as a module); `-e`/`-p` code without the word `import`.
 */
export function entryMayBeModule(own: string): string | undefined {
  try {
    if (!(require("node:worker_threads") as typeof import("node:worker_threads")).isMainThread) return "a worker";
    const argv = process.execArgv;
    if (esmOptions().test(`${argv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`)) return "an option";
    const path = require("node:path") as typeof import("node:path");
    const fs = require("node:fs") as typeof import("node:fs");
    // Only scope's own files (its agents next to the loader, native addons) may have run
    // before: another preload could hold an import().
    const Module = require("node:module") as unknown as { _cache: Record<string, unknown>; _findPath(request: string, paths: unknown, isMain: boolean): string | false };
    for (const file of Object.keys(Module._cache)) if (!file.startsWith(own + path.sep) && !file.endsWith(".node")) return `${file} loaded before scope`;
    const evalAt = argv.findIndex((arg) => /^(-e|-p|-pe|--eval|--print)$/.test(arg) || /^--(eval|print)=/.test(arg));
    if (evalAt >= 0) {
      const code = argv[evalAt]!.includes("=") ? argv[evalAt]!.slice(argv[evalAt]!.indexOf("=") + 1) : argv[evalAt + 1];
      return typeof code === "string" && !code.includes("import") && !mayLoadModules(code) ? undefined : "eval code";
    }
    const main = process.argv[1];
    if (!main) return "no entry";
    const entry = Module._findPath(path.resolve(main), null, true);
    if (!entry) return "entry not found";
    const extension = path.extname(entry);
    if (extension === ".cjs") return undefined;
    if (extension !== ".js" && extension !== "") return `a ${extension} entry`;
    for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
      const text = readIfFile(fs, path.join(dir, "package.json"));
      if (text !== undefined) {
        const type = (JSON.parse(text) as { type?: unknown }).type;
        if (type === "module") return "a module package";
        break;
      }
      if (path.dirname(dir) === dir || path.basename(dir) === "node_modules") break;
    }
    const text = fs.readFileSync(entry, "utf8");
    if (/\b(?:import|export|await)\b/.test(text)) {
      const vm = require("node:vm") as typeof import("node:vm");
      try {
        vm.compileFunction(text.startsWith("#!") ? `//${text.slice(2)}` : text, ["exports", "require", "module", "__filename", "__dirname"], { filename: entry });
      } catch {
        return "an entry that is not CommonJS";
      }
    }
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : "unknown";
  }
}

function readIfFile(fs: typeof import("node:fs"), file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
