/**
 * Rings left in /dev/shm by a collector that was killed (SIGKILL, OOM) are removed by
 * the next `scope run`: a ring is named scope-<collector pid>-<random>, and one whose
 * collector no longer runs has no reader. Only our own files are touched.
 */
import { lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const shmDir = "/dev/shm";
const ringName = /^scope-(\d+)-[0-9a-f]+$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
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
  for (const name of names) {
    const match = ringName.exec(name);
    if (!match || alive(Number(match[1]))) continue;
    const path = join(dir, name);
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
