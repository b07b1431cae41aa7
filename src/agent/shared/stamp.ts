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
}

class Carrier {
  constructor(object: object) {
    // The instance is `object` itself: a subclass's field is installed on it.
    return object as Carrier;
  }
}

/** A new kind of stamp: its own private field, so stamps of different kinds never mix. */
export function makeStamp<T>(): Stamp<T> {
  class Field extends Carrier {
    #value: T;

    constructor(object: object, value: T) {
      super(object);
      this.#value = value;
    }

    static get(object: object): T | undefined {
      // Not an object (a wrapper's `this` when the program passed undefined or a primitive:
      // strict code hands it on unchanged): nothing attached, and no TypeError of `in`.
      if ((typeof object !== "object" || object === null) && typeof object !== "function") return undefined;
      return #value in object ? (object as Field).#value : undefined;
    }

    static set(object: object, value: T): void {
      if (#value in object) (object as Field).#value = value;
      else new Field(object, value);
    }
  }
  return { get: Field.get, set: Field.set };
}
