/**
 * What /proc says about a running process: CPU time (all its threads, dead ones
 * included) and resident memory. Linux only; the figures are what REFERENCE-FIGURES
 * recommends judging overhead by on noisy machines.
 */
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux ABI we run on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  const text = readOrUndefined(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: split after its last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

export interface Memory {
  rssBytes: number;
  peakRssBytes: number;
  /**
   * The resident set split (RssAnon, RssFile + RssShmem): anonymous pages are the process's
   * own (heaps, stacks); file pages are mapped files (the node binary's code, paged in as
   * code paths first run and out under memory pressure) and shared memory (the ring).
   */
  anonBytes: number;
  fileBytes: number;
}

/**
 * Current and peak resident set of a process, or undefined when it is gone (no
 * /proc entry, or a zombie: exited, not yet reaped, its status without memory lines).
 */
export function memory(pid: number | "self"): Memory | undefined {
  const text = readOrUndefined(`/proc/${pid}/status`);
  if (text === undefined) return undefined;
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN) * 1024;
  const rssBytes = kib("VmRSS");
  if (!(rssBytes > 0)) return undefined;
  return { rssBytes, peakRssBytes: kib("VmHWM"), anonBytes: kib("RssAnon"), fileBytes: kib("RssFile") + kib("RssShmem") };
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
