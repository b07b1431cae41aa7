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

/** The database integrations' hook of each loaded file, for a caller that sees the files load itself (the Node agent's core, lazy.ts). */
export function databaseFileHook(recorder: Recorder, types: TypeChecks): (filename: string, exports: unknown) => void {
  return databaseFiles(makeDbRecorder(recorder, (value) => types.isProxy(value)));
}
