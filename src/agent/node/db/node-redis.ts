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
 */
import { DbSystem } from "../../shared/kinds";
import { wrapMethod, type DbRecorder } from "../../shared/db";
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
    const id = db.queryStartWith(DbSystem.nodeRedis, texts.text(args[0], args, 1), args.length - 1);
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
        db.recorder.safe(() => db.queryFailed(id, errorCode(error, db.isProxy), error));
      }
      return Reflect.apply(reject, this, arguments);
    };
  };
}
