/**
 * Small reflection helpers every hook module needs; none of them runs program code (no
 * getter is called, no Proxy trap is hit beyond a descriptor read).
 */

/** `replacement` with the name and length of the function it replaces, so the program sees the same shape. */
export function renamed<T extends (...args: never[]) => unknown>(original: unknown, replacement: T): T {
  const source = original as { name: string; length: number };
  // Already the same (a named wrapper of the same arity): left as V8 made it. Defining
  // either property turns the wrapper's map into a dictionary (a function's map is a root
  // map: V8 normalises it, ~10 a worker; BENCHMARKS.md "Fourteenth look"). Not for an empty
  // name: an anonymous wrapper's frames would then read its inferred name.
  if (source.name !== "" && replacement.name === source.name && replacement.length === source.length) return replacement;
  Object.defineProperty(replacement, "name", { value: source.name, configurable: true });
  Object.defineProperty(replacement, "length", { value: source.length, configurable: true });
  return replacement;
}

/** V8's major version (11: Node 20, 12: Node 22, 13: Node 24; Bun reports one of its own). */
export const v8Major = Number.parseInt(process.versions.v8 ?? "", 10);

/**
 * Which reaction to a function's promise keeps the `at async …` frames of an error made inside
 * it (an error's stack is written when it is made, from the promises waiting on that function's):
 * V8 follows a pending promise only through a single reaction (a second one, beside the caller's
 * await, ends the walk there), so a wrapper hands on the promise of its own reaction; JavaScriptCore
 * (Bun) follows the await among several reactions and not through a plain reaction's promise, so a
 * wrapper leaves the promise as it was and reacts beside it. Frameworks.aroundStep.
 */
export const asyncFramesFollowOneReaction = typeof process.versions.bun !== "string";

/**
 * Whether V8 names an anonymous function's frame by the property that holds it on the
 * receiver (V8 12+: Node 22 and 24). There, a frame of a Node function scope replaced (its
 * property now holds scope's wrapper) reads `Module.<anonymous>` where untraced it reads
 * `Module._compile`; V8 11 (Node 20) names it by the name inferred from its source.
 */
export const framesNamedByReceiver = v8Major >= 12;

/**
 * The names keepFrameName gives Node's CommonJS loader functions, each with the key it is
 * found by untraced. V8 prints a named function's frame as `Type.name` (a name starting with
 * "." as it is): `Module._compile`, `Object..js`, `Function._load`, as untraced. A CallSite's
 * getFunctionName() is null for them untraced and getMethodName() the key, which callsites.ts
 * gives back where it sees every formatting (undefined: not one of them). Not a record of
 * calls: the agent's and the functions' bundles each hold a copy of this file. A switch, not a
 * Map made at the core's top level in every thread (BENCHMARKS.md "Worker start: the core's
 * top level made at first use").
 */
export function loaderFrameKey(frame: string): string | undefined {
  switch (frame) {
    case "_compile":
      return "_compile";
    case "Object..js":
      return ".js";
    case "_load":
      return "_load";
    default:
      return undefined;
  }
}

/**
 * Gives `original`, a function of Node's CommonJS loader that scope's wrapper replaces on
 * its holder, the name its frames carry untraced (`frame`, one of loaderFrameKey's names), when
 * it has none and V8 would otherwise name its frames `<anonymous>` (framesNamedByReceiver).
 * The original is reachable only through scope's wrapper, so only stack traces see the name.
 */
export function keepFrameName(original: unknown, frame: string): void {
  if (!framesNamedByReceiver || typeof original !== "function" || original.name !== "" || loaderFrameKey(frame) === undefined) return;
  try {
    Object.defineProperty(original, "name", { value: frame, configurable: true });
  } catch {
    // A frozen function: its frames read as before.
  }
}

/** A data property on the object or its prototypes (at most 8 deep), never running a getter. */
export function protoData(object: object, key: string): unknown {
  let current: object | null = object;
  for (let depth = 0; depth < 8 && current !== null; depth++) {
    const descriptor = Object.getOwnPropertyDescriptor(current, key);
    if (descriptor) return "value" in descriptor ? descriptor.value : undefined;
    current = Object.getPrototypeOf(current) as object | null;
  }
  return undefined;
}

/**
 * The `newTarget` a Proxy's construct trap hands on to `Reflect.construct(target, args, ...)`:
 * the target itself when the program called the Proxy (`new Worker()` with Worker the
 * agent's Proxy), else what it was given (a subclass of it). Same prototype and the same
 * object either way (a Proxy without a get trap reads `prototype` off its target), but
 * V8 11 (Node 20) caches the initial map of a derived construct on `newTarget` only when it
 * is a function: with the Proxy, every object it made started from a map of its own, each
 * property the constructor adds made a new map and transition, and every inline cache that
 * met such an object missed (a Worker: ~+0.12 M instructions on the main thread each, most
 * of what the Worker's Proxy cost; BENCHMARKS.md "The main thread's part of a worker start").
 * Node 22 and 24 share the map either way.
 */
export function constructTarget<T extends Function>(proxy: T, target: T, newTarget: Function): Function {
  return newTarget === proxy ? target : newTarget;
}

const functionCall = Function.prototype.call;

/**
 * `original` as a function of `(thisArg, ...args)` that calls it with that `this` and exactly
 * those arguments, reading nothing off `original` (Function.prototype.call, taken when the
 * agent loaded, bound to it: Node's primordials' uncurryThis; no frame of its own in a stack).
 * A wrapper calls it with its named parameters for the count it was called with
 * (`arguments.length`), and `Reflect.apply(original, this, arguments)` for any other count:
 * V8's Maglev tier, where a request's wrappers run for their first ~10,000 calls, makes the
 * arguments object for either, but forwards it to Reflect.apply through CallVarargs
 * (BENCHMARKS.md "Web: the agent's own cost a request").
 */
export function callerOf<R>(original: (this: never, ...args: never[]) => R): (thisArg: unknown, ...args: unknown[]) => R {
  return functionCall.bind(original as never) as never;
}
