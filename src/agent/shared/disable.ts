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
