/**
 * Where the integrations (db/*, frameworks.ts) replace a property of the program's
 * objects, they say so here, so that `scope attach` can put every one back at its detach
 * (src/attach/agent-libraries.ts). Under `scope run` nothing listens: a patch stays for the
 * process's life and this costs one load and a branch per patch (never per call).
 *
 * tailCall: a wrapper on the module loader's path (Module._extensions[".js"], a require it
 * watches for some ids: Bun's agent, src/agent/bun/library-files.ts, http.ts, websocket.ts) returns the original's call in tail position on every path it does not
 * hook (`return Reflect.apply(original, this, arguments)`, its own work only for the files or
 * ids it takes). The agents' bundles are strict code, and JavaScriptCore drops the frame of a
 * strict function whose return is a call: in Bun a module's top level then runs with no frame
 * of scope's under it, so an error thrown or a stack captured there reads as untraced (before,
 * four `load`/`require` frames of bun.mjs and Bun's "missing sourcemaps" note). V8 keeps the
 * frame: Node's core stays off that path instead (loaded-files.ts).
 */

export interface PatchLog {
  /** `target[key]` is now `replacement` (an accessor's: its getter); `original` is its descriptor before (undefined: it was not an own property). */
  replaced(target: object, key: PropertyKey, original: PropertyDescriptor | undefined, replacement: unknown): void;
  /** Something to undo that is not a property (a subscription). */
  undo(fn: () => void): void;
}

let log: PatchLog | undefined;

/** The log of this bundle's patches from now on (scope attach); undefined: none kept. */
export function setPatchLog(next: PatchLog | undefined): void {
  log = next;
}

/** Sets `target[key] = value` as a plain assignment would, and logs it. */
export function assignPatch(target: object, key: PropertyKey, value: unknown): void {
  const original = log === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
  (target as Record<PropertyKey, unknown>)[key] = value;
  log?.replaced(target, key, original, value);
}

/** Defines `target[key]` with `descriptor`, and logs it (the descriptor before read first). */
export function definePatch(target: object, key: PropertyKey, descriptor: PropertyDescriptor): void {
  const original = log === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
  Object.defineProperty(target, key, descriptor);
  // A getter-only accessor (node-redis 4's queue's isPubSubActive) is logged by its getter, so a
  // detach puts the original back; one with a setter may hold what the program assigned
  // through it (Elysia's `find`): logged as undefined, never taken back (as before).
  log?.replaced(target, key, original, "value" in descriptor ? descriptor.value : descriptor.set === undefined ? descriptor.get : undefined);
}

/** Logs something to undo at a detach (nothing under scope run). */
export function undoLater(fn: () => void): void {
  log?.undo(fn);
}
