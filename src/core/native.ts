/**
 * Where libscope.so is, for the bun:ffi bindings (ring.ts, trace-file.ts). Running
 * from source it is zig-out/lib (built by `zig build`); the compiled executable
 * extracts its embedded copy first (assets.ts) and sets the path here; a Bun agent
 * inside a traced program gets it through SCOPE_LIBSCOPE.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

let override: string | undefined;

export function setLibscopePath(path: string): void {
  override = path;
}

export function libscopePath(): string {
  if (override) return override;
  if (process.env.SCOPE_LIBSCOPE) return process.env.SCOPE_LIBSCOPE;
  const built = join(import.meta.dir, "..", "..", "zig-out/lib/libscope.so");
  if (!existsSync(built)) throw new Error(`libscope.so not found at ${built}; run \`zig build -Doptimize=ReleaseFast\``);
  return built;
}
