/**
 * The agent's stamps (src/agent/shared/stamp.ts): state on the runtime's objects that the
 * program cannot see. `add`, for objects that should carry none yet, attaches without the
 * look-up `set` makes, and still replaces a value an object already carries.
 */
import { describe, expect, test } from "bun:test";
import { inspect } from "node:util";
import { makeStamp } from "../src/agent/shared/stamp";

describe.each([[false], [true]])("stamp (perRequest %p)", (perRequest) => {
  test("add on a fresh object, then get; add again replaces; set and add agree; other stamps see nothing", () => {
    const stamp = makeStamp<number | undefined>(perRequest);
    const other = makeStamp<number>(perRequest);
    const object = { a: 1 };
    expect(stamp.get(object)).toBeUndefined();
    stamp.add(object, 7);
    expect(stamp.get(object)).toBe(7);
    stamp.add(object, 8);
    expect(stamp.get(object)).toBe(8);
    stamp.set(object, undefined);
    expect(stamp.get(object)).toBeUndefined();
    stamp.add(object, 9);
    expect(stamp.get(object)).toBe(9);
    expect(other.get(object)).toBeUndefined();
    const fresh = {};
    stamp.set(fresh, 1);
    expect(stamp.get(fresh)).toBe(1);
    // Invisible to the program.
    expect(Reflect.ownKeys(object)).toEqual(["a"]);
    expect(inspect(object, { showHidden: true })).toBe("{ a: 1 }");
  });

  test("find: what get answers, by a load; an object without the stamp is given an empty one, a primitive or a Proxy runs nothing", () => {
    const stamp = makeStamp<number>(perRequest);
    const other = makeStamp<number>(perRequest);
    const carrier = { a: 1 };
    stamp.set(carrier, 5);
    expect(stamp.find(carrier)).toBe(5);
    const bare = { b: 2 };
    expect(stamp.find(bare)).toBeUndefined();
    // Given an empty stamp: found again as undefined, set and get as before, other stamps unaffected.
    expect(stamp.find(bare)).toBeUndefined();
    expect(stamp.get(bare)).toBeUndefined();
    stamp.set(bare, 6);
    expect(stamp.find(bare)).toBe(6);
    expect(stamp.get(bare)).toBe(6);
    expect(other.find(bare)).toBeUndefined();
    expect(Reflect.ownKeys(bare)).toEqual(["b"]);
    expect(inspect(bare, { showHidden: true })).toBe("{ b: 2 }");
    for (const primitive of [undefined, null, 3, "s", Symbol("x"), true]) expect(stamp.find(primitive)).toBeUndefined();
    const traps: string[] = [];
    const proxy = new Proxy({}, new Proxy({}, { get: (_target, name) => (traps.push(String(name)), undefined) }));
    expect(stamp.find(proxy)).toBeUndefined();
    expect(stamp.find(proxy)).toBeUndefined();
    expect(traps).toEqual([]);
    const frozen = Object.freeze({ c: 3 });
    expect(stamp.find(frozen)).toBeUndefined();
    expect(stamp.find(frozen)).toBeUndefined();
  });
});
