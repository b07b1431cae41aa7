/**
 * `scope run --functions`: the summary's line when ES module hooks threads scope started moved
 * the program's worker threadIds (Node 20, Node 22 before 22.15: module.register's thread takes
 * the next id, one in a thread where an ES module may load and one in each worker, so an ES
 * module program's first Worker is threadId 2, not 1, and a CommonJS program's three workers
 * are 1, 3, 5, not 1, 2, 3; the trace names them so). Read from the closed trace's
 * thread_spawn records, which the agent flags (ThreadSpawnFlag.afterScopeHooksThread); said
 * once, naming the processes.
 */
import type { ChalkInstance } from "chalk";
import { EventKind, Offset, ThreadSpawnFlag } from "../core/layout";
import { recordsOfKind } from "./trace-kind";

export function hooksThreadLines(path: string, color: ChalkInstance): string[] {
  const pids = new Set<number>();
  recordsOfKind(path, EventKind.thread_spawn, (_batch, offset, view) => {
    if ((view.getUint16(offset + Offset.flags, true) & ThreadSpawnFlag.afterScopeHooksThread) !== 0) pids.add(view.getUint32(offset + Offset.pid, true));
  });
  if (pids.size === 0) return [];
  const list = [...pids].slice(0, 5).join(", ") + (pids.size > 5 ? ", ..." : "");
  return [color.yellow(`  --functions: worker threadIds are higher than the program sees untraced (the trace's worker#N too): ES module hooks threads scope started took ids (module.register, one in a thread that may load an ES module and one in each worker; Node 22.15+ and 24 instrument ES modules in-thread and keep them) (pid ${list})`)];
}
