/**
 * State the agent attaches to the runtime's own objects (an IncomingMessage, a
 * ClientRequest) without the program being able to see it: a class private field added
 * to an arbitrary object (a base constructor that returns that object). Unlike a symbol
 * property it shows in no `util.inspect` (not even with showHidden), no
 * `Reflect.ownKeys`, no spread, no Proxy trap; unlike a WeakMap entry it costs V8 no
 * ephemeron table (measured: BENCHMARKS.md "HTTP requests").
 */
export interface Stamp<T> {
  /** What was attached to `object`, or undefined. */
  get(object: object): T | undefined;
  /** Attaches `value` to `object` (replacing an earlier one). */
  set(object: object, value: T): void;
  /**
   * Attaches `value` to an object that should carry none yet (one the runtime just made: a
   * request's IncomingMessage, pg's new Query); replaces an earlier one too, slowly (a caught
   * exception). `set` first asks whether the object has the field, and V8 answers that
   * question for an object without it in the runtime (Runtime_HasProperty, ~270 instructions;
   * one with it, in the inline cache).
   */
  add(object: object, value: T): void;
  /**
   * Replaces the value of an object known to carry the stamp (its `get` gave a value): a
   * store without `set`'s test; throws (a TypeError of V8's) for an object without it.
   */
  replace(object: object, value: T): void;
}

/** A stamp as makeStamp makes it (a wrapper of one, as http.ts's, need not have `find`). */
export interface FieldStamp<T> extends Stamp<T> {
  /**
   * `get` by the field's load alone, without its `#value in object` test (which Maglev, Node 24's
   * middle tier, compiles to a KeyedHasIC builtin call each time; a load is an inline map check
   * there): for objects that nearly all carry the stamp, looked up on a hot path (a port's
   * deliveries). An object without the field costs a caught TypeError and is given the field,
   * holding undefined, so that its next `find` is a load too; not an object: undefined.
   */
  find(object: unknown): T | undefined;
}

class Carrier {
  constructor(object: object) {
    // The instance is `object` itself: a subclass's field is installed on it.
    return object as Carrier;
  }
}

interface FieldClass {
  get(object: object): unknown;
  find(object: unknown): unknown;
  set(object: object, value: unknown): void;
  add(object: object, value: unknown): void;
  replace(object: object, value: unknown): void;
}

/**
 * One kind of stamp: a class with its own private field. Self-contained (it uses nothing
 * but its parameter), so that makeStamp can compile a copy of it from its own source.
 */
function fieldClass(base: typeof Carrier): FieldClass {
  // The value a `new Field` installs, read by the field's initializer: the field is defined
  // with its value (one define), not defined as undefined and then stored (a define and a
  // keyed store each time a stamp is added: BENCHMARKS.md "Web: scope's added instructions
  // by function").
  let next: unknown;
  return class Field extends base {
    #value: unknown = next;

    constructor(object: object, value: unknown) {
      next = value;
      super(object);
      // (Left set when the define threw, the object having the field already: `add` stores it then.)
      next = undefined;
    }

    static get(object: object): unknown {
      // Not an object (a wrapper's `this` when the program passed undefined or a primitive:
      // strict code hands it on unchanged): nothing attached, and no TypeError of `in`.
      if ((typeof object !== "object" || object === null) && typeof object !== "function") return undefined;
      return #value in object ? (object as Field).#value : undefined;
    }

    static find(object: unknown): unknown {
      try {
        return (object as Field).#value;
      } catch {
        // No field (a runtime's own object, once): given one holding undefined. A primitive: none.
        // An object that refuses the field stays without it (found by a throw each time).
        if ((typeof object === "object" && object !== null) || typeof object === "function") {
          try {
            Field.add(object as object, undefined);
          } catch {
            // Nothing attached.
          }
        }
        return undefined;
      }
    }

    static set(object: object, value: unknown): void {
      if (#value in object) (object as Field).#value = value;
      else new Field(object, value);
    }

    static replace(object: object, value: unknown): void {
      (object as Field).#value = value;
    }

    static add(object: object, value: unknown): void {
      try {
        new Field(object, value);
      } catch {
        // It had the field already (V8 refuses to initialize it twice): replaced.
        (object as Field).#value = value;
      }
    }
  };
}

/**
 * A new kind of stamp: its own private field, so stamps of different kinds never mix.
 *
 * `perRequest`: the stamp is read several times a request (a request's state, a pg query's
 * id, an Express layer's info). In V8 every class made from one class literal shares that
 * literal's inline caches, so the `#value in object` and `.#value` of all stamps together
 * see every kind's objects and private names and go megamorphic (a generic look-up, ~200
 * instructions, ~25 times a request: BENCHMARKS.md "Strict bundles; a stamp's own code").
 * Such a stamp gets a copy of the class compiled from its source (node:vm), whose caches
 * see only its own objects. Elsewhere (Bun, no node:vm, a compile that fails) and for the
 * rare stamps: the literal itself (a compile costs tens of microseconds, worker starts pay it).
 */
export function makeStamp<T>(perRequest = false): FieldStamp<T> {
  const field = (perRequest ? ownCopy() : undefined) ?? fieldClass(Carrier);
  return { get: field.get, find: field.find, set: field.set, add: field.add, replace: field.replace } as FieldStamp<T>;
}

/** The filename a stamp's own copy is compiled under: scope's code, which `--functions` never instruments (instrument/vm-hooks.ts). */
export const STAMP_FILENAME = "scope-stamp";

function ownCopy(): FieldClass | undefined {
  if (typeof process !== "object" || process.versions?.bun !== undefined || process.versions?.node === undefined) return undefined;
  try {
    const vm = require("node:vm") as typeof import("node:vm");
    const copy = vm.runInThisContext(`(${fieldClass.toString()})`, { filename: STAMP_FILENAME }) as typeof fieldClass;
    const field = copy(Carrier);
    // Tried once on an object of its own: a copy that does not work as the literal is not used.
    const probe = {};
    field.set(probe, probe);
    return field.get(probe) === probe && field.get({}) === undefined ? field : undefined;
  } catch {
    return undefined;
  }
}
