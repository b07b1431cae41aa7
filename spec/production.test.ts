/**
 * `scope run` on a production-shaped service, as an operator would run it: node:http on
 * 127.0.0.1 under a keep-alive load, two worker threads and a forked child over IPC
 * (spec/fixtures/service). What goes wrong around it — the disk fills, the output cannot be
 * written, the collector is stopped or killed, the kill switch is pulled twice — never changes
 * an answer, never holds up the service's graceful shutdown past a bound, and is said in one
 * line. Every test stops by itself and removes its mounts and processes, failed or not.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTrace } from "../src/dump/load";
import { runningCollectors } from "../src/run/stale";
import { cliEntry, repoRoot } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-production-test-");
const fixtures = join(repoRoot, "spec/fixtures/service");
const isRoot = process.getuid?.() === 0;

interface Totals {
  ok: number;
  wrong: number;
  errors: number;
  maxMs: number;
}

/** A traced service: its scope run, the service's port and pid, its streams as they come. */
async function startService(dir: string, scopeArgs: string[]) {
  const ready = join(dir, "ready.json");
  const scope = Bun.spawn([process.execPath, cliEntry, "run", ...scopeArgs, "--", "node", join(fixtures, "service.cjs"), ready], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let stdout = "";
  let stderr = "";
  const collect = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  };
  const streams = Promise.all([collect(scope.stdout, (text) => (stdout += text)), collect(scope.stderr, (text) => (stderr += text))]);
  const deadline = Date.now() + 30_000;
  while (!existsSync(ready)) {
    if (Date.now() > deadline || scope.exitCode !== null) throw new Error(`the service did not start: ${stderr}`);
    await Bun.sleep(20);
  }
  const { port, pid } = JSON.parse(readFileSync(ready, "utf8")) as { port: number; pid: number };
  return {
    scope,
    port,
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    async ended() {
      const exitCode = await scope.exited;
      await streams;
      return { exitCode, stdout, stderr };
    },
    /** Whatever happened: scope continued, then scope and the service killed. */
    cleanUp() {
      for (const [target, signal] of [[scope.pid, "SIGCONT"], [pid, "SIGKILL"], [scope.pid, "SIGKILL"]] as const) {
        try {
          process.kill(target, signal);
        } catch {
          // gone already
        }
      }
    },
  };
}

/** Loads the service for `ms` on `connections` connections; every answer checked. */
async function load(port: number, ms: number, connections = 4): Promise<Totals> {
  const client = Bun.spawn(["node", join(fixtures, "load.cjs"), String(port), String(ms), String(connections)], { stdout: "pipe", stderr: "inherit" });
  const [text] = await Promise.all([new Response(client.stdout).text(), client.exited]);
  return JSON.parse(text) as Totals;
}

/** Milliseconds until `pid` has ended (gone, or a zombie its stopped or dead parent has not reaped). */
async function endedWithin(pid: number, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      break;
    }
    if (/^State:\s*[ZX]/m.test(status)) break;
    await Bun.sleep(5);
  }
  return performance.now() - started;
}

describe("the collector in trouble while the service is under load", () => {
  // Before: each thread and process that ended waited the whole 2 s stall bound for a collector
  // that drained nothing, one after the other (workers, the child, the main thread): ~7 s.
  test("SIGSTOPped: every answer right; a graceful shutdown during the stop waits one stall bound at most, not one per thread and process", async () => {
    const dir = tmp();
    const service = await startService(dir, ["--ring-size", "1MiB", "--out", join(dir, "t.bin")]);
    try {
      const loading = load(service.port, 2500);
      await Bun.sleep(800);
      process.kill(service.scope.pid, "SIGSTOP");
      const totals = await loading;
      expect({ wrong: totals.wrong, errors: totals.errors }).toEqual({ wrong: 0, errors: 0 });
      expect(totals.ok).toBeGreaterThan(100);
      process.kill(service.pid, "SIGTERM");
      const shutdownMs = await endedWithin(service.pid, 20_000);
      process.kill(service.scope.pid, "SIGCONT");
      const { exitCode, stdout, stderr } = await service.ended();
      expect(exitCode, stderr).toBe(0);
      expect(stdout).toBe("drained, 0 pending\n");
      // The bound is 2 s of no progress; the service alone shuts down in tens of milliseconds.
      expect(shutdownMs).toBeLessThan(4_000);
      expect(stderr).toMatch(/lost: \d+ dropped/);
      // The endings the stopped collector could not take are among those losses, and said so.
      expect(stderr).toMatch(/ends: 2 traced processes, process_exit recorded 0 by the process itself; .*by scope .*or its own lost with the records above/);
    } finally {
      service.cleanUp();
    }
  }, 60_000);

  test("SIGKILLed: every answer right, the service shuts down as untraced, its output whole", async () => {
    const dir = tmp();
    const service = await startService(dir, ["--out", join(dir, "t.bin")]);
    try {
      const loading = load(service.port, 2000);
      await Bun.sleep(600);
      process.kill(service.scope.pid, "SIGKILL");
      await service.scope.exited;
      const totals = await loading;
      expect({ wrong: totals.wrong, errors: totals.errors }).toEqual({ wrong: 0, errors: 0 });
      expect(totals.ok).toBeGreaterThan(100);
      // The service is on its own now: its stdout is the pipe scope run held, still open in it.
      process.kill(service.pid, "SIGTERM");
      expect(await endedWithin(service.pid, 20_000)).toBeLessThan(1_500);
      const { stdout } = await service.ended();
      expect(stdout).toBe("drained, 0 pending\n");
    } finally {
      service.cleanUp();
    }
  }, 60_000);
});

describe("the kill switch under load", () => {
  test("scope stop twice, then after the run ended: recording stops once, said at once in scope run's stderr; the second is a no-op (exit 0); afterwards one line, exit 1", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const service = await startService(dir, ["--out", out]);
    const stop = (args: string[]) => {
      const result = Bun.spawnSync([process.execPath, cliEntry, "stop", ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
      return { exitCode: result.exitCode, stderr: result.stderr.toString() };
    };
    try {
      const loading = load(service.port, 2000);
      await Bun.sleep(500);
      const pid = String(service.scope.pid);
      expect(stop([pid])).toEqual({ exitCode: 0, stderr: `scope: recording stopped in scope run ${pid}; the program runs on\n` });
      // scope run says it in its own stderr, while the service runs (before any summary).
      const deadline = Date.now() + 5_000;
      while (!service.stderr().includes("scope: recording stopped") && Date.now() < deadline) await Bun.sleep(20);
      expect(service.stderr()).toBe("scope: recording stopped: scope stop (or SIGUSR2); the program runs on, unrecorded; the trace is closed when it ends\n");
      expect(stop([pid])).toEqual({ exitCode: 0, stderr: `scope: recording in scope run ${pid} had stopped already (scope stop (or SIGUSR2)); the program runs on\n` });
      const totals = await loading;
      expect({ wrong: totals.wrong, errors: totals.errors }).toEqual({ wrong: 0, errors: 0 });
      process.kill(service.scope.pid, "SIGTERM");
      const { exitCode, stdout, stderr } = await service.ended();
      expect(exitCode, stderr).toBe(0);
      expect(stdout).toBe("drained, 0 pending\n");
      expect(stderr.match(/recording stopped: scope stop/g)).toHaveLength(2); // the line, then the summary's
      expect(stop([pid])).toEqual({ exitCode: 1, stderr: `scope: pid ${pid} is not a running scope run (no ring in /dev/shm that it maps)\n` });
      const trace = loadTrace(out);
      expect(trace.error).toBeNull();
      expect(trace.end).not.toBeNull();
    } finally {
      service.cleanUp();
    }
  }, 60_000);
});

describe("limits reached under load", () => {
  test("--max-size and --duration: said at once in one line, every answer right, the trace closed and under the size", async () => {
    for (const limit of [["--max-size", "1MiB"], ["--duration", "1s"]]) {
      const dir = tmp();
      const out = join(dir, "t.bin");
      const service = await startService(dir, [...limit, "--out", out]);
      try {
        const totals = await load(service.port, 2500);
        expect({ limit, wrong: totals.wrong, errors: totals.errors }).toEqual({ limit, wrong: 0, errors: 0 });
        const said = limit[0] === "--max-size" ? "--max-size reached" : "--duration elapsed";
        const deadline = Date.now() + 5_000;
        while (!service.stderr().includes("\n") && Date.now() < deadline) await Bun.sleep(20);
        expect(service.stderr()).toBe(`scope: recording stopped: ${said}; the program runs on, unrecorded; the trace is closed when it ends\n`);
        process.kill(service.scope.pid, "SIGTERM");
        const { exitCode, stdout, stderr } = await service.ended();
        expect(exitCode, stderr).toBe(0);
        expect(stdout).toBe("drained, 0 pending\n");
        expect(stderr).toContain(`recording stopped: ${said} after`);
        const trace = loadTrace(out);
        expect(trace.error).toBeNull();
        expect(trace.end).not.toBeNull();
        if (limit[0] === "--max-size") expect(statSync(out).size).toBeLessThanOrEqual(1 << 20);
      } finally {
        service.cleanUp();
      }
    }
  }, 60_000);
});

test("scope stop's view of the runs: each ring's stop reason read from its header, attach's control files not counted as rings; a ring whose pid does not map it (a reused pid) names no run; another user's ring only with a pid", async () => {
  const dir = tmp();
  const header = (stopReason: number) => {
    const bytes = Buffer.alloc(4096);
    bytes.write("SCOPERNG", 0, "latin1");
    bytes.writeUInt32LE(stopReason, 120);
    return bytes;
  };
  const children: { kill(): void }[] = [];
  /** A process that writes the ring its pid names and maps it, as a collector does; its pid. */
  const collector = async (stopReason: number) => {
    const script = `const path = process.argv[1] + "/scope-" + process.pid + "-0123456789ab"; require("node:fs").writeFileSync(path, Buffer.from(process.argv[2], "base64")); globalThis.ring = Bun.mmap(path); console.log("mapped"); setInterval(() => {}, 1000);`;
    const child = Bun.spawn([process.execPath, "-e", script, dir, header(stopReason).toString("base64")], { stdout: "pipe" });
    children.push(child);
    const reader = child.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    return child.pid;
  };
  try {
    const recording = await collector(0);
    const stopped = await collector(1);
    // scope attach's control file beside a ring is no ring: it does not count.
    writeFileSync(join(dir, `scope-${stopped}-0123456789ab.control`), "");
    // A ring left by a killed collector whose pid now belongs to another process (here a
    // sleep, alive and this user's): it maps no ring, so it is no run (SIGUSR2 would end it).
    const reused = Bun.spawn(["sleep", "30"]);
    children.push(reused);
    writeFileSync(join(dir, `scope-${reused.pid}-0123456789ab`), header(0));
    const byPid = (x: { pid: number }, y: { pid: number }) => x.pid - y.pid;
    const runs = runningCollectors(dir).map(({ pid, stopReason }) => ({ pid, stopReason }));
    expect(runs.sort(byPid)).toEqual([{ pid: recording, stopReason: 0 }, { pid: stopped, stopReason: 1 }].sort(byPid));
    if (isRoot) {
      // Another user's ring (its file's owner): not this user's run, unless named by its pid.
      Bun.spawnSync(["chown", "65534", join(dir, `scope-${recording}-0123456789ab`)]);
      expect(runningCollectors(dir).map(({ pid }) => pid)).toEqual([stopped]);
      const all = runningCollectors(dir, { anyOwner: true }).map(({ pid, uid }) => ({ pid, uid }));
      expect(all.sort(byPid)).toEqual([{ pid: recording, uid: 65534 }, { pid: stopped, uid: 0 }].sort(byPid));
    }
  } finally {
    for (const child of children) child.kill();
  }
});

/** A tmpfs of `options` mounted at a new directory under `dir` for `body`; unmounted after, whatever happens. */
async function withMount<T>(dir: string, options: string, body: (mount: string) => Promise<T>): Promise<T> {
  const mount = join(dir, "mnt");
  mkdirSync(mount);
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", options, "tmpfs", mount]);
  if (mounted.exitCode !== 0) throw new Error(`mount: ${mounted.stderr}`);
  try {
    return await body(mount);
  } finally {
    Bun.spawnSync(["umount", "-l", mount]);
  }
}

describe.skipIf(!isRoot)("the output's file system (mounts need root; CI runs as root)", () => {
  test("the disk fills while tracing: the service answers on, one line says it at once, the trace reads up to there, the exit code is the program's", async () => {
    const dir = tmp();
    await withMount(dir, "size=2m", async (mount) => {
      const out = join(mount, "t.bin");
      const service = await startService(dir, ["--out", out]);
      try {
        // Load until the disk is full (a loaded machine serves fewer requests a second), and a second more.
        const totals: Totals = { ok: 0, wrong: 0, errors: 0, maxMs: 0 };
        let full = 0;
        for (let round = 0; round < 20 && full < 2; round++) {
          const more = await load(service.port, 1000);
          for (const key of ["ok", "wrong", "errors"] as const) totals[key] += more[key];
          if (service.stderr().includes("\n")) full++;
        }
        expect({ wrong: totals.wrong, errors: totals.errors }).toEqual({ wrong: 0, errors: 0 });
        expect(totals.ok).toBeGreaterThan(100);
        // Said while the service runs on, before anything else of scope's.
        expect(service.stderr()).toBe("scope: recording stopped: writing the trace failed (no space left on the device: the disk is full); the program runs on; the file keeps every record written before\n");
        process.kill(service.scope.pid, "SIGTERM");
        const { exitCode, stdout, stderr } = await service.ended();
        expect(exitCode, stderr).toBe(0);
        expect(stdout).toBe("drained, 0 pending\n");
        expect(stderr).toContain("recording stopped: writing the trace failed (no space left on the device: the disk is full) after");
        expect(stderr).toContain("and its end chunk (room was kept for it)");
        // The room kept ahead (fallocate) took the collector's last records and the end chunk.
        const trace = loadTrace(out);
        expect(trace.error).toBeNull();
        expect(trace.end).not.toBeNull();
        expect(trace.records.length).toBeGreaterThan(1000);
        // Readers use all of it, a closed trace: nothing to say about its end.
        const dump = Bun.spawnSync([process.execPath, cliEntry, "dump", "--stats", out], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
        expect(dump.exitCode).toBe(0);
        expect(dump.stderr.toString()).not.toContain("not closed");
      } finally {
        service.cleanUp();
      }
    });
  }, 60_000);

  test("a read-only file system: one line that says so, exit 1; --fail-open runs the program untraced with its own exit code", async () => {
    const dir = tmp();
    await withMount(dir, "ro", async (mount) => {
      const out = join(mount, "t.bin");
      const run = (extra: string[]) => {
        const result = Bun.spawnSync([process.execPath, cliEntry, "run", ...extra, "--out", out, "--", "node", "-e", "console.log('ran'); process.exitCode = 4"], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
        return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
      };
      expect(run([])).toEqual({ exitCode: 1, stdout: "", stderr: `scope: error: cannot trace: ${out}: cannot create trace: read-only file system (--fail-open runs the program untraced instead)\n` });
      expect(run(["--fail-open"])).toEqual({
        exitCode: 4,
        stdout: "ran\n",
        stderr: `scope: cannot trace (${out}: cannot create trace: read-only file system); --fail-open: the program runs untraced, no trace is written\n`,
      });
    });
  }, 60_000);
});
