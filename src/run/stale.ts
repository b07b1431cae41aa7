/**
 * Rings left in /dev/shm by a collector that was killed (SIGKILL, OOM) are removed by
 * the next `scope run`: a ring is named scope-<collector pid>-<random>; one whose
 * collector no longer runs and that no process still maps (a traced program can outlive
 * its collector, and its new children must still attach) is garbage. Only our own
 * files are touched.
 */
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pidAlive as alive } from "../core/pid";

const shmDir = "/dev/shm";
/** A ring, or scope attach's control and answer files beside it (session.ts, agent.ts: .control, .ack, .ack.<tid>, and their .<seq> temporaries). */
const ringName = /^scope-(\d+)-[0-9a-f]+(?:\.(?:control|ack)(?:\.\d+){0,2})?$/;

/** Paths under `dir` that some process has mapped, from /proc/<pid>/maps. */
function mappedUnder(dir: string): Set<string> {
  const mapped = new Set<string>();
  const prefix = `${dir}/scope-`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let maps: string;
    try {
      maps = readFileSync(`/proc/${entry}/maps`, "utf8");
    } catch {
      continue; // gone, or not ours to read
    }
    for (let at = maps.indexOf(prefix); at !== -1; at = maps.indexOf(prefix, at + 1)) {
      const end = maps.indexOf("\n", at);
      mapped.add(maps.slice(at, end === -1 ? undefined : end).replace(/ \(deleted\)$/, ""));
    }
  }
  return mapped;
}

/** A ring's file itself (not scope attach's control and answer files beside it). */
const ringFileName = /^scope-(\d+)-[0-9a-f]+$/;
/** zig/ring.zig Header: the magic at 0, `stop_reason` (u32) at 120. */
const ringMagic = "SCOPERNG";
const stopReasonOffset = 120;

/** The ring's stop reason (0: recording), or undefined when the file is not a ring's. */
function ringStopReason(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const header = Buffer.alloc(stopReasonOffset + 4);
    if (readSync(fd, header, 0, header.length, 0) !== header.length) return undefined;
    if (header.toString("latin1", 0, 8) !== ringMagic) return undefined;
    return header.readUInt32LE(stopReasonOffset);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The `scope run` processes of this user that are recording now: the live collectors
 * named by this user's ring files (one per run), with their command lines, and for one
 * whose recording stopped already (scope stop, a limit, a failed write) why (`stopReason`,
 * a StopReason; 0 while recording).
 */
export function runningCollectors(dir = shmDir): { pid: number; command: string; stopReason: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const pids = new Map<number, number>();
  for (const name of names) {
    const match = ringName.exec(name);
    if (match === null || !alive(Number(match[1]))) continue;
    try {
      if (uid !== undefined && lstatSync(join(dir, name)).uid !== uid) continue;
    } catch {
      continue;
    }
    const pid = Number(match[1]);
    const stopReason = ringFileName.test(name) ? ringStopReason(join(dir, name)) : undefined;
    if (!pids.has(pid) || stopReason !== undefined) pids.set(pid, stopReason ?? pids.get(pid) ?? 0);
  }
  return [...pids].map(([pid, stopReason]) => {
    let command = "";
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch {
      // Gone since: listed anyway; the signal will say.
    }
    return { pid, command, stopReason };
  });
}

/** Returns the paths it removed. */
export function removeStaleRings(dir = shmDir): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  const orphans = names.filter((name) => {
    const match = ringName.exec(name);
    return match !== null && !alive(Number(match[1]));
  });
  if (orphans.length === 0) return removed;
  const mapped = mappedUnder(dir);
  for (const name of orphans) {
    const path = join(dir, name);
    if (mapped.has(path)) continue;
    try {
      if (uid !== undefined && lstatSync(path).uid !== uid) continue;
      rmSync(path, { force: true });
      removed.push(path);
    } catch {
      // Raced with another scope, or not ours to remove: leave it.
    }
  }
  return removed;
}
