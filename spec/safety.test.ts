/**
 * Production safety nets through real `scope run`s: the limits (--max-events, --max-size,
 * --duration), the kill switch (`scope stop`, SIGUSR2) and the deployment switch
 * (SCOPE_DISABLE_FILE). Recording stops, the program runs on untouched, the trace says why.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadTrace } from "../src/dump/load";
import { cliEntry, readEvents, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-safety-test-");

/**
 * Round trips with a worker for `ms` milliseconds (or `count` of them), then prints how many
 * and exits 7: a program that keeps producing events after any stop.
 */
function pingPong(dir: string): string {
  const path = join(dir, "pingpong.js");
  writeFileSync(
    path,
    `const { Worker } = require("node:worker_threads");
const w = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
const { existsSync } = require("node:fs");
const [mode, amount] = [process.argv[2], process.argv[3]];
const until = Date.now() + Number(amount);
let n = 0;
w.on("message", () => {
  if (n++ === 0 && mode !== "count") console.log("started");
  const done = mode === "count" ? n === Number(amount) : mode === "file" ? existsSync(amount) : Date.now() > until;
  if (done) { console.log("round trips", mode === "count" ? n : n > 0); w.terminate().then(() => { process.exitCode = 7; }); }
  else setImmediate(() => w.postMessage({ n, at: "x".repeat(n % 7) }));
});
w.postMessage({ n: 0 });
`,
  );
  return path;
}

/**
 * A `scope run` in the background: `started()` resolves once the program printed "started"
 * (a loaded machine starts it late), `ended()` gives its whole stdout, stderr and status.
 */
function backgroundRun(args: string[], cwd = repoRoot) {
  const run = Bun.spawn([process.execPath, cliEntry, "run", ...args], { cwd, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  const reader = run.stdout.getReader();
  const decoder = new TextDecoder();
  let stdout = "";
  return {
    pid: run.pid,
    kill: (signal: NodeJS.Signals) => run.kill(signal),
    async started(): Promise<void> {
      while (!stdout.includes("started\n")) {
        const { value, done } = await reader.read();
        if (done) return;
        stdout += decoder.decode(value);
      }
    },
    async ended(): Promise<{ stdout: string; stderr: string; exitCode: number }> {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) stdout += decoder.decode(chunk.value);
      const [stderr, exitCode] = await Promise.all([new Response(run.stderr).text(), run.exited]);
      return { stdout, stderr, exitCode };
    },
  };
}

describe("recording limits: recording stops, the program runs on, the trace says why", () => {
  test("--max-events keeps exactly that many records, then the stop record; output and exit code untouched", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--max-events", "300", "--out", out, "--", "node", pingPong(dir), "count", "2000"]);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe("round trips 2000\n");
    expect(result.stderr).toContain("recording stopped: --max-events reached after 300 records; the program ran on");
    const trace = loadTrace(out);
    expect(trace.error).toBeNull();
    // 300 of the program's records, the collector's stop record, the top process's end.
    expect(trace.records.length).toBe(302);
    const events = readEvents(out);
    const stop = events.find((event) => event.kind === "recording_stop")!;
    expect(stop.fields.reason).toBe("maxEvents");
    expect(stop.fields.recordedBefore).toBe(300);
    expect(Number(stop.fields.refusedAfter)).toBeGreaterThanOrEqual(0);
    expect(events.at(-1)!.kind).toBe("child_exit");
    expect(events.at(-1)!.fields.code).toBe(7);
  });

  test("--max-size keeps the file under the size with its end chunk; the trace reads whole", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const limit = 96 * 1024;
    const result = await runCli(["run", "--max-size", "96KiB", "--out", out, "--", "node", pingPong(dir), "count", "5000"]);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe("round trips 5000\n");
    expect(result.stderr).toContain("recording stopped: --max-size reached");
    expect(statSync(out).size).toBeLessThanOrEqual(limit);
    expect(statSync(out).size).toBeGreaterThan(limit - 8 * 1024);
    const trace = loadTrace(out);
    expect(trace.error).toBeNull();
    const events = readEvents(out);
    expect(events.filter((event) => event.kind === "recording_stop").map((event) => event.fields.reason)).toEqual(["maxSize"]);
    expect(events.at(-1)!.kind).toBe("child_exit");
  });

  test("--duration stops recording after that long; nothing the program did later is kept", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--duration", "1s", "--out", out, "--", "node", pingPong(dir), "ms", "2500"]);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe("started\nround trips true\n");
    expect(result.stderr).toContain("recording stopped: --duration elapsed after");
    // The agents stop recording by themselves (uncounted): the summary never says "0 later records".
    expect(result.stderr).toMatch(/the program ran on, unrecorded \(\d+ records under way at the stop dropped\)\n/);
    const events = readEvents(out);
    const stop = events.find((event) => event.kind === "recording_stop")!;
    expect(stop.fields.reason).toBe("duration");
    // A second after scope started (the trace's own start), late only by a busy machine.
    const afterNs = stop.timestampNs - loadTrace(out).startNs;
    expect(Number(afterNs) / 1e6).toBeGreaterThanOrEqual(1000);
    expect(Number(afterNs) / 1e6).toBeLessThan(3000);
    const after = events.filter((event) => event.timestampNs > stop.timestampNs && event.kind !== "child_exit");
    expect(after).toEqual([]);
    expect(events.some((event) => event.kind === "process_exit")).toBe(false);
  });

  test("malformed limits are one-line usage errors", async () => {
    for (const [flag, value, message] of [
      ["--max-events", "many", "--max-events: expected a whole number"],
      ["--max-size", "1k", "--max-size: expected a size of at least 64KiB"],
      ["--duration", "5 parsecs", "--duration: expected a duration"],
    ] as const) {
      const result = await runCli(["run", flag, value, "--out", join(tmp(), "t.bin"), "--", "node", "-e", "console.log('ran')"]);
      expect(result.exitCode).not.toBe(0);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(message);
    }
  });
});

describe("the kill switch", () => {
  test("scope stop <pid>: recording stops at once, the program runs on and ends as untraced", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    // Round trips until the test says so: on a loaded machine a fixed time could end before `scope stop` starts.
    const enough = join(dir, "enough");
    const run = backgroundRun(["--out", out, "--", "node", pingPong(dir), "file", enough]);
    // Recording: the program has begun its round trips and the run's ring exists (mode 0600).
    await run.started();
    const ring = readdirSync("/dev/shm").find((name) => name.startsWith(`scope-${run.pid}-`))!;
    expect(statSync(join("/dev/shm", ring)).mode & 0o777).toBe(0o600);
    await Bun.sleep(200);
    const stop = await runCli(["stop", String(run.pid)]);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(stop.stderr).toBe(`scope: recording stopped in scope run ${run.pid}; the program runs on\n`);
    // The program goes on with its round trips (untraced) for a while, then ends.
    await Bun.sleep(500);
    writeFileSync(enough, "");
    const { stdout, stderr, exitCode } = await run.ended();
    expect(exitCode).toBe(7);
    expect(stdout).toBe("started\nround trips true\n");
    expect(stderr).toContain("recording stopped: scope stop (or SIGUSR2) after");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const events = readEvents(out);
    const marker = events.find((event) => event.kind === "recording_stop")!;
    expect(marker.fields.reason).toBe("killSwitch");
    expect(events.filter((event) => event.kind === "message_send").length).toBeGreaterThan(10);
    // Producers refuse from the stop on, so the ~1 s of round trips after it left (almost)
    // nothing in the ring for the collector to refuse.
    expect(Number(marker.fields.refusedAfter)).toBeLessThan(100);
    expect(events.filter((event) => event.timestampNs > marker.timestampNs && event.kind !== "child_exit")).toEqual([]);
  });

  test("--functions: SIGUSR2 stops function tracing mid-loop; the program's results are unchanged", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "calls.js");
    writeFileSync(
      program,
      `function square(x) { return x * x; }
let sum = 0, calls = 0;
const until = Date.now() + 900;
let first = true;
function batch() { for (let i = 0; i < 2000; i++) { sum += square(i % 10); calls++; } if (first) { first = false; console.log("started"); } if (Date.now() < until) setImmediate(batch); else console.log("sum", sum === calls / 10 * 285); }
batch();
`,
    );
    const run = backgroundRun(["--functions", "--out", out, "--", "node", program], dir);
    // Stopped once the program has run its first batch of calls.
    await run.started();
    run.kill("SIGUSR2");
    const { stdout, stderr, exitCode } = await run.ended();
    expect(exitCode, stderr).toBe(0);
    expect(stdout).toBe("started\nsum true\n");
    expect(stderr).toContain("recording stopped: scope stop (or SIGUSR2)");
    const events = readEvents(out);
    const marker = events.find((event) => event.kind === "recording_stop")!;
    expect(events.filter((event) => event.kind === "function_call").length).toBeGreaterThan(0);
    expect(Number(marker.fields.refusedAfter)).toBeLessThan(2000);
  });

  test("SIGUSR1 to a run without --flight-recorder: one line, recording and the program go on, the trace is closed", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const enough = join(dir, "enough");
    const run = backgroundRun(["--out", out, "--", "node", pingPong(dir), "file", enough]);
    await run.started();
    await Bun.sleep(200);
    run.kill("SIGUSR1");
    await Bun.sleep(300);
    writeFileSync(enough, "");
    const { stdout, stderr, exitCode } = await run.ended();
    expect(exitCode).toBe(7);
    expect(stdout).toBe("started\nround trips true\n");
    expect(stderr).toStartWith("scope: SIGUSR1 asks for a flight recorder write; this run has none (--flight-recorder): ignored\n");
    const trace = loadTrace(out);
    expect(trace.error).toBeNull();
    expect(trace.end).not.toBeNull();
    expect(readEvents(out).some((event) => event.kind === "process_exit")).toBe(true);
  });

  test("scope stop with nothing recording, or a pid that is not a scope run: one line, exit 1", async () => {
    const none = await runCli(["stop", String(process.pid)]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toBe(`scope: pid ${process.pid} is not a running scope run (no ring in /dev/shm that it maps)\n`);
    const bad = await runCli(["stop", "twelve"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe('scope: expected the pid of a scope run, got "twelve"\n');
  });
});

describe("SCOPE_DISABLE_FILE", () => {
  test("when the file exists at start, no agent installs anything, the program runs as untraced, scope says so", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const flag = join(dir, "scope-off");
    writeFileSync(flag, "");
    const result = await runCli(["run", "--out", out, "--", "node", pingPong(dir), "count", "50"], { env: { SCOPE_DISABLE_FILE: flag } });
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe("round trips 50\n");
    expect(result.stderr).toContain(`scope: ${flag} (SCOPE_DISABLE_FILE) exists: the agent installs nothing`);
    const events = readEvents(out);
    expect(events.map((event) => event.kind)).toEqual(["child_exit"]);
  });

  test("a SCOPE_DISABLE_FILE that does not exist changes nothing", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--out", out, "--", "node", pingPong(dir), "count", "50"], { env: { SCOPE_DISABLE_FILE: join(dir, "absent") } });
    expect(result.exitCode).toBe(7);
    expect(existsSync(join(dir, "absent"))).toBe(false);
    const events = readEvents(out);
    expect(events.filter((event) => event.kind === "message_send").length).toBe(100);
  });
});

describe("faults: counted, reported, never passed on", () => {
  test("a trace write that fails (a file size limit) stops recording; the program's output and exit code are untouched; the file reads up to there", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const run = backgroundRun(["--out", out, "--", "node", pingPong(dir), "ms", "3000"]);
    // Once recording, the scope process (not the program) gets a file size limit below what it will
    // write: room for four whole chunks of 4,096 records (256 KiB + a 64-byte header each), so the
    // collector's first batches (full chunks when it drains after an idle back-off) fit under it.
    while (!existsSync(out) || statSync(out).size === 0) await Bun.sleep(20);
    const limit = statSync(out).size + 4 * (256 * 1024 + 64);
    const limited = Bun.spawnSync(["prlimit", "--pid", String(run.pid), `--fsize=${limit}`]);
    expect(limited.exitCode, String(limited.stderr)).toBe(0);
    const { stdout, stderr, exitCode } = await run.ended();
    expect(exitCode).toBe(7);
    expect(stdout).toBe("started\nround trips true\n");
    // Said at once, with what failed, not only in the summary.
    expect(stderr).toContain("scope: recording stopped: writing the trace failed (the file size limit (ulimit -f) reached); the program runs on");
    expect(stderr).toContain("recording stopped: writing the trace failed (the file size limit (ulimit -f) reached) after");
    expect(stderr).toContain("the file holds every record written before, and its end chunk (room was kept for it)");
    const trace = loadTrace(out);
    // Every whole chunk before the failure reads, then the collector's own last records and
    // the end chunk: the writer stopped while they still fitted under the limit.
    expect(trace.error).toBeNull();
    expect(trace.end).not.toBeNull();
    expect(statSync(out).size).toBeLessThanOrEqual(limit);
    expect(trace.records.length).toBeGreaterThan(1000);
    const recorded = Number(/after (\d+) records/.exec(stderr)![1]);
    const events = readEvents(out);
    expect(events.filter((event) => event.kind === "recording_stop").map((event) => event.fields.reason)).toEqual(["writeError"]);
    // The program's records, then the collector's own (the stop, the top process's exit).
    expect(trace.records.length).toBeGreaterThanOrEqual(recorded + 1);
    expect(trace.records.length).toBeLessThanOrEqual(recorded + 4);
  });

  // A mount namespace with its own small or read-only /dev/shm needs root (CI runs as root).
  test.skipIf(process.getuid?.() !== 0)("/dev/shm full or read-only: one line and exit 1; --fail-open runs the program untraced with its own exit code", async () => {
    const dir = tmp();
    const scope = `'${process.execPath}' '${cliEntry}'`;
    for (const options of ["size=1m", "ro"]) {
      const script = [
        `mount -t tmpfs -o ${options} tmpfs /dev/shm`,
        `${scope} run --out '${join(dir, "t.bin")}' -- node -e 'console.log("ran"); process.exitCode = 4'; echo "status $?"`,
        `${scope} run --fail-open --out '${join(dir, "t.bin")}' -- node -e 'console.log("ran"); process.exitCode = 4'; echo "status $?"`,
      ].join("\n");
      const result = Bun.spawnSync(["unshare", "-m", "sh", "-c", script], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
      const stdout = result.stdout.toString();
      const stderr = result.stderr.toString();
      expect(stdout).toBe("status 1\nran\nstatus 4\n");
      const lines = stderr.trim().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^scope: error: cannot trace: ring create \/dev\/shm\/scope-\d+-[0-9a-f]+: .+ \(--fail-open runs the program untraced instead\)$/);
      expect(lines[1]).toMatch(/^scope: cannot trace \(ring create .+\); --fail-open: the program runs untraced, no trace is written$/);
    }
  });

  test.skipIf(process.getuid?.() !== 0)("--fail-open's untraced run: SIGUSR1 and SIGUSR2 (nothing to stop or write) leave scope run and the program running", async () => {
    const scope = `'${process.execPath}' '${cliEntry}'`;
    const script = [
      "mount -t tmpfs -o ro tmpfs /dev/shm",
      `${scope} run --fail-open -- node -e 'setTimeout(() => { console.log("ran"); process.exitCode = 4; }, 2500)' & run=$!`,
      // Once scope run catches SIGUSR2 (SigCgt bit 11; on a loaded machine its start takes a while).
      "n=0; while [ $n -lt 300 ] && [ $(( 0x$(awk '/^SigCgt/{print $2}' /proc/$run/status) & 0x800 )) -eq 0 ]; do sleep 0.02; n=$((n + 1)); done",
      "kill -USR2 $run; sleep 0.1; kill -USR1 $run",
      'wait $run; echo "status $?"',
    ].join("\n");
    const result = Bun.spawnSync(["unshare", "-m", "sh", "-c", script], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
    expect(result.stdout.toString()).toBe("ran\nstatus 4\n");
    const lines = result.stderr.toString().trim().split("\n");
    expect(lines[0]).toMatch(/--fail-open: the program runs untraced, no trace is written$/);
    expect(lines.slice(1)).toEqual(["scope: SIGUSR2: nothing is recording (--fail-open runs the program untraced): ignored", "scope: SIGUSR1: nothing is recording (--fail-open runs the program untraced): ignored"]);
  });
});

describe("faults in the agent and the collector", () => {
  test("an error inside an agent is caught there, recorded, and reported per process in the summary; the program never sees it", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const program = join(dir, "agent-error.js");
    // A child whose agent cannot load function tracing (a bad setting handed down by hand).
    writeFileSync(
      program,
      `const { execFileSync } = require("node:child_process");
const out = execFileSync(process.execPath, ["-e", "console.log('child ran')"], { env: { ...process.env, SCOPE_FUNCTIONS: "{}", SCOPE_FUNCTIONS_AGENT: ${JSON.stringify(join(dir, "missing.cjs"))} } });
process.stdout.write(out);
`,
    );
    const result = await runCli(["run", "--out", out, "--", "node", program]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("child ran\n");
    const events = readEvents(out);
    const errors = events.filter((event) => event.kind === "agent_error");
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!.fields.message)).toContain("missing.cjs");
    // In the child, the second process to start.
    const starts = events.filter((event) => event.kind === "trace_start").map((event) => event.pid);
    expect(starts).toHaveLength(2);
    expect(errors[0]!.pid).toBe(starts[1]!);
    expect(result.stderr).toContain("agent errors: 1, caught inside scope (the program never saw them");
    expect(result.stderr).toContain(`1 in pid ${starts[1]} main thread`);
  });

  test("a killed scope run: the program runs on to its own end, its output whole, nothing waits for the dead collector", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const done = join(dir, "done");
    const program = join(dir, "survivor.js");
    writeFileSync(
      program,
      `const { Worker } = require("node:worker_threads");
const { writeFileSync } = require("node:fs");
const w = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m))", { eval: true });
const until = Date.now() + 1500;
let n = 0;
w.on("message", () => {
  if (n++ === 0) console.log("started");
  if (Date.now() < until) return setImmediate(() => w.postMessage({ n, pad: "x".repeat(200) }));
  w.terminate().then(() => writeFileSync(${JSON.stringify(done)}, "round trips " + n));
});
w.postMessage({ n });
`,
    );
    const run = backgroundRun(["--ring-size", "1MiB", "--out", out, "--", "node", program]);
    await run.started();
    run.kill("SIGKILL");
    // The program is on its own now: it finishes its 1.5 s and exits without waiting on the ring.
    const deadline = Date.now() + 15_000;
    while (!existsSync(done) && Date.now() < deadline) await Bun.sleep(50);
    expect(readFileSync(done, "utf8")).toMatch(/^round trips \d+$/);
    expect(Number(readFileSync(done, "utf8").split(" ")[2])).toBeGreaterThan(100);
  });
});

describe("trace files are private", () => {
  test("a trace written over an existing file (0644 or 0666) is 0600 like a new one; /dev/null stays as it is", async () => {
    const dir = tmp();
    for (const mode of [0o644, 0o666]) {
      const out = join(dir, `old-${mode.toString(8)}.bin`);
      writeFileSync(out, "SCOPETRC an older trace"); // a trace's first bytes: another file is never written over
      chmodSync(out, mode);
      const result = await runCli(["run", "--out", out, "--", "node", "-e", "0"]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const merged = join(dir, `merged-${mode.toString(8)}.bin`);
      writeFileSync(merged, "");
      chmodSync(merged, mode);
      expect((await runCli(["merge", out, out.replace("old", "again"), "--out", merged])).exitCode).toBe(1); // the second input is missing
      copyFileSync(out, out.replace("old", "again"));
      expect((await runCli(["merge", out, out.replace("old", "again"), "--out", merged])).exitCode).toBe(0);
      expect(statSync(merged).mode & 0o777).toBe(0o600);
    }
    const devNull = statSync("/dev/null").mode;
    expect((await runCli(["run", "--out", "/dev/null", "--", "node", "-e", "0"])).exitCode).toBe(0);
    expect(statSync("/dev/null").mode).toBe(devNull);
  });
});

describe("the cache directory unusable", () => {
  test("function tracing goes on without the transform cache, said in one line; the program's output and exit code as untraced", async () => {
    const dir = tmp();
    const notADirectory = join(dir, "cache-file");
    writeFileSync(notADirectory, "");
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--functions", "--out", out, "--", "node", "-e", "function f() { return 41; } console.log(f() + 1); process.exitCode = 3"], { cwd: dir, env: { XDG_CACHE_HOME: notADirectory } });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("42\n");
    expect(result.stderr).toStartWith(`scope: no transform cache (ENOTDIR: not a directory, mkdir '${notADirectory}/scope'); every start transforms\n`);
    expect(readEvents(out).filter((event) => event.kind === "function_call")).toHaveLength(1);
  });
});
