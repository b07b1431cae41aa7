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
 *
 * Which database and server (as 5.x's, node-redis.ts): 1.x's client keeps its queue in a
 * private field and its queue knows no client, but the client's public `isPubSubActive`
 * getter reads the queue's own. So `RedisClient.prototype.connect` (dist/lib/client/index.js;
 * every client, a duplicate's and an isolation pool's too, connects through it) reads that
 * getter once while a module variable holds the connection its public `options` name (the
 * options resolved by its constructor: a URL parsed into `socket`, `database`, `username`),
 * and the queue's getter, wrapped, files its queue with it (one comparison a read otherwise:
 * nothing else of node-redis reads it). The queue's `addCommand`, inside which each entry is
 * pushed (the connect's own SELECT and CLIENT SETINFO too), marks the queue's connection as
 * 5.x's does (node-redis.ts `markQueueCommands`). Pub/sub commands (pushed by the queue's
 * `subscribe`, not `addCommand`) name none, as in 5.x.
 */
import { createRequire } from "node:module";
import { definePatch } from "../../shared/patches";
import { renamed } from "../../shared/reflect";
import { wrapMethod, type DbRecorder } from "../../shared/db";
import { fileAtCommands, fileQueueOf, markQueueCommands, queueEntries } from "./node-redis";

const hooked = new WeakSet<object>();

/** `exports`: @redis/client's dist/lib/client/commands-queue.js (at `filename`), 1.x or not. */
export function hookNodeRedis4Queue(db: DbRecorder, filename: string, exports: unknown): void {
  const queue = (exports as { default?: { prototype?: Record<string, unknown> } } | null)?.default?.prototype;
  // 1.x's queue hands commands to the socket by getCommandToSend (5.x's has none and keeps its own list class).
  if (queue === null || typeof queue !== "object" || typeof queue.getCommandToSend !== "function") return;
  markQueueCommands(queue);
  fileByPubSubGetter(queue);
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

/** 1.x's client and queue prototypes already hooked. */
const clients = new WeakSet<object>();

/** The options of the client whose connect reads its queue's isPubSubActive (undefined: no connect is filing). */
let filing: { db: DbRecorder; options: unknown } | undefined;

/** 1.x's queue's isPubSubActive getter: files its queue while a connect reads it through its client. */
function fileByPubSubGetter(queue: object): void {
  if (clients.has(queue)) return;
  clients.add(queue);
  const descriptor = Object.getOwnPropertyDescriptor(queue, "isPubSubActive");
  const get = descriptor?.get;
  if (descriptor === undefined || typeof get !== "function" || descriptor.set !== undefined) return;
  definePatch(queue, "isPubSubActive", {
    ...descriptor,
    get: renamed(get, function isPubSubActive(this: object) {
      if (filing !== undefined) {
        const { db, options } = filing;
        filing = undefined;
        db.recorder.safe(() => fileQueueOf(db, this, options));
      }
      return Reflect.apply(get, this, arguments);
    }),
  });
}

/**
 * `exports`: @redis/client's dist/lib/client/index.js, 1.x's (its client has no `_getQueue`; 5.x's: node-redis.ts).
 * `late` (scope attach, the file loaded before): a client connected already files its queue, as
 * its connect does, at its first `sendCommand` or MULTI/pipeline exec (`multiExecutor`, which
 * `multi()` reads off the client) while attached (node-redis.ts `fileAtCommands`). Its typed
 * commands (`client.set`) call the executor 1.x's commander.js captured from the prototype at
 * its load, past any wrapper: a client that sends only those names no connection.
 */
export function hookNodeRedis4Client(db: DbRecorder, exports: unknown, late = false): void {
  const proto = (exports as { default?: { prototype?: Record<string, unknown> } } | null)?.default?.prototype;
  if (proto === null || typeof proto !== "object" || typeof proto._getQueue === "function" || clients.has(proto)) return;
  const options = Object.getOwnPropertyDescriptor(proto, "options")?.get;
  const pubSub = Object.getOwnPropertyDescriptor(proto, "isPubSubActive")?.get;
  if (typeof options !== "function" || typeof pubSub !== "function") return;
  clients.add(proto);
  const file = (client: object) => {
    // No options (@redis/client's createClient() without any): node-redis's defaults.
    filing = { db, options: Reflect.apply(options, client, []) ?? {} };
    try {
      Reflect.apply(pubSub, client, []);
    } finally {
      filing = undefined;
    }
  };
  wrapMethod(proto, "connect", (original) =>
    function connect(this: object) {
      db.recorder.safe(() => file(this));
      return Reflect.apply(original, this, arguments);
    },
  );
  if (late) fileAtCommands(db, proto, ["sendCommand", "multiExecutor"], file);
}
