/**
 * One ES module's source as a load hook hands it on, instrumented when selected: the step both
 * ESM hooks share, module.register's loader on Node's hooks thread (esm-loader.ts) and the
 * in-thread hook of `module.registerHooks` (esm-in-thread.ts). CommonJS is left to the
 * `_compile` hook, which sees it whether it is required or imported. "module-typescript" is
 * TypeScript Node 22.18+ strips itself after the hook (columns unchanged): instrumented as
 * TypeScript (the parser goes by the file's extension), handed back with its format.
 * TypeScript of format "module" goes on to a TypeScript loader's compiler (`--import tsx`),
 * with scope's map for it to compose (instrument.ts handedOn).
 */
import { fileURLToPath } from "node:url";
import { instrumentVia, type TransformCache } from "./cache";
import type { Matcher } from "./match";
import { siblingReader } from "./node-hooks";
import { languageOf } from "./parse";

export interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}

/** The instrumented source for `result`, or undefined to hand `result` on as it is. */
export function instrumentedSource(matcher: Matcher, cache: TransformCache | undefined, url: string, result: LoadResult, warn: (file: string, reason: string) => void): string | undefined {
  if ((result.format !== "module" && result.format !== "module-typescript") || result.source == null || !url.startsWith("file:")) return undefined;
  const file = fileURLToPath(url);
  if (!matcher.file(file)) return undefined;
  const source = typeof result.source === "string" ? result.source : new TextDecoder().decode(result.source as Uint8Array);
  try {
    // TypeScript (or JSX) as "module" is not what V8 runs: a loader after scope's in the chain
    // (`--import tsx` on the hooks thread) compiles it next, and composes scope's map into its
    // own (handedOn; unless the text already carries a compiler's map, instrument.ts).
    const language = languageOf(file);
    const handedOn = result.format === "module" && language !== undefined && language !== "js";
    const instrumented = instrumentVia(cache, source, file, { matcher, module: true, readFile: siblingReader(file), sourceName: url, ...(handedOn ? { handedOn } : {}) });
    if (instrumented.status === "instrumented") return instrumented.code;
    if (instrumented.status === "failed") warn(file, instrumented.reason);
  } catch (error) {
    warn(file, error instanceof Error ? error.message : String(error));
  }
  return undefined;
}
