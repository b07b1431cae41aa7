/**
 * A Bun.build plugin that bundles oxc-parser's JavaScript (src-js/index.js, wrap.js, the
 * visitor keys) and replaces its napi-rs native-binding loader, src-js/bindings.js, with
 * a module that opens the binding at one explicit path (src/instrument/oxc-binding.ts).
 * The original loader is left out whole: its search through per-platform packages, its
 * NAPI_RS_NATIVE_LIBRARY_PATH override and its WASI/webcontainer fallbacks. Raw transfer,
 * lazy deserialization and the Visitor's walker stay behind runtime `require`s that only
 * run when asked for (scope never asks), so they are not bundled either.
 */
import type { BunPlugin } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const loader = join(import.meta.dir, "../instrument/oxc-binding.ts");

/**
 * `locator`: the module whose `oxcBindingPath()` names the `.node` file; by default
 * oxc-binding.ts itself ($SCOPE_OXC_BINDING, for the agents). The compiled CLI passes
 * src/core/assets.ts (the extracted asset).
 */
export function oxcBindingPlugin(locator: string = loader): BunPlugin {
  return {
    name: "scope-oxc-binding",
    setup(build) {
      build.onLoad({ filter: /[\\/]oxc-parser[\\/]src-js[\\/]bindings\.js$/ }, (args) => ({
        loader: "js",
        contents: replacementLoader(readFileSync(args.path, "utf8"), locator),
      }));
    },
  };
}

/** The same exports as the original loader, taken from the binding at oxcBindingPath(). */
function replacementLoader(original: string, locator: string): string {
  const names = new Set<string>();
  for (const match of original.matchAll(/^export\s*\{([^}]*)\}/gm)) {
    for (const name of match[1]!.split(",")) if (name.trim()) names.add(name.trim());
  }
  for (const match of original.matchAll(/^export\s+const\s+(\w+)/gm)) names.add(match[1]!);
  if (!names.has("parseSync")) throw new Error("oxc-parser's bindings.js changed shape: no parseSync export found");
  names.delete("__napiBindingTarget");
  return [
    `import { loadOxcBinding } from ${JSON.stringify(loader)};`,
    `import { oxcBindingPath } from ${JSON.stringify(locator)};`,
    `const binding = loadOxcBinding(oxcBindingPath());`,
    `export const { ${[...names].join(", ")} } = binding;`,
    `export const __napiBindingTarget = "native";`,
  ].join("\n");
}
