/**
 * Databases and web frameworks in a process scope attached to: the same integrations as
 * `scope run` (src/agent/node/db/*, frameworks.ts), applied to the library files the
 * program has loaded already (their exports in require.cache, Module._cache) and, while
 * attached, to those it loads from then on (the CommonJS loader's per-file step, as under
 * scope run). Every property those integrations replace, and every subscription they make,
 * is logged (src/agent/shared/patches.ts) and `remove()` takes them back in reverse order:
 * a property whose value is still scope's gets its descriptor from before the attach (the
 * same function object); one the program has replaced on top of scope's since is left (its
 * replacement calls scope's, which passes through once the recorder is closed), counted.
 *
 * ES modules: pg, pg-pool, postgres' CommonJS build, better-sqlite3 and Express are
 * CommonJS; an `import` of them goes through the CommonJS loader and is in require.cache.
 * A library loaded only as an ES module (postgres' ESM build) is not reachable: Node 20
 * exposes no ESM loader cache.
 */
import type { TypeChecks } from "../agent/shared/preview";
import type { Recorder } from "../agent/shared/recorder";
import { setPatchLog, type PatchLog } from "../agent/shared/patches";
import { startDatabaseTracing } from "../agent/node/db";
import { hookFrameworks } from "../agent/node/frameworks";

export interface LibraryHooks {
  /** Every patch put back (restored) or left under the program's own (kept). */
  remove(): { restored: number; kept: number };
}

interface Entry {
  target: object;
  key: PropertyKey;
  original: PropertyDescriptor | undefined;
  replacement: unknown;
  undo?: () => void;
}

class AttachPatchLog implements PatchLog {
  readonly entries: Entry[] = [];

  replaced(target: object, key: PropertyKey, original: PropertyDescriptor | undefined, replacement: unknown): void {
    this.entries.push({ target, key, original, replacement });
  }

  undo(fn: () => void): void {
    this.entries.push({ target: this, key: "", original: undefined, replacement: undefined, undo: fn });
  }
}

type ModuleClass = { _cache?: Record<string, { exports?: unknown } | undefined>; _extensions?: object };

export function hookLibraries(recorder: Recorder, types: TypeChecks): LibraryHooks {
  const log = new AttachPatchLog();
  setPatchLog(log);
  const Module = require("node:module") as ModuleClass;
  const cache = Module._cache ?? {};
  const loaded: [string, unknown][] = [];
  for (const filename of Object.keys(cache)) loaded.push([filename, cache[filename]?.exports]);
  if (recorder.groups.db) recorder.safe(() => startDatabaseTracing(recorder, types, Module, loaded));
  if (recorder.groups.http) recorder.safe(() => hookFrameworks(recorder, Module, loaded));
  return {
    remove() {
      setPatchLog(undefined);
      let restored = 0;
      let kept = 0;
      for (let i = log.entries.length - 1; i >= 0; i--) {
        const entry = log.entries[i]!;
        if (entry.undo !== undefined) {
          recorder.safe(entry.undo);
          continue;
        }
        const current = Object.getOwnPropertyDescriptor(entry.target, entry.key);
        // Still scope's: the value it defined, or for an accessor the getter.
        if (current === undefined || ("value" in current ? current.value : current.get) !== entry.replacement) {
          kept++;
          continue;
        }
        if (entry.original !== undefined) Object.defineProperty(entry.target, entry.key, entry.original);
        else delete (entry.target as Record<PropertyKey, unknown>)[entry.key];
        restored++;
      }
      log.entries.length = 0;
      return { restored, kept };
    },
  };
}
