/**
 * A pool wait ended where the pool settles the deferred it handed the asker (knex's tarn,
 * Sequelize's sequelize-pool): its resolve (a connection handed over) and reject (a timeout,
 * a drain) wrapped once each, the first of them ending the wait.
 */
import type { DbRecorder } from "../../shared/db";

type Fn = (...args: unknown[]) => unknown;

/**
 * Ends wait `id` when `deferred[resolveKey]` or `deferred[rejectKey]` is first called (a
 * rejection as a failed wait, with its error). False when they are not functions: nothing
 * wrapped, the caller decides.
 */
export function endWaitOnSettle(db: DbRecorder, id: number, deferred: Record<string, unknown>, resolveKey: string, rejectKey: string): boolean {
  const resolve = deferred[resolveKey];
  const reject = deferred[rejectKey];
  if (typeof resolve !== "function" || typeof reject !== "function") return false;
  let ended = false;
  deferred[resolveKey] = function (this: unknown) {
    if (!ended) {
      ended = true;
      db.waitEnd(id);
    }
    return Reflect.apply(resolve as Fn, this, arguments);
  };
  deferred[rejectKey] = function (this: unknown, error: unknown) {
    if (!ended) {
      ended = true;
      db.waitEnd(id, error, true);
    }
    return Reflect.apply(reject as Fn, this, arguments);
  };
  return true;
}

/** A pool's list's length (0 for what is no array). */
export function lengthOf(list: unknown): number {
  return Array.isArray(list) ? list.length : 0;
}
