/**
 * Small reflection helpers every hook module needs; none of them runs program code (no
 * getter is called, no Proxy trap is hit beyond a descriptor read).
 */

/** `replacement` with the name and length of the function it replaces, so the program sees the same shape. */
export function renamed<T extends (...args: never[]) => unknown>(original: unknown, replacement: T): T {
  const source = original as { name: string; length: number };
  Object.defineProperty(replacement, "name", { value: source.name, configurable: true });
  Object.defineProperty(replacement, "length", { value: source.length, configurable: true });
  return replacement;
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
