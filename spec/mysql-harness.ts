/**
 * A real MySQL-protocol server for tests (and the mysql2 bench): Debian's `mariadb-server`
 * (scripts/mariadb-install.sh installs it when missing), installed with `mariadb-install-db`
 * into a fresh temporary directory and run as a non-root system user (`scope-pg`, the one the
 * PostgreSQL harness uses, created when missing) on 127.0.0.1 at a free port and on a unix
 * socket in that directory. `stop()` stops it and removes the directory; a watchdog does the
 * same for a test process that is killed or ends without calling it. Tuned for speed, not
 * durability (no fsync, no binary log, no performance schema, a small buffer pool): up in
 * well under a second after a ~1.5 s install.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asServiceUser, ensureServiceUser, freePort, isRoot, run, shellQuote, watchdog } from "./service-harness";

export interface MySql {
  host: string;
  port: number;
  /** The server's unix socket. */
  socketPath: string;
  user: string;
  database: string;
  /** Runs SQL through the mariadb client (as root, in `database`); returns stdout (tab-separated, no headers). Throws on error. */
  sql(text: string): string;
  stop(): void;
}

const database = "scope";

function which(name: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (found) return found;
  for (const dir of ["/usr/sbin", "/usr/bin"]) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a fresh server; throws with one clear line when MariaDB is not installed. */
export async function startMySql(): Promise<MySql> {
  const installDb = which("mariadb-install-db");
  const server = which("mariadbd");
  const client = which("mariadb");
  if (!installDb || !server || !client) throw new Error("MariaDB is not installed (mariadb-install-db/mariadbd not found); run scripts/mariadb-install.sh as root");
  const dir = mkdtempSync(join(tmpdir(), "scope-my-"));
  const data = join(dir, "data");
  const socketPath = join(dir, "mysqld.sock");
  const pidFile = join(dir, "mysqld.pid");
  const log = join(dir, "server.log");
  if (isRoot()) {
    const { uid, gid } = ensureServiceUser();
    chmodSync(dir, 0o755);
    chownSync(dir, uid, gid);
  }
  // The watchdog: once this process is gone, the server is killed and the directory removed.
  const guard = watchdog(`[ -f ${shellQuote(pidFile)} ] && kill -9 "$(cat ${shellQuote(pidFile)})" 2>/dev/null; sleep 0.2; rm -rf ${shellQuote(dir)}`);
  let child: ReturnType<typeof spawn> | undefined;
  const stop = () => {
    process.removeListener("exit", stop);
    guard.cancel();
    if (child && child.exitCode === null && child.signalCode === null) {
      // SIGKILL: nothing in it is worth keeping, and it ends at once. runuser's child is the server.
      try {
        const pid = Number(readFileSync(pidFile, "utf8").trim());
        if (pid > 0) process.kill(pid, "SIGKILL");
      } catch {
        // No pid file yet: the server did not get that far.
      }
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", stop);
  try {
    run(asServiceUser([installDb, "--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve", "--innodb-flush-method=nosync"]), "mariadb-install-db");
    const port = await freePort();
    child = spawn(
      asServiceUser([server])[0]!,
      [
        ...asServiceUser([server]).slice(1),
        "--no-defaults",
        `--datadir=${data}`,
        `--socket=${socketPath}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        `--pid-file=${pidFile}`,
        `--log-error=${log}`,
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-flush-method=nosync",
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=8M",
        "--skip-log-bin",
        "--performance-schema=0",
        "--max-connections=100",
        // A client under valgrind can take longer than the default 10 s over its handshake.
        "--connect-timeout=300",
      ],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 60_000;
    const sql = (text: string) => run([client, "--no-defaults", `--socket=${socketPath}`, "-uroot", "-N", "-B", "-e", text, ...(text.startsWith("create database") ? [] : [database])], "mariadb");
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mariadbd exited (${child.exitCode ?? child.signalCode})`);
      if (existsSync(socketPath) && spawnSync(client, ["--no-defaults", `--socket=${socketPath}`, "-uroot", "-e", "select 1"], { stdio: "ignore" }).status === 0) break;
      if (Date.now() > deadline) throw new Error("mariadbd did not answer within 60 s");
      await sleep(50);
    }
    sql(`create database ${database}`);
    return { host: "127.0.0.1", port, socketPath, user: "root", database, sql, stop };
  } catch (error) {
    const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : "";
    stop();
    throw new Error(`${(error as Error).message}${tail ? `\nserver log:\n${tail}` : ""}`);
  }
}
