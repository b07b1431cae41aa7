/**
 * A real PostgreSQL server for tests (and the `web` bench workload): Debian's `postgresql`
 * package (scripts/postgres-install.sh installs it when missing), initialised into a fresh
 * temporary directory and run as a non-root system user (`scope-pg`, created when missing;
 * PostgreSQL refuses to run as root) on 127.0.0.1 at a free port and on a unix socket in
 * that directory. `stop()` stops it and removes the directory; an 'exit' listener does the
 * same for a test process that ends without calling it. Tuned for speed, not durability
 * (no fsync, trust authentication on loopback only).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { asServiceUser, ensureServiceUser, freePort, isRoot, run, shellQuote, watchdog } from "./service-harness";

export interface Postgres {
  host: string;
  port: number;
  /** The directory holding the unix socket (`.s.PGSQL.<port>`). */
  socketDir: string;
  user: string;
  database: string;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** Runs SQL through psql (as the superuser); returns stdout. Throws on error. */
  psql(sql: string): string;
  stop(): void;
}

/** initdb, pg_ctl, psql: from PATH, else the newest /usr/lib/postgresql/<version>/bin. */
export function postgresBinDir(): string | undefined {
  // PATH may hold symlinks to a few of them only (/usr/local/bin/pg_ctl): their real directory has all.
  const fromPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  const dir = fromPath ? dirname(realpathSync(fromPath)) : undefined;
  if (dir && ["initdb", "pg_ctl", "psql"].every((name) => existsSync(join(dir, name)))) return dir;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, "bin", "pg_ctl")))
    .sort((x, y) => Number(y) - Number(x));
  return versions.length ? join(root, versions[0]!, "bin") : undefined;
}

/** Starts a fresh server; throws with one clear line when PostgreSQL is not installed. */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (initdb/pg_ctl not found); run scripts/postgres-install.sh as root");
  const dir = mkdtempSync(join(tmpdir(), "scope-pg-"));
  const data = join(dir, "data");
  const socketDir = join(dir, "run");
  mkdirSync(socketDir);
  if (isRoot()) {
    const { uid, gid } = ensureServiceUser();
    chmodSync(dir, 0o755);
    chownSync(dir, uid, gid);
    chownSync(socketDir, uid, gid);
  }
  let started = false;
  // A watchdog outlives a test process that is killed or ends without stop() (Bun's test
  // runner does not run 'exit' listeners): once this pid is gone it stops the server and
  // removes the directory, then ends.
  const pgCtlStop = asServiceUser([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]).map(shellQuote).join(" ");
  const guard = watchdog(`[ -f ${shellQuote(join(data, "postmaster.pid"))} ] && ${pgCtlStop} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`);
  const stop = () => {
    process.removeListener("exit", stop);
    guard.cancel();
    if (started) {
      started = false;
      const argv = asServiceUser([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
      const result = spawnSync(argv[0]!, argv.slice(1), { timeout: 30_000 });
      if (result.status !== 0) killPostmaster(data);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", stop);
  try {
    run(asServiceUser([join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]), "initdb");
    const port = await freePort();
    const options = [
      `-p ${port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${socketDir}`,
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c max_connections=50",
      "-c shared_buffers=16MB",
    ].join(" ");
    started = true;
    run(asServiceUser([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "server.log"), "-o", options, "-w", "-t", "60", "start"]), "pg_ctl start");
    const psql = (sql: string) => run([join(bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-At", "-c", sql], "psql");
    return { host: "127.0.0.1", port, socketDir, user: "postgres", database: "postgres", url: `postgres://postgres@127.0.0.1:${port}/postgres`, psql, stop };
  } catch (error) {
    const log = join(dir, "server.log");
    const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : "";
    stop();
    throw new Error(`${(error as Error).message}${tail ? `\nserver log:\n${tail}` : ""}`);
  }
}

/** When pg_ctl cannot stop it: the postmaster's pid is the first line of postmaster.pid. */
function killPostmaster(data: string): void {
  try {
    const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    if (pid > 0) process.kill(pid, "SIGQUIT");
  } catch {
    // Already gone.
  }
}
