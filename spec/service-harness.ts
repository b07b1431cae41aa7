/**
 * What the real servers' harnesses (spec/postgres-harness.ts, mysql-harness.ts,
 * redis-harness.ts) share: commands run to completion, the non-root system user the
 * database servers run as (PostgreSQL and MariaDB refuse root), a free loopback port, and
 * the watchdog that cleans up after a test process that is killed or ends without stop()
 * (Bun's test runner runs no 'exit' listeners).
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";

/** The system user the database servers run as when the tests run as root; created once. */
export const SERVICE_USER = "scope-pg";

/** Runs `argv` to its end (60 s at most); its stdout, or an error naming `what` with its output. */
export function run(argv: string[], what: string): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${what} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout || result.error}`);
  return result.stdout;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** SERVICE_USER's ids, the user created when missing (root only). */
export function ensureServiceUser(): { uid: number; gid: number } {
  let entry = spawnSync("getent", ["passwd", SERVICE_USER], { encoding: "utf8" }).stdout.trim();
  if (!entry) {
    run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER], `useradd ${SERVICE_USER}`);
    entry = spawnSync("getent", ["passwd", SERVICE_USER], { encoding: "utf8" }).stdout.trim();
  }
  const [, , uid, gid] = entry.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** `argv` run as SERVICE_USER when we are root. */
export function asServiceUser(argv: string[]): string[] {
  return isRoot() ? ["runuser", "-u", SERVICE_USER, "--", ...argv] : argv;
}

/** A port free on 127.0.0.1 just now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * A shell that outlives this process: once this pid is gone it runs `cleanup` (shell code:
 * stop the server, remove its directory) and ends. `cancel()` when stop() did it already.
 */
export function watchdog(cleanup: string): { cancel(): void } {
  const shell = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${cleanup}`], { detached: true, stdio: "ignore" });
  shell.unref();
  return {
    cancel() {
      try {
        if (shell.pid) process.kill(shell.pid);
      } catch {
        // Already ended.
      }
    },
  };
}
