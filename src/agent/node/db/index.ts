/** Database tracing in a Node (or Bun) thread: hooks the libraries as the program loads them (loader.ts). */
import { makeDbRecorder, type DbRecorder } from "../../shared/db";
import type { TypeChecks } from "../../shared/preview";
import type { Recorder } from "../../shared/recorder";
import { hookDatabaseLibraries } from "./loader";

export function startDatabaseTracing(recorder: Recorder, types: TypeChecks, Module: object): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  hookDatabaseLibraries(db, Module as Parameters<typeof hookDatabaseLibraries>[1]);
  return db;
}
