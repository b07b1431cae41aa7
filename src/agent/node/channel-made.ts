/**
 * Waiting for a built-in module by the diagnostics channel it makes at its top level. Every
 * module of Node's that publishes on a channel gets it once, at its top level, through
 * `diagnostics_channel.channel(name)` read off the module's exports at the call (node:net,
 * `_http_server`, `_http_client`, Node's undici behind fetch, npm's undici for HTTP's
 * channels; `internal/child_process` for 'child_process'; Node 20, 22, 24), however the
 * program reached the module (require, an ES module's import, `import()`, a dependency).
 * Until then `channel` is one wrapper (same name and length) that returns what Node's
 * returns and, at a name a waiter named, calls that waiter once: before the module's first
 * publish. With no waiter left it puts Node's function back. A worker that never reaches
 * such a module makes no subscription for it (each `subscribe` compiled Node's subscribe,
 * incRef, markActive and a WeakReference in every worker: BENCHMARKS.md "Worker start by
 * wstart"). Seen by a program until then: `diagnostics_channel.channel` is scope's function
 * (an ES module's named import of it is Node's; an invalid name's error has the wrapper's
 * frame above Node's).
 */
import { renamed } from "../shared/reflect";

type Channels = typeof import("node:diagnostics_channel");

interface Waiter {
  names: readonly unknown[];
  made: () => void;
}

/** The waiters of the wrapper in place, if one is. */
let waiting: Waiter[] | undefined;

/**
 * Calls `made` (which must not throw) once, when `channels.channel` is first called with one
 * of `names`, after Node's returned. False where it cannot wait (no `channel` function):
 * the caller then does at once what `made` would.
 */
export function whenChannelMade(channels: Channels, names: readonly unknown[], made: () => void): boolean {
  if (waiting === undefined) {
    const original = channels.channel;
    if (typeof original !== "function") return false;
    const list: Waiter[] = [];
    const wrapper = renamed(original, function channel(this: unknown, name: unknown) {
      const result = Reflect.apply(original, this, arguments) as unknown;
      for (let i = 0; i < list.length; ) {
        const waiter = list[i] as Waiter;
        if (waiter.names.includes(name)) {
          list.splice(i, 1);
          waiter.made();
        } else i++;
      }
      if (list.length === 0 && waiting === list) {
        waiting = undefined;
        if (channels.channel === wrapper) channels.channel = original;
      }
      return result;
    } as typeof original);
    channels.channel = wrapper;
    waiting = list;
  }
  waiting.push({ names, made });
  return true;
}
