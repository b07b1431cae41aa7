/**
 * A child the program starts with an `env` of its own is traced (src/agent/shared/child-env.ts):
 * one whose env has the program's own NODE_OPTIONS/BUN_OPTIONS (scope's preload put in front,
 * the program's flag still in effect) and one with a minimal environment (scope's variables
 * put back), through every node:child_process path, Bun.spawn/Bun.spawnSync and
 * node:child_process under Bun; worker threads given an env (Node's Worker, Bun's
 * node:worker_threads and Web Worker). Each child's output is what it is untraced.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { envWithScope, setAgentDirectory } from "../src/agent/shared/child-env";
import { envFilesOf } from "../src/agent/shared/env-file";
import { cleanup, ofKind, runTraced, runUntraced, type Traced } from "./agent-harness";

afterAll(cleanup);

/**
 * Every process but the top one is a child of `labels`: its trace_start names the top process
 * as its parent (or the shell execSync started, a child the top process recorded), and it
 * recorded its process_exit; the top process recorded each child's start.
 */
function expectKidsTraced(run: Traced, labels: string[]): void {
  const starts = ofKind(run.events, "trace_start");
  const top = starts[0]!.pid;
  const kids = starts.filter((e) => e.pid !== top);
  expect(kids.map((e) => String(e.fields.argv).replace(/^.*child-env-kid\.cjs /, "")).sort()).toEqual([...labels].sort());
  const spawned = ofKind(run.events, "process_spawn", { pid: top }).map((e) => e.fields.childPid);
  expect(spawned.length).toBe(labels.length);
  for (const kid of kids) {
    expect(kid.fields.parentPid === top ? kid.pid : kid.fields.parentPid).toBeOneOf(spawned);
    expect(ofKind(run.events, "process_exit", { pid: kid.pid }).map((e) => e.fields.code)).toEqual([0]);
  }
  expect(ofKind(run.events, "agent_error")).toEqual([]);
}

/** The top process's worker threads (given an env of their own): each traced, its start and end inside. */
function expectWorkersTraced(run: Traced, count: number): void {
  const top = ofKind(run.events, "trace_start")[0]!.pid;
  const starts = ofKind(run.events, "trace_start", { pid: top }).filter((e) => e.tid !== 0);
  expect(starts.length).toBe(count);
  for (const start of starts) expect(ofKind(run.events, "thread_exit", { pid: top, tid: start.tid }).length).toBe(1);
}

describe("a child with an env of its own", () => {
  test("node:child_process (spawn, spawnSync, execFile, execFileSync, execSync, fork), own NODE_OPTIONS and a minimal env, a Worker's env: each child and the worker traced, output as untraced, the program's objects untouched", async () => {
    const argv = ["node", "child-env-fixture.cjs"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    const lines = run.stdout.trimEnd().split("\n");
    // The program's own --max-old-space-size=200 is in effect in the children given it.
    expect(lines.filter((line) => line.includes("heap=small")).map((line) => line.split(":")[0])).toEqual(["spawnSync own", "spawn own", "execFileSync own", "fork own", "prototype"]);
    expect(lines.slice(-2)).toEqual(["options untouched: true", "worker: KEEP=minimal"]);
    const labels = lines.slice(0, -2).map((line) => line.split(":")[0]!);
    expect(labels.length).toBe(11);
    expectKidsTraced(run, labels);
    expectWorkersTraced(run, 1);
  });

  test("Bun: Bun.spawn and Bun.spawnSync (own NODE_OPTIONS/BUN_OPTIONS, minimal env), node:child_process under Bun, workers' env: each child and worker traced, output as untraced", async () => {
    const argv = ["bun", "child-env-fixture.ts", "node"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toContain('Bun.spawnSync node own: node heap=small NODE_OPTIONS="--max-old-space-size=200"');
    expect(run.stdout).toContain('Bun.spawn bun own: bun heap=- NODE_OPTIONS="" BUN_OPTIONS="--smol"');
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.slice(-2)).toEqual(["node:worker_threads worker: KEEP=minimal", "Web Worker: KEEP=minimal"]);
    const labels = lines.slice(0, -2).map((line) => line.split(":")[0]!);
    expect(labels.length).toBe(5);
    expectKidsTraced(run, labels);
    expectWorkersTraced(run, 2);
  });
});

describe("NODE_OPTIONS in a node command's --env-file (Node applies it when the environment has none; scope's own would hide it)", () => {
  const expectAsUntraced = async (argv: string[], lines: string[]) => {
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout.trimEnd().split("\n")).toEqual(lines);
    expect(ofKind(run.events, "agent_error")).toEqual([]);
  };

  test("scope run's program: node --env-file=F runs with F's NODE_OPTIONS", async () => {
    await expectAsUntraced(["node", "--env-file=env-file.env", "env-file-kid.cjs"], ["kid: title=from-env-file FROM_FILE=yes"]);
  });

  test("node:child_process children (inherited env, an env of their own with and without NODE_OPTIONS, a cwd, execFile's callback slot): as untraced", async () => {
    await expectAsUntraced(["node", "env-file-parent.cjs"], [
      "spawnSync inherited: title=from-env-file FROM_FILE=yes",
      "execFileSync own env: title=from-env-file FROM_FILE=yes",
      "execFileSync own NODE_OPTIONS: title=own FROM_FILE=yes",
      "execFileSync cwd: title=from-env-file FROM_FILE=yes",
      "execFile: title=from-env-file FROM_FILE=yes",
    ]);
  });

  test("Bun.spawn and Bun.spawnSync of node: as untraced", async () => {
    await expectAsUntraced(["bun", "env-file-parent.ts"], ["Bun.spawnSync inherited: title=from-env-file FROM_FILE=yes", "Bun.spawn own env: title=from-env-file FROM_FILE=yes"]);
  });

  test("the env files a node command line names before its script", () => {
    expect(envFilesOf(["--env-file=a", "--require", "--env-file=not-a-file", "--env-file", "b", "--env-file-if-exists=c", "app.js", "--env-file=d"])).toEqual(["a", "b", "c"]);
    expect(envFilesOf(["-e", "1", "--env-file=a", "--", "--env-file=b"])).toEqual(["a"]);
  });
});

describe("a program that writes scope's --require back its own way (Next.js: `--require=F` in its workers' NODE_OPTIONS)", () => {
  test("each generation starts and is traced: scope's option is not put in front again, which Next would read as one --require of 'F F'", async () => {
    const argv = ["node", "next-node-options.cjs"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect(plain.stdout).toBe("generation 2 started\ngeneration 2 exit 0\ngeneration 1 exit 0\n");
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    const starts = ofKind(run.events, "trace_start");
    expect(starts.map((e) => String(e.fields.argv).replace(/^.*next-node-options\.cjs ?/, ""))).toEqual(["", "1", "2"]);
    expect(ofKind(run.events, "process_exit").map((e) => e.fields.code)).toEqual([0, 0, 0]);
  });
});

describe("envWithScope", () => {
  test("scope's options in front of the program's, scope's variables it left out put back, the rest the program's", () => {
    const saved = { ...process.env };
    try {
      for (const name of Object.keys(process.env)) if (name.startsWith("SCOPE_")) delete process.env[name];
      setAgentDirectory("/opt/scope");
      // Not started by scope run: nothing to put back.
      expect(envWithScope({ PATH: "/bin" }, true)).toBeUndefined();
      process.env.SCOPE_RING = "/dev/shm/r";
      process.env.SCOPE_EVENTS = "process";
      const inherited = Object.create({ NODE_OPTIONS: "--max-old-space-size=64", SCOPE_EVENTS: "mine" }) as Record<string, unknown>;
      inherited.COUNT = 3;
      expect({ ...envWithScope(inherited, true) }).toEqual({
        COUNT: 3,
        NODE_OPTIONS: '--require "/opt/scope/node.cjs" --max-old-space-size=64',
        BUN_OPTIONS: "--preload=/opt/scope/bun.mjs",
        SCOPE_EVENTS: "mine",
        SCOPE_RING: "/dev/shm/r",
      });
      // Bun.spawn reads own properties only: the inherited NODE_OPTIONS is not the program's.
      expect({ ...envWithScope(inherited, false) }).toEqual({
        COUNT: 3,
        NODE_OPTIONS: '--require "/opt/scope/node.cjs"',
        BUN_OPTIONS: "--preload=/opt/scope/bun.mjs",
        SCOPE_EVENTS: "process",
        SCOPE_RING: "/dev/shm/r",
      });
      expect(Object.keys(inherited)).toEqual(["COUNT"]);
      // The agent required already, in another form Node reads: left as it is; another file of that name is not it.
      for (const given of ["--require=/opt/scope/node.cjs --max-old-space-size=64", '-r "/opt/scope/node.cjs"', '--max-old-space-size=64 --require="/opt/scope/node.cjs"', "--require /opt/scope/node.cjs"]) {
        expect(envWithScope({ NODE_OPTIONS: given }, false)?.NODE_OPTIONS).toBe(given);
      }
      expect(envWithScope({ NODE_OPTIONS: "--require=/opt/other/node.cjs" }, false)?.NODE_OPTIONS).toBe('--require "/opt/scope/node.cjs" --require=/opt/other/node.cjs');
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });
});
