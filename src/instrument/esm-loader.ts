/**
 * Node ESM loader hooks (registered by node-hooks.ts through module.register; runs on
 * Node's hooks thread): Node 20, and Node 22 before 22.15 (no `module.registerHooks`, whose
 * in-thread hook, esm-in-thread.ts, takes this one's place there). Instruments ES modules as
 * they load (esm-load.ts).
 */
import { openTransformCache, type TransformCache } from "./cache";
import { instrumentedSource, type LoadResult } from "./esm-load";
import { warningLine } from "./instrument";
import { Matcher, nodeGivesRealPaths, type MatchConfig } from "./match";
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

type NextLoad = (url: string, context: object) => Promise<LoadResult>;

export async function load(url: string, context: object, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (!matcher) return result;
  const source = instrumentedSource(matcher, cache, url, result, warn);
  return source === undefined ? result : { ...result, source };
}
