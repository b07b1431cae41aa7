/**
 * Whether one of Node's built-in modules was already loaded in this thread, read from
 * Node's own list without loading anything. `ifUnknown`: the answer where the list is not
 * there (another runtime, a future Node).
 */
export function builtinLoaded(id: string, ifUnknown = false): boolean {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  return Array.isArray(list) ? list.includes(`NativeModule ${id}`) : ifUnknown;
}
