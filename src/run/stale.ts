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

/** Whether process `pid` maps `path` (its /proc/<pid>/maps names it); undefined when that cannot be read (another user's, or gone). */
function maps(pid: number, path: string): boolean | undefined {
  try {
    return readFileSync(`/proc/${pid}/maps`, "utf8").includes(` ${path}\n`);
  } catch {
    return undefined;
  }
}

/**
 * The `scope run` processes that are recording now: the live collectors named by the ring
 * files (one per run), with their command lines, the ring file's owner (`uid`), and for one
 * whose recording stopped already (scope stop, a limit, a failed write) why (`stopReason`,
 * a StopReason; 0 while recording). A run is listed only when the process its ring names
 * maps that ring: a ring left by a killed collector whose pid now belongs to another
 * process names no run (a signal to it would end that process). Only rings of this user
 * (the caller's uid owns the file), unless `anyOwner` (scope stop with a pid).
 */
export function runningCollectors(dir = shmDir, options: { anyOwner?: boolean } = {}): { pid: number; command: string; stopReason: number; uid: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const ownUid = process.getuid?.();
  const runs = new Map<number, { stopReason: number; uid: number }>();
  for (const name of names) {
    const match = ringFileName.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    const path = join(dir, name);
    let uid: number;
    try {
      uid = lstatSync(path).uid;
    } catch {
      continue;
    }
    if (!options.anyOwner && ownUid !== undefined && uid !== ownUid) continue;
    if (!alive(pid)) continue;
    // Another user's process cannot be looked into (not root): its own ring is believed,
    // and the signal's EPERM says the rest.
    const mapped = maps(pid, path);
    if (mapped === false || (mapped === undefined && uid === ownUid)) continue;
    const stopReason = ringStopReason(path);
    if (stopReason === undefined) continue;
    runs.set(pid, { stopReason, uid });
  }
  return [...runs].map(([pid, { stopReason, uid }]) => {
    let command = "";
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch {
      // Gone since: listed anyway; the signal will say.
    }
    return { pid, command, stopReason, uid };
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
