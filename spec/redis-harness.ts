/**
 * A real Redis server for tests (and the Redis bench): Debian's `redis-server` package
 * (scripts/redis-install.sh installs it when missing), run in a fresh temporary directory on
 * 127.0.0.1 at a free port and on a unix socket in that directory, with no persistence (no
 * RDB snapshots, no append-only file). `stop()` stops it and removes the directory; a
 * watchdog shell does the same once the test process is gone (Bun's test runner runs no
 * 'exit' listeners, and a killed process runs none).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, shellQuote, watchdog } from "./service-harness";

export interface RedisServer {
  host: string;
  port: number;
  /** The unix socket's path. */
  socket: string;
  /** redis://127.0.0.1:<port> */
  url: string;
  /** Runs one command through redis-cli; returns its output (trimmed). Throws on failure. */
  cli(...args: string[]): string;
  stop(): void;
}

function serverBinary(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
  return found || undefined;
}

/** Whether the server answers PING on the port. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

/** Starts a fresh server; throws with one clear line when Redis is not installed. */
export async function startRedis(): Promise<RedisServer> {
  const bin = serverBinary();
  if (!bin) throw new Error("Redis is not installed (redis-server not found); run scripts/redis-install.sh as root");
  const dir = mkdtempSync(join(tmpdir(), "scope-redis-"));
  const socket = join(dir, "redis.sock");
  const log = join(dir, "server.log");
  const port = await freePort();
  const server: ChildProcess = spawn(
    bin,
    ["--port", String(port), "--bind", "127.0.0.1", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", log, "--protected-mode", "no"],
    { stdio: "ignore" },
  );
  server.unref();
  // The watchdog: once this process is gone, the server is ended and its directory removed.
  const guard = watchdog(`kill -9 ${server.pid} 2>/dev/null; rm -rf ${shellQuote(dir)}`);
  let running = true;
  const stop = () => {
    if (!running) return;
    running = false;
    guard.cancel();
    try {
      if (server.exitCode === null && server.pid) process.kill(server.pid, "SIGKILL");
    } catch {
      // Already ended.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!(await pings(port))) {
    if (server.exitCode !== null || Date.now() > deadline) {
      const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : "";
      stop();
      throw new Error(`redis-server did not start (${server.exitCode !== null ? `exit ${server.exitCode}` : "no PONG in 20 s"})${tail ? `\nserver log:\n${tail}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const cli = (...args: string[]) => {
    const result = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 30_000 });
    if (result.status !== 0) throw new Error(`redis-cli ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
    return result.stdout.trim();
  };
  return { host: "127.0.0.1", port, socket, url: `redis://127.0.0.1:${port}`, cli, stop };
}
