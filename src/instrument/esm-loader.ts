/**
 * Node ESM loader hooks (registered by node-hooks.ts through module.register; runs on
 * Node's hooks thread). Instruments ES modules as they load; CommonJS is left to the
 * _compile hook, which sees it whether it is required or imported. "module-typescript" is
 * TypeScript Node 22.18+ strips itself after this hook (columns unchanged): instrumented as
 * TypeScript (the parser goes by the file's extension), handed back with its format.
 * TypeScript of format "module" goes on to a TypeScript loader's compiler (`--import tsx`),
 * with scope's map for it to compose (instrument.ts handedOn).
 */
import { fileURLToPath } from "node:url";
import { instrumentVia, openTransformCache, type TransformCache } from "./cache";
import { warningLine } from "./instrument";
import { Matcher, nodeGivesRealPaths, type MatchConfig } from "./match";
import { siblingReader } from "./node-hooks";
import { languageOf } from "./parse";
import { SelectionTracker, SharedSelection, selectionPatterns } from "./selection";

let matcher: Matcher | undefined;
let cache: TransformCache | undefined;
/** Node may load a module more than once (e.g. the entry point): one warning per file. */
const warned = new Set<string>();

function warn(file: string, reason: string): void {
  if (warned.has(file)) return;
  warned.add(file);
  process.stderr.write(warningLine(file, reason));
}

export function initialize(data: { config?: MatchConfig; cacheDir?: string; selection?: SharedArrayBuffer } | undefined): void {
  matcher = new Matcher(data?.config ?? {});
  matcher.loadedIsReal = nodeGivesRealPaths();
  // What this thread matches goes to the thread that registered it (selection.ts).
  if (data?.selection instanceof SharedArrayBuffer) {
    const tracker = new SelectionTracker(selectionPatterns(data.config ?? {}), undefined, new SharedSelection(data.selection));
    tracker.observe(matcher);
  }
  cache = openTransformCache(data?.cacheDir, data?.config ?? {});
}

interface LoadResult {
  format?: string;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}

type NextLoad = (url: string, context: object) => Promise<LoadResult>;

export async function load(url: string, context: object, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (!matcher || (result.format !== "module" && result.format !== "module-typescript") || result.source == null || !url.startsWith("file:")) return result;
  const file = fileURLToPath(url);
  if (!matcher.file(file)) return result;
  const source = typeof result.source === "string" ? result.source : new TextDecoder().decode(result.source as Uint8Array);
  try {
    // TypeScript (or JSX) as "module" is not what V8 runs: a loader registered after scope's
    // (`--import tsx`) compiles it next, and composes scope's map into its own (handedOn;
    // unless the text already carries a compiler's map, instrument.ts).
    const language = languageOf(file);
    const handedOn = result.format === "module" && language !== undefined && language !== "js";
    const instrumented = instrumentVia(cache, source, file, { matcher, module: true, readFile: siblingReader(file), sourceName: url, ...(handedOn ? { handedOn } : {}) });
    if (instrumented.status === "instrumented") return { ...result, source: instrumented.code };
    if (instrumented.status === "failed") warn(file, instrumented.reason);
  } catch (error) {
    warn(file, error instanceof Error ? error.message : String(error));
  }
  return result;
}
