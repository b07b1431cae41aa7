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
});
