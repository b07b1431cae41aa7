/**
 * Packages' ES module builds in Bun (the registry: src/agent/shared/esm-hooks.ts, shared with
 * Node's load hook): Bun resolves `postgres` (its "bun" condition), `hono` and `@koa/router`
 * (their "import" condition, for an `import`) to files no CommonJS step sees. A runtime plugin
 * (Bun.plugin, onLoad for the reachable entries' files only) appends the entry's statement,
 * which hands the file's bindings to the integrations. Registered only when an entry of an
 * enabled group is reachable (reachableHooks).
 *
 * Bun runs only the first registered onLoad whose filter matches a file, and --functions'
 * instrument plugin is registered before this one: where its filter takes an entry's file
 * (`--package hono`), it appends the statement itself (`esmBuildSuffix`, handed to it as
 * StartOptions.append), else Hono's routes and steps went missing under --functions.
 */
import type { Recorder } from "../shared/recorder";
import { esmFiles, esmHookOf, esmStatement, reachableHooks, setEsmHandler, type EsmHandler } from "../shared/esm-hooks";

let suffixOf: ((path: string) => string) | undefined;

/** The statement to append to `path` when it is an entry's file ("" before the hooks are chosen, or for other files). */
export function esmBuildSuffix(path: string): string {
  return suffixOf === undefined ? "" : suffixOf(path);
}

export function hookBunEsmBuilds(recorder: Recorder, onLoaded: EsmHandler): void {
  const { dirname } = require("node:path") as typeof import("node:path");
  const hooks = reachableHooks([typeof Bun.main === "string" ? dirname(Bun.main) : undefined, process.cwd()], recorder.groups, true);
  if (hooks.length === 0) return;
  setEsmHandler((id, bindings) => recorder.safe(() => onLoaded(id, bindings)));
  const files = esmFiles(hooks);
  suffixOf = (path) => {
    if (!files.test(path)) return "";
    const hook = esmHookOf(hooks, path);
    return hook === undefined ? "" : esmStatement(hook);
  };
  Bun.plugin({
    name: "scope-esm-builds",
    setup(build) {
      // Synchronous: an async onLoad makes the module async, and require() refuses those.
      build.onLoad({ filter: files }, ({ path }) => {
        const source = (require("node:fs") as typeof import("node:fs")).readFileSync(path, "utf8");
        const hook = esmHookOf(hooks, path);
        return { contents: hook === undefined ? source : source + esmStatement(hook), loader: "js" };
      });
    },
  });
}
