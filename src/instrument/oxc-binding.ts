/**
 * oxc-parser's native binding, opened from one explicit path. scope's bundles (the
 * functions agent, the ESM loader, the compiled CLI) carry oxc-parser's JavaScript, but
 * its napi-rs loader (src-js/bindings.js: a search through per-platform packages next to
 * it, NAPI_RS_NATIVE_LIBRARY_PATH, WASI fallbacks) finds nothing once bundled; the
 * bundler plugin in src/core/oxc-plugin.ts puts a module built on this file in its
 * place. The path comes from $SCOPE_OXC_BINDING, which `scope run --functions` sets
 * (src/agent/inject.ts) to the binding it ships and every child and worker inherits;
 * NAPI_RS_NATIVE_LIBRARY_PATH is not used, as it would redirect every napi-rs package
 * the traced program loads.
 */

export const OXC_BINDING_ENV = "SCOPE_OXC_BINDING";

/** The binding's exports (what oxc-parser's bindings.js re-exports). */
export type OxcNativeBinding = Record<string, unknown>;

/** Where agents find the binding: $SCOPE_OXC_BINDING. */
export function oxcBindingPath(): string | undefined {
  return process.env[OXC_BINDING_ENV] || undefined;
}

/** Opens the `.node` file at `path` (Node and Bun); throws with a one-line reason when it cannot. */
export function loadOxcBinding(path: string | undefined): OxcNativeBinding {
  if (!path) throw new Error(`${OXC_BINDING_ENV} is not set`);
  const module = { exports: {} as OxcNativeBinding };
  try {
    process.dlopen(module, path);
  } catch (error) {
    const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
    // dlopen's own message usually starts with the path.
    throw new Error(message.includes(path) ? message : `${path}: ${message}`);
  }
  if (typeof module.exports.parseSync !== "function") throw new Error(`${path} is not oxc-parser's binding (no parseSync)`);
  return module.exports;
}
