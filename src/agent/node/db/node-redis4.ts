/**
 * node-redis 4 (`redis` 4, its client `@redis/client` 1.x; Node, Bun; CommonJS only): the
 * commands queue (dist/lib/client/commands-queue.js) keeps its to-write list in a `yallist`
 * list (the `yallist` package, its own dependency), private to the queue: every command,
 * alone, in a pipeline or in MULTI/EXEC, is a node `new Yallist.Node({args, resolve,
 * reject, ...})` put there by `pushNode` (`unshiftNode` for `asap`), a pub/sub command an
 * entry put by `push`, synchronously inside the program's call. Those four methods of
 * yallist's prototype are wrapped and an entry of that shape recorded as node-redis 5's
 * (node-redis.ts `queueEntries`): its resolve/reject replaced, so the reply or error
 * reaches the client unchanged, in the same tick. `getCommandToSend` moves the entry's
 * resolve/reject (ours) to the to-reply list, whose entries have no `args`.
 *
 * yallist is shared (lru-cache 6 and others keep their lists in it), so it is hooked only
 * when @redis/client 1.x's commands-queue.js has loaded: found from that file as its own
 * `require("yallist")` finds it (already loaded by then: nothing runs). A program without
 * node-redis 4 keeps yallist untouched; one with it pays, in its other yallist lists, a
 * shape test per push (their entries have no `args`).
 */
import { createRequire } from "node:module";
import { wrapMethod, type DbRecorder } from "../../shared/db";
import { queueEntries } from "./node-redis";

const hooked = new WeakSet<object>();

/** `exports`: @redis/client's dist/lib/client/commands-queue.js (at `filename`), 1.x or not. */
export function hookNodeRedis4Queue(db: DbRecorder, filename: string, exports: unknown): void {
  const queue = (exports as { default?: { prototype?: Record<string, unknown> } } | null)?.default?.prototype;
  // 1.x's queue hands commands to the socket by getCommandToSend (5.x's has none and keeps its own list class).
  if (queue === null || typeof queue !== "object" || typeof queue.getCommandToSend !== "function") return;
  const yallist = createRequire(filename)("yallist") as { prototype?: Record<string, unknown> } | null;
  const proto = yallist?.prototype;
  if (typeof yallist !== "function" || proto === null || typeof proto !== "object" || typeof proto.pushNode !== "function" || hooked.has(proto)) return;
  hooked.add(proto);
  const onStart = queueEntries(db);
  const entry = (value: unknown) => {
    if (value !== null && typeof value === "object" && "args" in value) {
      try {
        onStart(value as Record<string, unknown>);
      } catch (error) {
        db.recorder.fail(error);
      }
    }
  };
  for (const key of ["push", "unshift"]) {
    wrapMethod(proto, key, (original) =>
      function (this: unknown, value: unknown) {
        entry(value);
        return Reflect.apply(original, this, arguments);
      },
    );
  }
  for (const key of ["pushNode", "unshiftNode"]) {
    wrapMethod(proto, key, (original) =>
      function (this: unknown, node: unknown) {
        if (node !== null && typeof node === "object") entry((node as { value?: unknown }).value);
        return Reflect.apply(original, this, arguments);
      },
    );
  }
}
