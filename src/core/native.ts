/**
 * Where the native artifacts are. Running from source they come from `zig-out/`
 * (built by `zig build`); the compiled `scope` executable embeds them and
 * `src/core/assets.ts` extracts them (see ARCHITECTURE.md).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

const repoRoot = join(import.meta.dir, "..", "..");

function requireBuilt(path: string, what: string): string {
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}; run \`zig build -Doptimize=ReleaseFast\``);
  return path;
}

/** Path of libscope.so, the C ABI loaded through bun:ffi. */
export function libscopePath(): string {
  return process.env.SCOPE_LIBSCOPE ?? requireBuilt(join(repoRoot, "zig-out/lib/libscope.so"), "libscope.so");
}

/** Path of scope.node, the Node-API addon loaded by the agent in traced node processes. */
export function addonPath(): string {
  return process.env.SCOPE_ADDON ?? requireBuilt(join(repoRoot, "zig-out/lib/scope.node"), "scope.node");
}
