/**
 * Stand-ins for Bun's built-in database clients (`Bun.sql`, `Bun.SQL`, `Bun.redis`,
 * `Bun.RedisClient`): Bun makes each of them the first time it is read (Bun.SQL loads its
 * JavaScript, +4.5 ms CPU a Bun worker; RedisClient's class +0.35 ms), and they are non-configurable data
 * properties of `Bun` (writable: no getter can take their place). So each is assigned, at
 * the thread's start, a Proxy that holds nothing until the program touches it: its first
 * trap `load`s the real object (which hooks the library's prototypes), then every trap
 * forwards to it. The stand-in stays on `Bun`, so a program that kept it (`import { sql }
 * from "bun"` reads `Bun.sql` once, at its module's start) and one that reads `Bun.sql` each
 * time hold the same object, as untraced: the same results, errors and `this` as the real
 * object's (methods read through a stand-in of a native object are bound to it).
 */

type Load = () => object;

/** Real object → its stand-in: `Bun.redis.constructor` is the RedisClient stand-in, as untraced it is `Bun.RedisClient`. */
const standIns = new WeakMap<object, object>();

/** `real`'s stand-in is `proxy` (also before the stand-in's own first touch: the class of a client touched first). */
export function standsFor(proxy: object, real: object): void {
  standIns.set(real, proxy);
}

/**
 * A Proxy standing for the object `load()` returns, over `target`: a plain object for an
 * object, a function for a function, constructible when the real one is. Bun's inspect
 * prints a Proxy's target (`[Function: SQL]`), so a named function where the real one has a
 * `prototype` (made the real one's at the load: a Proxy reports a non-configurable property
 * only as its target has it), and a bound function where it has none (`Bun.sql`: an ordinary
 * function's own `prototype` would have to be reported too), printed `[Function]`.
 * `bindMethods`: methods read through the stand-in are the real object's bound to it (a
 * native method refuses any other `this`), the same function each time.
 */
export function standIn(target: object, load: Load, bindMethods = false): object {
  let real: object | undefined;
  let proxy: object;
  const bound = bindMethods ? new Map<PropertyKey, { method: unknown; bound: unknown }>() : undefined;
  const loaded = (): object => {
    if (real !== undefined) return real;
    const made = load();
    real = made;
    standIns.set(made, proxy);
    // The real object's non-configurable properties are the target's too: a Proxy may report
    // such a property only when its target has it the same.
    for (const key of Reflect.ownKeys(made)) {
      const descriptor = Reflect.getOwnPropertyDescriptor(made, key);
      if (descriptor !== undefined && descriptor.configurable === false) Reflect.defineProperty(target, key, descriptor);
    }
    return made;
  };
  // A non-extensible Proxy's target must hold exactly what the Proxy reports: the real object's own properties.
  const closeTarget = (): void => {
    const made = loaded();
    if (!Reflect.isExtensible(target)) return;
    for (const key of Reflect.ownKeys(target)) if (!Reflect.getOwnPropertyDescriptor(made, key)) Reflect.deleteProperty(target, key);
    for (const key of Reflect.ownKeys(made)) Reflect.defineProperty(target, key, Reflect.getOwnPropertyDescriptor(made, key)!);
    Reflect.preventExtensions(target);
  };
  const self = (value: unknown): unknown => (value === proxy ? real : value);
  proxy = new Proxy(target, {
    apply: (_target, thisArg, args) => Reflect.apply(loaded() as (...a: unknown[]) => unknown, self(thisArg), args),
    construct: (_target, args, newTarget) => {
      const made = loaded() as new (...a: unknown[]) => object;
      return Reflect.construct(made, args, newTarget === proxy ? made : (newTarget as typeof made));
    },
    get: (_target, key) => {
      const made = loaded();
      const value: unknown = Reflect.get(made, key, made);
      if (key === "constructor") return (typeof value === "function" && standIns.get(value)) || value;
      if (bound === undefined || typeof value !== "function") return value;
      const known = bound.get(key);
      if (known !== undefined && known.method === value) return known.bound;
      const method = (value as (...a: unknown[]) => unknown).bind(made);
      bound.set(key, { method: value, bound: method });
      return method;
    },
    set: (_target, key, value) => Reflect.set(loaded(), key, value, loaded()),
    has: (_target, key) => Reflect.has(loaded(), key),
    deleteProperty: (_target, key) => Reflect.deleteProperty(loaded(), key),
    // The target's own non-configurable keys are the real one's (loaded() defined them), so they are listed.
    ownKeys: () => Reflect.ownKeys(loaded()),
    getOwnPropertyDescriptor: (_target, key) => Reflect.getOwnPropertyDescriptor(loaded(), key),
    defineProperty: (_target, key, descriptor) => {
      const made = loaded();
      if (!Reflect.defineProperty(made, key, descriptor)) return false;
      if (descriptor.configurable === false) Reflect.defineProperty(target, key, Reflect.getOwnPropertyDescriptor(made, key)!);
      return true;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(loaded()),
    setPrototypeOf: (_target, prototype) => Reflect.setPrototypeOf(loaded(), prototype),
    isExtensible: () => {
      if (Reflect.isExtensible(loaded())) return true;
      closeTarget();
      return false;
    },
    preventExtensions: () => {
      if (!Reflect.preventExtensions(loaded())) return false;
      closeTarget();
      return true;
    },
  });
  return proxy;
}
