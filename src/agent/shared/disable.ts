/**
 * The deployment kill switch: when the file named by SCOPE_DISABLE_FILE exists as a
 * process (or worker) starts, its agent installs nothing at all, as if not preloaded.
 * One stat per start; any error reading it counts as "not there".
 */
export function disabledByFile(env: Record<string, string | undefined>): boolean {
  const file = env.SCOPE_DISABLE_FILE;
  if (!file) return false;
  try {
    return (require("node:fs") as typeof import("node:fs")).existsSync(file);
  } catch {
    return false;
  }
}

/**
 * Whether a ring that could not be attached to belongs to a recording that has ended: the
 * file is gone and the collector named in it (`scope-<pid>-<random>`, src/run/session.ts)
 * no longer runs. A traced program can outlive its `scope run` (a detached child, a
 * daemon); the Node or Bun processes it starts afterwards inherit NODE_OPTIONS/BUN_OPTIONS
 * and run untraced without a line on their stderr, which the program may read or check.
 */
export function recordingEnded(ringPath: string | undefined): boolean {
  const collector = ringPath === undefined ? null : /\/scope-(\d+)-[0-9a-f]+$/.exec(ringPath);
  if (collector === null) return false;
  try {
    if ((require("node:fs") as typeof import("node:fs")).existsSync(ringPath!)) return false;
    process.kill(Number(collector[1]), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
