/** Database tracing in a Node (or Bun) thread: hooks the libraries as the program loads them (loader.ts). */
import { makeDbRecorder, type DbRecorder } from "../../shared/db";
import type { TypeChecks } from "../../shared/preview";
import type { Recorder } from "../../shared/recorder";
import { databaseFiles, hookDatabaseLibraries } from "./loader";

/** `loaded`: files loaded already, with their exports (scope attach), hooked now. */
export function startDatabaseTracing(recorder: Recorder, types: TypeChecks, Module: object, loaded?: Iterable<[string, unknown]>): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  hookDatabaseLibraries(db, Module as Parameters<typeof hookDatabaseLibraries>[1], loaded);
  return db;
}

/**
 * The database integrations' hooks for a caller that sees the libraries load itself (the
 * Node agent's core, lazy.ts): of each loaded file, and of postgres.js's `Query` class and `stringify`
 * from its ES build (handed over by the statements src/agent/shared/esm-hooks.ts appends to its src/query.js and src/types.js).
 */
export function databaseFileHook(recorder: Recorder, types: TypeChecks): { onFile: (filename: string, exports: unknown) => void; postgres: (bindings: Record<string, unknown>) => void } {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  return {
    onFile: databaseFiles(db),
    postgres: (bindings) => recorder.safe(() => (require("./postgres") as typeof import("./postgres")).hookPostgresEsm(db, bindings)),
  };
}
