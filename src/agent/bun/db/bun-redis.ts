/**
 * Bun's built-in Redis client (`Bun.redis`, `new Bun.RedisClient(url)`; Bun 1.4.5): a native
 * class whose every command is a method of `RedisClient.prototype` (`get`, `set`, `hset`, …,
 * and `send(name, args)` for any other) returning a native promise. Hooked the first time the
 * program touches either (stand-in.ts): each command method is wrapped once at the prototype.
 *
 * A call records the start in the program's call (its request), with the text of
 * redis-command.ts (`SET ? ?`: name in capitals, one `?` per argument, as ioredis's and
 * node-redis's records; `getBuffer` is GET; an array argument counts its elements, an
 * object its fields and values, a listener function is not an argument), and the end when the command's promise settles: the
 * program gets the promise of a reaction on Bun's, which settles as Bun's did, with the same
 * value or error object (a rejection the program never handles stays unhandled: a reaction
 * on Bun's own promise would mark it handled), one microtask later (as Bun's fetch: http.ts).
 * Errors: an error reply's first word (`WRONGTYPE`, `ERR`) where Bun's `code` only says the
 * server refused it (ERR_REDIS_SERVER_ERROR), else Bun's `code` (ERR_REDIS_CONNECTION_CLOSED).
 */
import { DbSystem } from "../../shared/kinds";
import { dataProperty, renamed, type DbRecorder } from "../../shared/db";
import { commandTexts, errorCode, replyRows } from "../../node/db/redis-command";

/** RedisClient's methods that send no command of their own (connect, close) or make no promise. */
const NOT_COMMANDS = new Set(["constructor", "connect", "close", "duplicate"]);
/** Methods named other than their command. */
const COMMAND_OF: Record<string, string> = { getBuffer: "get" };

const hooked = new WeakSet<object>();

export function hookBunRedis(db: DbRecorder, RedisClient: unknown): void {
  const proto = (RedisClient as { prototype?: unknown } | null)?.prototype;
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  hooked.add(proto);
  const texts = commandTexts(db);
  const ended = (id: number) => (value: unknown) => {
    db.queryEnd(id, replyRows(value));
    return value;
  };
  const failed = (id: number) => (error: unknown) => {
    db.recorder.safe(() => db.queryFailed(id, redisErrorCode(error, db.isProxy), error));
    throw error;
  };
  const settle = (id: number, result: unknown): unknown =>
    id !== 0 && result instanceof Promise ? Promise.prototype.then.call(result, ended(id), failed(id)) : result;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (NOT_COMMANDS.has(name)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    const original = descriptor?.value as ((...args: unknown[]) => unknown) | undefined;
    if (descriptor === undefined || typeof original !== "function" || !descriptor.writable) continue;
    const command = COMMAND_OF[name] ?? name;
    const send = name === "send";
    const wrapper = renamed(original, function (this: unknown) {
      let id = 0;
      try {
        if (send) {
          const args = arguments[1];
          const list = Array.isArray(args) ? (args as unknown[]) : [];
          id = db.queryStartWith(DbSystem.bunRedis, texts.text(arguments[0], list, 0), list.length);
        } else {
          const args = commandArguments(arguments);
          id = db.queryStartWith(DbSystem.bunRedis, texts.text(command, args, 0), args.length);
        }
      } catch (error) {
        db.recorder.fail(error);
      }
      let result: unknown;
      try {
        result = Reflect.apply(original, this, arguments);
      } catch (error) {
        // Refused before it was sent (a wrong argument's type): a command that failed.
        db.queryFailed(id, redisErrorCode(error, db.isProxy), error);
        throw error;
      }
      return settle(id, result);
    });
    Object.defineProperty(proto, name, { ...descriptor, value: wrapper });
  }
}

/**
 * A command's arguments as Redis gets them: an array's elements in its place, a plain object's
 * fields and values (`hset(key, { field: value })`), a listener (subscribe's) left out.
 */
function commandArguments(args: ArrayLike<unknown>): ArrayLike<unknown> {
  let plain = true;
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (typeof value === "function" || (value !== null && typeof value === "object" && (Array.isArray(value) || isPlainObject(value)))) plain = false;
  }
  if (plain) return args;
  const list: unknown[] = [];
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (Array.isArray(value)) list.push(...(value as unknown[]));
    else if (value !== null && typeof value === "object" && isPlainObject(value)) {
      for (const [field, fieldValue] of Object.entries(value)) list.push(field, fieldValue);
    } else if (typeof value !== "function") list.push(value);
  }
  return list;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An error reply's first word where Bun's code is only ERR_REDIS_SERVER_ERROR; else as ioredis's (redis-command.ts). */
function redisErrorCode(error: unknown, isProxy: (value: unknown) => boolean): string | undefined {
  if (error !== null && typeof error === "object" && !isProxy(error) && dataProperty(error, "code") === "ERR_REDIS_SERVER_ERROR") {
    const message = dataProperty(error, "message");
    const word = typeof message === "string" ? /^[A-Z][A-Z0-9_]*(?=\s|$)/.exec(message) : null;
    if (word !== null) return word[0];
  }
  return errorCode(error, isProxy);
}
