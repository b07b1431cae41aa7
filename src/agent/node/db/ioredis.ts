/**
 * ioredis 5 (Node, Bun; CommonJS only, so an ES module's `import` loads it through the same
 * CommonJS step): every command the program sends, alone, in a pipeline or in MULTI/EXEC,
 * passes through `Redis.prototype.sendCommand(command, stream)` (built/Redis.js) as a
 * `Command` that holds its name, arguments and its own `resolve`/`reject` closures. The
 * first time a command passes (a command queued while connecting passes again when the
 * queue is flushed: its resolve is then already ours, known by its name) the start is recorded in the program's context, and the command's
 * resolve/reject are replaced by ones that record the end first and then call them: the
 * program's promise or callback gets the same value or error object, in the same tick.
 *
 * Each command is a query, a pipeline's too (see ARCHITECTURE "Redis").
 *
 * A Lua script's command (`defineCommand`, `Script`: BullMQ's commands) is made as EVALSHA,
 * and ioredis decides only as it writes it (its class's `toWritable`) whether it goes out as
 * EVAL with the script (the first time on a socket) or as EVALSHA. So an EVALSHA's start is
 * recorded at its write, with the name it went out as, in the request of the call that sent it
 * (writing happens inside `sendCommand`, or at the flush of a command queued while connecting);
 * one that ends unwritten (a closed connection) is started at its end.
 */
import { createRequire } from "node:module";
import { ChannelKind, DbSystem } from "../../shared/kinds";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";
import { PubSubReceives } from "../../shared/pubsub";
import { commandTexts, errorCode, RECORDED, replyRows } from "./redis-command";
import { receivePush } from "./node-redis";

type Fn = (...args: unknown[]) => unknown;

const hooked = new WeakSet<object>();

/**
 * A client's options (ioredis keeps them per client, defaults filled in) → the `system` its
 * commands are recorded with: DbSystem.ioredis and its db_connection (the database index as
 * OpenTelemetry's db.namespace, host or unix socket path, port, username: db.ts `connection`).
 * The last options asked are compared first, then a WeakMap. `options` is read directly (a
 * data field ioredis's constructor makes, as pg.ts reads pg's own): no descriptor per command.
 */
const optionsSystems = new WeakMap<object, number>();
let lastOptions: object | undefined;
let lastSystem: number = DbSystem.ioredis;

function optionsConnection(db: DbRecorder, options: unknown): number {
  if (options === lastOptions) return lastSystem;
  if (typeof options !== "object" || options === null || db.isProxy(options)) return DbSystem.ioredis;
  let system = optionsSystems.get(options);
  if (system === undefined) {
    const path = dataProperty(options, "path");
    const local = typeof path === "string" && path !== "";
    system = db.connection(DbSystem.ioredis, dataProperty(options, "db"), local ? path : dataProperty(options, "host"), local ? 0 : dataProperty(options, "port"), dataProperty(options, "username"));
    optionsSystems.set(options, system);
  }
  lastOptions = options;
  lastSystem = system;
  return system;
}

export function hookIoredis(db: DbRecorder, exports: unknown): void {
  const Redis = (exports as { default?: { prototype?: unknown } } | null)?.default;
  const proto = Redis?.prototype;
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  hooked.add(proto);
  const texts = commandTexts(db);
  const onStart = (command: Record<string, unknown>, system: number): void => {
    const resolve = command.resolve;
    const reject = command.reject;
    const args = command.args;
    // Passed before (a command queued while connecting passes again at the flush): its resolve is ours.
    if (typeof resolve !== "function" || typeof reject !== "function" || !Array.isArray(args) || resolve.name === RECORDED) return;
    if (command.name === "evalsha") {
      onScriptStart(command, resolve as Fn, reject as Fn, args, system);
      return;
    }
    const id = db.queryStartWith(system, texts.text(command.name, args, 0), args.length);
    let ended = false;
    command.resolve = function scopeRecordedResolve(this: unknown, value: unknown) {
      if (!ended) {
        ended = true;
        db.queryEnd(id, replyRows(value));
      }
      return Reflect.apply(resolve, this, arguments);
    };
    command.reject = function (this: unknown, error: unknown) {
      if (!ended) {
        ended = true;
        db.recorder.safe(() => db.queryFailed(id, errorCode(error, db.isProxy), error));
      }
      return Reflect.apply(reject, this, arguments);
    };
  };
  // An EVALSHA (a script's, or the program's own): started at its write, named as it went out.
  const onScriptStart = (command: Record<string, unknown>, resolve: Fn, reject: Fn, args: unknown[], system: number): void => {
    const request = db.request();
    const toWritable = command.toWritable;
    let id = 0;
    let started = false;
    let ended = false;
    const start = () => {
      if (started) return;
      started = true;
      id = db.queryStartWith(system, texts.text(command.name, args, 0), args.length, request);
    };
    if (typeof toWritable === "function") {
      // An own property in front of the class's: ioredis calls it where it writes the command.
      command.toWritable = function (this: unknown) {
        const written = Reflect.apply(toWritable, this, arguments);
        db.recorder.safe(start);
        return written;
      };
    }
    command.resolve = function scopeRecordedResolve(this: unknown, value: unknown) {
      if (!ended) {
        ended = true;
        db.recorder.safe(() => {
          start();
          db.queryEnd(id, replyRows(value));
        });
      }
      return Reflect.apply(resolve, this, arguments);
    };
    command.reject = function (this: unknown, error: unknown) {
      if (!ended) {
        ended = true;
        db.recorder.safe(() => {
          start();
          db.queryFailed(id, errorCode(error, db.isProxy), error);
        });
      }
      return Reflect.apply(reject, this, arguments);
    };
  };
  wrapMethod(proto, "sendCommand", (original) =>
    function sendCommand(this: unknown, command: unknown) {
      // No closure per command for the recorder's `safe`: its try/catch here.
      if (command !== null && typeof command === "object") {
        try {
          const options = (this as { options?: unknown } | null | undefined)?.options;
          // A client that sent SELECT (none in most programs: one test a command).
          const system = selects === undefined ? optionsConnection(db, options) : (selects.get(this as object) ?? optionsConnection(db, options));
          onStart(command as Record<string, unknown>, system);
          if ((command as { name?: unknown }).name === "select") followSelect(db, this, options, command as Record<string, unknown>, system);
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}

/** Clients that sent `SELECT n` → the value their commands are recorded with (made at the first SELECT). */
let selects: WeakMap<object, number> | undefined;

/**
 * `SELECT n` (the client's `select`, a pipeline's or MULTI's, `call`): the commands sent after
 * it run on database n (ioredis switches its own `condition.select` as it sends it, and selects
 * it again after a reconnect); back to what it was if the server refuses it.
 */
function followSelect(db: DbRecorder, client: unknown, options: unknown, command: Record<string, unknown>, before: number): void {
  const args = command.args;
  const index = Array.isArray(args) && args.length === 1 ? args[0] : undefined;
  if ((typeof index !== "string" && typeof index !== "number") || client === null || typeof client !== "object" || options === null || typeof options !== "object" || db.isProxy(options)) return;
  const path = dataProperty(options, "path");
  const local = typeof path === "string" && path !== "";
  const after = db.connection(DbSystem.ioredis, index, local ? path : dataProperty(options, "host"), local ? 0 : dataProperty(options, "port"), dataProperty(options, "username"));
  selects ??= new WeakMap<object, number>();
  selects.set(client, after);
  const reject = command.reject;
  if (typeof reject !== "function") return;
  command.reject = function (this: unknown) {
    if (selects!.get(client) === after) selects!.set(client, before);
    return Reflect.apply(reject, this, arguments);
  };
}

/**
 * Pub/sub messages: a client in subscriber mode hands every reply to its connection's
 * `DataHandler.prototype.handleSubscriberReply(reply)` (built/DataHandler.js, which Redis.js at
 * `filename` loads at its own load, through redis/event_handler.js), which emits `message`,
 * `pmessage` or `smessage` (and their Buffer twins) for a pushed message. The wrapper records
 * such a reply as a received message (shared/pubsub.ts) before those emits, on the client's
 * channel (`this.redis`: a reconnect makes a new DataHandler for the same client). A client not
 * in subscriber mode passes with one property read, as ioredis's own first test.
 */
export function hookIoredisPubSub(db: DbRecorder, filename: string): void {
  const proto = (createRequire(filename)("./DataHandler") as { default?: { prototype?: unknown } } | null)?.default?.prototype;
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  hooked.add(proto);
  const receives = new PubSubReceives(db.recorder, ChannelKind.redis_pubsub);
  wrapMethod(proto, "handleSubscriberReply", (original) =>
    function handleSubscriberReply(this: { redis?: { condition?: { subscriber?: unknown } } }, reply: unknown) {
      if (Array.isArray(reply) && reply.length >= 3) {
        try {
          const client = this.redis;
          if (client?.condition?.subscriber) receivePush(receives, client, reply);
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}
