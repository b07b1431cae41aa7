/**
 * node-redis 5 (`redis` 5, its client `@redis/client` 5; Node, Bun; CommonJS only): every
 * command, alone, in a pipeline or in MULTI/EXEC, becomes one entry of the commands queue
 * (`RedisCommandsQueue`, whose lists are private fields): an object with the command's
 * arguments (`args`, the name first) and the `resolve`/`reject` of the promise the client
 * awaits, put on the queue's to-write list by `DoublyLinkedList.prototype.add`/`push`
 * (dist/lib/client/linked-list.js), synchronously inside the program's call. Those two are
 * wrapped: an entry with `args` and `resolve`/`reject` functions (the pool's other list
 * holds clients) gets the start recorded and its resolve/reject replaced by ones that
 * record the end first, so the reply or error reaches the client unchanged, in the same
 * tick. The queue calls `resolve(reply)` with the decoded reply, `reject(error)` with the
 * server's ErrorReply or a socket error. An entry seen again (its resolve ours, known by its name) is not recorded twice.
 * node-redis 4 (`@redis/client` 1.x) keeps the same entries in `yallist` lists: node-redis4.ts.
 *
 * Which database and server (db.ts `connection`; 5.x): an entry knows no client, so the queue
 * that pushes it is known instead. `RedisClient.prototype.connect` (dist/lib/client/index.js;
 * every client, a pool's and a duplicate's too, connects through it) files the client's queue
 * (its `_getQueue()`) with what its resolved `options` say: `database` (the index, 0 when
 * none), the socket's `path` or `host` and `port` (node-redis's defaults, localhost:6379),
 * `username`; `RedisCommandsQueue.prototype.addCommand` (commands-queue.js), inside which
 * the entry is pushed, marks that queue's connection for its synchronous part. A `SELECT n`
 * entry (the client's `select`, a MULTI's or pipeline's, `sendCommand`'s, the connect's own)
 * moves the queue's database to n for the commands pushed after it (Redis runs them in order),
 * and back if it fails. A client connected before `scope attach` names none.
 */
import { createRequire } from "node:module";
import { ChannelKind, DbSystem } from "../../shared/kinds";
import { PubSubReceives } from "../../shared/pubsub";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";
import { commandTexts, errorCode, RECORDED, replyRows } from "./redis-command";

const hooked = new WeakSet<object>();

export function hookNodeRedisList(db: DbRecorder, exports: unknown): void {
  const proto = (exports as { DoublyLinkedList?: { prototype?: unknown } } | null)?.DoublyLinkedList?.prototype;
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  hooked.add(proto);
  const onStart = queueEntries(db);
  for (const key of ["push", "unshift"]) {
    wrapMethod(proto, key, (original) =>
      function (this: unknown, value: unknown) {
        if (value !== null && typeof value === "object" && "args" in value) {
          try {
            onStart(value as Record<string, unknown>);
          } catch (error) {
            db.recorder.fail(error);
          }
        }
        return Reflect.apply(original, this, arguments);
      },
    );
  }
}

/** A queue's connection: the value its commands are recorded with, and what a SELECT needs to name another database on the same server. */
interface Target {
  system: number;
  server: unknown;
  port: unknown;
  user: unknown;
}

const queues = new WeakMap<object, Target>();
/** The connection of the queue whose addCommand runs (undefined: none known). */
let current: Target | undefined;
/** The last queue found filed, and its connection: most programs have one client (no WeakMap look-up a command). */
let lastQueue: object | undefined;
let lastTarget: Target | undefined;

function queueTarget(queue: object): Target | undefined {
  const target = queues.get(queue);
  if (target !== undefined) {
    lastQueue = queue;
    lastTarget = target;
  }
  return target;
}

/**
 * 5.x's client: its `connect` files the queue with the client's connection. `late` (scope
 * attach, the file loaded before): clients may have connected already, so the methods every
 * command of theirs passes (`sendCommand`, `_executePipeline`, `_executeMulti`; `this` may be a
 * client made with `withCommandOptions`, whose `_self` is the client) file its queue at its
 * first command while attached: one WeakSet look-up a command, only then.
 */
export function hookNodeRedisClient(db: DbRecorder, exports: unknown, late = false): void {
  const proto = (exports as { default?: { prototype?: Record<string, unknown> } } | null)?.default?.prototype;
  // 5.x's client hands its queue out (1.x's has no _getQueue).
  if (proto === null || typeof proto !== "object" || typeof proto._getQueue !== "function" || hooked.has(proto)) return;
  hooked.add(proto);
  if (late) fileAtCommands(db, proto, ["sendCommand", "_executePipeline", "_executeMulti"], (client) => fileQueue(db, client));
  wrapMethod(proto, "connect", (original) =>
    function connect(this: Record<string, unknown>) {
      try {
        fileQueue(db, this);
      } catch (error) {
        db.recorder.fail(error);
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}

/**
 * Clients connected before `scope attach` (their `connect` ran unwrapped): each of `methods`
 * of their prototype files the client's queue (`file`) at the first command it passes, keyed by
 * the client (`_self` where the client has one: a `withCommandOptions` client's is its base).
 */
export function fileAtCommands(db: DbRecorder, proto: object, methods: string[], file: (client: Record<string, unknown>) => void): void {
  const seen = new WeakSet<object>();
  for (const key of methods) {
    wrapMethod(proto, key, (original) =>
      function (this: Record<string, unknown>) {
        if (this !== null && typeof this === "object") {
          const self = (this._self ?? this) as Record<string, unknown>;
          if (!seen.has(self)) {
            seen.add(self);
            try {
              file(this);
            } catch (error) {
              db.recorder.fail(error);
            }
          }
        }
        return Reflect.apply(original, this, arguments);
      },
    );
  }
}

function fileQueue(db: DbRecorder, client: Record<string, unknown>): void {
  fileQueueOf(db, (client._getQueue as () => unknown).call(client), client.options);
}

/** Files `queue` (a 5.x or 1.x commands queue) with the connection its client's resolved `options` name, unless already filed. */
export function fileQueueOf(db: DbRecorder, queue: unknown, options: unknown): void {
  if (queue === null || typeof queue !== "object" || queues.has(queue)) return;
  if (options === null || typeof options !== "object" || db.isProxy(options)) return;
  const socket = dataProperty(options, "socket") as Record<string, unknown> | undefined;
  const path = socket !== null && typeof socket === "object" ? dataProperty(socket, "path") : undefined;
  const named = typeof path === "string" && path !== "";
  const host = socket !== null && typeof socket === "object" ? dataProperty(socket, "host") : undefined;
  const port = socket !== null && typeof socket === "object" ? dataProperty(socket, "port") : undefined;
  const target: Target = {
    system: 0,
    server: named ? path : (host ?? "localhost"),
    port: named ? undefined : (port ?? 6379),
    user: dataProperty(options, "username"),
  };
  target.system = db.connection(DbSystem.nodeRedis, dataProperty(options, "database") ?? 0, target.server, target.port, target.user);
  queues.set(queue, target);
}

/** 5.x's queue (1.x's has getCommandToSend): its addCommand marks its connection while it pushes the entry. */
export function hookNodeRedisQueue(exports: unknown): void {
  const proto = (exports as { default?: { prototype?: Record<string, unknown> } } | null)?.default?.prototype;
  if (proto === null || typeof proto !== "object" || typeof proto.getCommandToSend === "function") return;
  markQueueCommands(proto);
}

/** A queue prototype's addCommand (5.x's; 1.x's too: node-redis4.ts) marks that queue's connection while it pushes the entry. */
export function markQueueCommands(proto: object): void {
  if (hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "addCommand", (original) =>
    function addCommand(this: object) {
      const outer = current;
      current = this === lastQueue ? lastTarget : queueTarget(this);
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        current = outer;
      }
    },
  );
}

/** A SELECT's database index as it was sent (a string or number), else undefined. */
function selected(args: unknown[]): unknown {
  const name = args[0];
  if (args.length !== 2 || (name !== "SELECT" && name !== "select" && !(typeof name === "string" && name.length === 6 && name.toUpperCase() === "SELECT"))) return undefined;
  const index = args[1];
  return typeof index === "string" || typeof index === "number" ? index : undefined;
}

/**
 * The start of one queue entry `{args, resolve, reject}` (node-redis 4 and 5 share its
 * shape): the query recorded, its resolve/reject replaced by ones that record the end first.
 * Anything else (no function resolve/reject, no args) is left alone.
 */
export function queueEntries(db: DbRecorder): (entry: Record<string, unknown>) => void {
  const texts = commandTexts(db);
  return (entry) => {
    const resolve = entry.resolve;
    const reject = entry.reject;
    const args = entry.args;
    // An entry pushed again would have our resolve (node-redis pushes each entry once).
    if (typeof resolve !== "function" || typeof reject !== "function" || !Array.isArray(args) || args.length === 0 || resolve.name === RECORDED) return;
    const target = current;
    const id = db.queryStartWith(target === undefined ? DbSystem.nodeRedis : target.system, texts.text(args[0], args, 1), args.length - 1);
    // SELECT n: the commands pushed after it run on database n (back if it fails).
    let before = 0;
    let after = 0;
    if (target !== undefined && args.length === 2) {
      const index = selected(args);
      if (index !== undefined) {
        before = target.system;
        after = target.system = db.connection(DbSystem.nodeRedis, index, target.server, target.port, target.user);
      }
    }
    let ended = false;
    entry.resolve = function scopeRecordedResolve(this: unknown, value: unknown) {
      if (!ended) {
        ended = true;
        db.queryEnd(id, replyRows(value));
      }
      return Reflect.apply(resolve, this, arguments);
    };
    entry.reject = function (this: unknown, error: unknown) {
      if (!ended) {
        ended = true;
        if (after !== 0 && target!.system === after) target!.system = before;
        db.recorder.safe(() => db.queryFailed(id, errorCode(error, db.isProxy), error));
      }
      return Reflect.apply(reject, this, arguments);
    };
  };
}

/**
 * Pub/sub messages (node-redis 5 and 4: both keep a `PubSub` per commands queue, in
 * dist/lib/client/pub-sub.js, which commands-queue.js at `filename` requires at its load):
 * the queue hands every push reply in subscriber mode to `PubSub.prototype.handleMessageReply`,
 * which calls the program's listeners for a `message`, `pmessage` or `smessage` push. The
 * wrapper records such a push as a received message (shared/pubsub.ts) before it: the reply's
 * first element read as text (a Buffer of up to 8 bytes), its other elements the pattern,
 * channel and payload as the server sent them. Other replies pass with one length test.
 */
export function hookNodeRedisPubSub(db: DbRecorder, filename: string): void {
  const pubSub = (createRequire(filename)("./pub-sub") as { PubSub?: { prototype?: unknown } } | null)?.PubSub?.prototype;
  if (pubSub === null || typeof pubSub !== "object" || hooked.has(pubSub)) return;
  hooked.add(pubSub);
  const receives = new PubSubReceives(db.recorder, ChannelKind.redis_pubsub);
  wrapMethod(pubSub, "handleMessageReply", (original) =>
    function handleMessageReply(this: object, reply: unknown) {
      if (Array.isArray(reply) && reply.length >= 3) {
        try {
          receivePush(receives, this, reply);
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}

/** A `message`, `smessage` or `pmessage` push (its pattern, channel and payload as the server sent them) as a receive on `owner`'s channel; any other reply: nothing. ioredis's too. */
export function receivePush(receives: PubSubReceives, owner: object, reply: unknown[]): void {
  const type = pushType(reply[0]);
  if (type === MESSAGE) receives.receive(owner, reply[1], reply[2]);
  else if (type === PATTERN && reply.length >= 4) receives.receive(owner, reply[2], reply[3], reply[1]);
}

const OTHER = 0;
const MESSAGE = 1;
const PATTERN = 2;

/**
 * A push reply's type: `message` or `smessage` (MESSAGE), `pmessage` (PATTERN), else OTHER,
 * from a string or the Buffer the clients decode it into, by its length and first byte (no
 * string made): the other pushes (subscribe, unsubscribe and their p/s forms, pong,
 * invalidate) have other lengths.
 */
function pushType(first: unknown): number {
  if (typeof first === "string") return first === "message" || first === "smessage" ? MESSAGE : first === "pmessage" ? PATTERN : OTHER;
  if (!(first instanceof Uint8Array)) return OTHER;
  const length = first.byteLength;
  if (length === 7) return first[0] === 0x6d && first[6] === 0x65 ? MESSAGE : OTHER;
  if (length !== 8 || first[7] !== 0x65) return OTHER;
  return first[0] === 0x70 ? PATTERN : first[0] === 0x73 ? MESSAGE : OTHER;
}
