/** `scope run` as a user meets it: pass-through, exit status, signals, bad input. */
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliEntry, readEvents, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-run-test-");

describe("scope run", () => {
  test("passes stdout, stderr and the exit code through, and writes a trace", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const result = await runCli(["run", "--out", out, "--", "node", "-e", "console.log('to stdout'); console.error('to stderr'); process.exitCode = 7"]);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe("to stdout\n");
    expect(result.stderr).toStartWith("to stderr\n");
    expect(result.stderr).toContain("program exit code 7");
    const events = readEvents(out);
    const starts = events.filter((event) => event.kind === "trace_start");
    expect(starts.length).toBe(1);
    expect(events.find((event) => event.kind === "process_exit")?.fields.code).toBe(7);
  });

  test("--print into a stderr pipe closed early (| head -1): the run goes on, the trace is whole, the status is the program's", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    // Events keep coming after head has gone: a worker's messages over ~300 ms, then exit code 7.
    const program = [
      "const { Worker } = require('node:worker_threads');",
      "const w = new Worker(\"require('node:worker_threads').parentPort.on('message', () => {})\", { eval: true });",
      "let n = 0; const t = setInterval(() => { w.postMessage(n); if (++n === 30) { clearInterval(t); w.terminate(); console.log('sent', n); process.exitCode = 7; } }, 10);",
    ].join(" ");
    const words = [process.execPath, cliEntry, "run", "--print", "--out", out, "--", "node", "-e", program].map((word) => `'${word.replaceAll("'", "'\\''")}'`);
    const script = `${words.join(" ")} 2>&1 >"${join(dir, "stdout")}" | head -1; echo "status \${PIPESTATUS[0]}"`;
    const child = Bun.spawn(["bash", "-c", script], { env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
    const [shown, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(stderr).toBe("");
    expect(shown).toMatch(/^ +[\d.]+ms +#0 \d+\/0 +trace_start .*\nstatus 7\n$/);
    expect(readFileSync(join(dir, "stdout"), "utf8")).toBe("sent 30\n");
    const events = readEvents(out);
    expect(events.filter((event) => event.kind === "message_send").length).toBe(30);
    expect(events.filter((event) => event.kind === "process_exit").map((event) => event.fields.code)).toEqual([7]);
    expect(events.filter((event) => event.kind === "trace_stop").length).toBe(1);
    expect(events.filter((event) => event.kind === "agent_error" || event.kind === "drop")).toEqual([]);
  });

  test("options after the program belong to the program, with or without --", async () => {
    const out = join(tmp(), "t.bin");
    const result = await runCli(["run", "-o", out, "node", "-e", "console.log(JSON.stringify(process.argv.slice(1)))", "--", "--out", "x"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(["--out", "x"]);
  });

  test("a program given as code on the command line is named by it, in Node and in Bun, without scope's own option", async () => {
    const out = join(tmp(), "t.bin");
    const node = await runCli(["run", "-o", out, "--", "node", "--no-warnings", "-e", "console.log(1)", "a"]);
    expect(node.exitCode, node.stderr).toBe(0);
    const [main, ...rest] = readEvents(out).filter((event) => event.kind === "trace_start");
    expect(rest).toEqual([]);
    expect(main!.fields.argv).toMatch(/\/node --no-warnings -e console\.log\(1\) a$/);
    const bunOut = join(tmp(), "b.bin");
    const bun = await runCli(["run", "-o", bunOut, "--", process.execPath, "-e", "console.log(2)"]);
    expect(bun.exitCode, bun.stderr).toBe(0);
    expect(bun.stdout).toBe("2\n");
    const bunStart = readEvents(bunOut).find((event) => event.kind === "trace_start")!;
    expect(bunStart.fields.argv).toMatch(/ -e console\.log\(2\)$/);
    expect(bunStart.fields.argv).not.toContain("--preload");
  });

  test("a program killed by a signal makes scope exit with 128 + signal, and its trace is complete", async () => {
    const out = join(tmp(), "t.bin");
    const result = await runCli(["run", "--out", out, "--", "node", "-e", "console.log('before'); process.kill(process.pid, 'SIGKILL')"]);
    expect(result.exitCode).toBe(128 + 9);
    expect(result.stdout).toBe("before\n");
    const events = readEvents(out);
    const top = events.find((event) => event.kind === "child_exit" && event.pid === events.find((e) => e.kind === "child_exit")!.pid);
    expect(top?.fields.signal).toBe(9);
    expect(events.some((event) => event.kind === "trace_start")).toBe(true);
  });

  test("stdin reaches the program", async () => {
    const out = join(tmp(), "t.bin");
    const child = Bun.spawn([process.execPath, cliEntry, "run", "--out", out, "--", "node", "-e", "process.stdin.pipe(process.stdout)"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    child.stdin.write("line one\nline two\n");
    await child.stdin.end();
    expect(await new Response(child.stdout).text()).toBe("line one\nline two\n");
    expect(await child.exited).toBe(0);
  });

  test("SIGTERM sent to scope reaches the program", async () => {
    const out = join(tmp(), "t.bin");
    const program = "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0) }); console.log('ready'); setInterval(() => {}, 1000)";
    const child = Bun.spawn([process.execPath, cliEntry, "run", "--out", out, "--", "node", "-e", program], { stdout: "pipe", stderr: "pipe" });
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.includes("ready\n")) seen += new TextDecoder().decode((await reader.read()).value);
    child.kill("SIGTERM");
    while (!seen.includes("got SIGTERM")) {
      const chunk = await reader.read();
      if (chunk.done) break;
      seen += new TextDecoder().decode(chunk.value);
    }
    expect(seen).toBe("ready\ngot SIGTERM\n");
    expect(await child.exited).toBe(0);
  });

  test("a SIGTERM, SIGINT, SIGHUP or SIGQUIT sent to the whole process group reaches the program once, as untraced (scope does not pass on what the group had)", async () => {
    const dir = tmp();
    const program = "let n = 0; for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']) process.on(s, () => { n++; setTimeout(() => { console.log(s + ' x' + n); process.exit(0); }, 300); }); console.log('ready'); setInterval(() => {}, 1000)";
    // A group of its own (setsid) whose leader ignores the signal and sends it to the group once
    // the program is ready: what `timeout`, `kill -- -PGID` or a supervisor's stop does.
    const script = `trap '' TERM INT HUP QUIT; "$@" > "$OUT" & until grep -q ready "$OUT"; do sleep 0.05; done; kill -s "$SIG" 0; wait; cat "$OUT"`;
    for (const signal of ["TERM", "INT", "HUP", "QUIT"]) {
      const argv = [process.execPath, cliEntry, "run", "--out", join(dir, "t.bin"), "--", "node", "-e", program];
      const child = Bun.spawn(["setsid", "bash", "-c", script, "group", ...argv], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", OUT: join(dir, `out-${signal}`), SIG: signal } });
      const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect(stdout, stderr).toBe(`ready\nSIG${signal} x1\n`);
    }
  }, 60_000);

  // The heap limit is the node's own as untraced with the same NODE_OPTIONS (Node 24 adds
  // more to the old space's 100 MiB than Node 20: 292 against 148 MiB, so no fixed bound).
  test("the working directory's .env files are not the program's environment (Bun loads them into scope's own)", async () => {
    const dir = tmp();
    writeFileSync(join(dir, ".env"), "SCOPE_SPEC_DOTENV=from-dotenv\nNODE_OPTIONS=--max-old-space-size=64\n");
    writeFileSync(join(dir, ".env.local"), "SCOPE_SPEC_DOTENV_LOCAL=from-dotenv-local\n");
    const program = "console.log(JSON.stringify([process.env.SCOPE_SPEC_DOTENV, process.env.SCOPE_SPEC_DOTENV_LOCAL, process.env.SCOPE_SPEC_INHERITED, /max-old-space/.test(process.env.NODE_OPTIONS)]))";
    const result = await runCli(["run", "--out", join(dir, "t.bin"), "--", "node", "-e", program], { cwd: dir, env: { SCOPE_SPEC_INHERITED: "kept" } });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([null, null, "kept", false]);
  });

  test("file descriptors beyond stdio reach the program as untraced: <(...) process substitution, 3<file, 4>file; no others (the same descriptors open)", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "in.txt"), "from fd 3");
    const program = [
      "const fs = require('node:fs');",
      "const target = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd); } catch { return 'closed'; } };",
      "const fds = fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => fd > 2).map((fd) => fd + ' ' + target(fd).replace(/:\\[\\d+\\]$/, '')).filter((fd) => !/ (anon_inode|closed)/.test(fd));",
      "fs.writeSync(4, 'to fd 4');",
      "console.log(JSON.stringify([fs.readFileSync(process.argv[1], 'utf8'), fs.readFileSync(3, 'utf8'), fds]));",
    ].join(" ");
    const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
    const run = async (prefix: string[]) => {
      const script = `exec 3<${quote(join(dir, "in.txt"))} 4>${quote(join(dir, "out.txt"))}; ${[...prefix, "node", "-e", program].map(quote).join(" ")} <(printf substituted)`;
      const child = Bun.spawn(["bash", "-c", script], { env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      return { stdout, stderr, status, written: readFileSync(join(dir, "out.txt"), "utf8") };
    };
    const untraced = await run([]);
    expect([untraced.status, JSON.parse(untraced.stdout).slice(0, 2), untraced.written], untraced.stderr).toEqual([0, ["substituted", "from fd 3"], "to fd 4"]);
    const traced = await run([process.execPath, cliEntry, "run", "--out", join(dir, "t.bin"), "--"]);
    expect([traced.status, traced.stdout, traced.written], traced.stderr).toEqual([untraced.status, untraced.stdout, untraced.written]);
  });

  test("an existing NODE_OPTIONS is kept", async () => {
    const out = join(tmp(), "t.bin");
    const program = "console.log(require('v8').getHeapStatistics().heap_size_limit / 2 ** 20)";
    const env = { ...process.env, NODE_OPTIONS: "--max-old-space-size=100" };
    const [untraced, unlimited] = [env, { ...env, NODE_OPTIONS: "" }].map((e) => Number(Bun.spawnSync(["node", "-e", program], { env: e }).stdout.toString()));
    expect(untraced).toBeLessThan(unlimited!);
    const result = await runCli(["run", "--out", out, "--", "node", "-e", program], { env: { NODE_OPTIONS: "--max-old-space-size=100" } });
    expect(Number(result.stdout)).toBe(untraced!);
  });

  test("a command that cannot start: one line, exit 127, no trace left behind", async () => {
    const out = join(tmp(), "t.bin");
    const result = await runCli(["run", "--out", out, "--", "no-such-command-scope-test"]);
    expect(result.exitCode).toBe(127);
    expect(result.stderr.trim().split("\n")).toEqual(["scope: cannot start no-such-command-scope-test: command not found"]);
    expect(existsSync(out)).toBe(false);
  });

  // A typo in the command used to cost the trace of the run before: the trace file was
  // opened (emptied) before the spawn failed, then removed.
  test("a command that cannot be found or run leaves an earlier trace at --out as it was", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const earlier = Buffer.from("SCOPETRC an earlier run's trace");
    writeFileSync(join(dir, "plain.js"), "console.log(1)\n");
    const cases: [string, number][] = [["no-such-command-scope-test", 127], [join(dir, "missing"), 127], [join(dir, "plain.js"), 126], [dir, 126]];
    for (const [command, status] of cases) {
      writeFileSync(out, earlier);
      const result = await runCli(["run", "--out", out, "--", command]);
      expect({ command, status: result.exitCode, trace: readFileSync(out).toString() }).toEqual({ command, status, trace: earlier.toString() });
    }
  });

  // Bun's spawn errors said "ENOEXEC: unknown error, posix_spawn '…'" or "command not found"
  // for a file that is there, with 127 for all; a shell says what is wrong and gives 126
  // when the file is there but cannot be run.
  test("a file that cannot be run: one line saying why, the shell's status (126 there but not runnable, 127 missing), no trace", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const file = (name: string, text: string, mode: number) => {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), mode);
      return join(dir, name);
    };
    const cases: [string, number, string][] = [
      [file("plain.js", "console.log(1)\n", 0o644), 126, "permission denied (not executable)"],
      [file("no-shebang", "echo hi\n", 0o755), 126, "not an executable, nor a script with a #! line"],
      [file("bad-interpreter", "#!/no/such/interpreter\necho hi\n", 0o755), 127, "its #! interpreter was not found"],
      [dir, 126, "is a directory"],
      [join(dir, "missing"), 127, "no such file"],
    ];
    for (const [command, status, reason] of cases) {
      const result = await runCli(["run", "--out", out, "--", command]);
      expect({ status: result.exitCode, stderr: result.stderr }).toEqual({ status, stderr: `scope: cannot start ${command}: ${reason}\n` });
      expect(existsSync(out)).toBe(false);
    }
  });

  // nohup ignores SIGHUP, a script's background job SIGINT and SIGQUIT: a program started so
  // survives them, and must under scope too (Bun.spawn sets every signal back to its default).
  test("signals scope was started with ignored stay ignored for the program (nohup, a background job); its environment and errors as before", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    // Started with SIGHUP, SIGINT and SIGQUIT ignored (as nohup or a script's `&` would), by
    // coreutils' env, which changes nothing else.
    const ignoring = (argv: string[], signals = "HUP,INT,QUIT", env: Record<string, string | undefined> = process.env) => {
      const child = Bun.spawnSync(["env", `--ignore-signal=${signals}`, "--", ...argv], { env: { ...env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
      return { status: child.exitCode, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
    };
    const probe = ["sh", "-c", "grep SigIgn /proc/self/status"];
    const plain = ignoring(probe);
    expect(BigInt(`0x${/^SigIgn:\s+([0-9a-f]+)/.exec(plain.stdout)![1]}`) & 7n).toBe(7n);
    const traced = ignoring([process.execPath, cliEntry, "run", "--out", out, "--", ...probe]);
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.stdout).toBe(plain.stdout);
    // A node program (Node resets every signal at its start, traced or not) and its trace as ever.
    const node = ignoring([process.execPath, cliEntry, "run", "--out", out, "--", "node", "-e", "console.log(require('fs').readFileSync('/proc/self/status', 'utf8').match(/^SigIgn.*$/m)[0])"]);
    expect(node.stdout).toBe(ignoring(["node", "-e", "console.log(require('fs').readFileSync('/proc/self/status', 'utf8').match(/^SigIgn.*$/m)[0])"]).stdout);
    expect(readEvents(out).filter((event) => event.kind === "trace_start").map((event) => event.fields.argv)).toEqual([expect.stringMatching(/\/node -e /)]);
    // The environment exactly as given: no variable added or dropped (a name that is not a shell name kept).
    const env = { ...process.env, "A-B": "1" } as Record<string, string | undefined>;
    delete env.PWD;
    const programs = (text: string) => text.split("\n").filter((line) => !/^(NODE_OPTIONS|BUN_OPTIONS|SCOPE_[A-Z_]*)=/.test(line));
    const shown = ignoring([process.execPath, cliEntry, "run", "--out", out, "--", "env"], "HUP", env);
    expect(programs(shown.stdout)).toEqual(programs(ignoring(["env"], "HUP", env).stdout));
    expect(shown.stdout).toContain("\nA-B=1\n");
    // What cannot start is still said in scope's words.
    writeFileSync(join(dir, "no-shebang"), "echo hi\n");
    chmodSync(join(dir, "no-shebang"), 0o755);
    const refused = ignoring([process.execPath, cliEntry, "run", "--out", out, "--", join(dir, "no-shebang")]);
    expect({ status: refused.status, stdout: refused.stdout, stderr: refused.stderr }).toEqual({ status: 126, stdout: "", stderr: `scope: cannot start ${join(dir, "no-shebang")}: not an executable, nor a script with a #! line\n` });
  });

  test("bad options fail with one clear line", async () => {
    const missing = await runCli(["run"]);
    expect(missing.exitCode).not.toBe(0);
    const size = await runCli(["run", "--ring-size", "lots", "--", "node", "-e", ""]);
    expect(size.exitCode).toBe(1);
    expect(size.stdout + size.stderr).toContain('--ring-size: expected a size below 4GiB such as 16MiB, got "lots"');
    // Too big for the ring: said as a usage error, not "cannot trace: ring create …: invalid
    // argument (…) (--fail-open runs the program untraced instead)".
    const huge = await runCli(["run", "--ring-size", "64GiB", "--", "node", "-e", ""]);
    expect({ exitCode: huge.exitCode, stderr: huge.stderr }).toEqual({ exitCode: 1, stderr: 'scope: --ring-size: expected a size below 4GiB such as 16MiB, got "64GiB"\n' });
    const dir = await runCli(["run", "--out", "/no/such/dir/t.bin", "--", "node", "-e", ""]);
    expect(dir.exitCode).toBe(1);
    expect(dir.stdout + dir.stderr).toContain("--out: directory /no/such/dir does not exist");
    // An --out that names a file which is not a trace (a typo, a source file) is never overwritten.
    const outDir = tmp();
    const source = join(outDir, "app.js");
    writeFileSync(source, "console.log('mine')\n");
    const notTrace = await runCli(["run", "--out", source, "--", "node", "-e", ""]);
    expect({ exitCode: notTrace.exitCode, stderr: notTrace.stderr }).toEqual({ exitCode: 1, stderr: `scope: --out: ${source} exists and is not a scope trace; not overwritten (remove it or give another --out)\n` });
    expect(readFileSync(source, "utf8")).toBe("console.log('mine')\n");
    // A trace there, or an empty file, is written over.
    const trace = join(outDir, "t.bin");
    for (const prepare of [() => writeFileSync(trace, ""), () => undefined]) {
      prepare();
      const over = await runCli(["run", "--out", trace, "--", "node", "-e", ""]);
      expect(over.exitCode).toBe(0);
      expect(readFileSync(trace).subarray(0, 8).toString("latin1")).toBe("SCOPETRC");
    }
    const mode = await runCli(["run", "--mode", "sometimes", "--", "node", "-e", ""]);
    expect(mode.exitCode).not.toBe(0);
    // Settings after a space, not "=": they were run as the command ("{level" not found, 127).
    const spaced = await runCli(["run", "--functions", '{"level":"calls"}', "node", "-e", ""]);
    expect({ exitCode: spaced.exitCode, stderr: spaced.stderr }).toEqual({ exitCode: 1, stderr: `scope: --functions takes its settings after "=": --functions='{"level":"calls"}' (with a space, "{"level":"calls"}" would be run as the command)\n` });
  });
});

// A Ctrl-C at a terminal goes to its whole foreground process group: scope and the program.
// scope forwarded it as well, so the program got SIGINT twice (5 runs in 6 here), and a
// program that reads a second Ctrl-C as "force quit" skipped its graceful end.
test.skipIf(!existsSync("/usr/bin/script"))("a Ctrl-C at a terminal reaches the program once", async () => {
  const dir = tmp();
  const program = join(dir, "sigint.cjs");
  writeFileSync(program, `let n = 0;
process.on("SIGINT", () => { n++; if (n === 1) setTimeout(() => { console.log("SIGINTs: " + n); process.exit(0); }, 300); });
setInterval(() => {}, 1000); console.log("ready");
`);
  for (let run = 0; run < 3; run++) {
    // `exec`: scope leads the terminal's foreground group, as under an interactive shell. Without
    // it, script's $SHELL -c stays in that group, and dash (CI's /bin/sh when SHELL is unset)
    // dies of the Ctrl-C itself: script then ends 130 whatever scope and the program do.
    const command = "exec " + [process.execPath, cliEntry, "run", "--out", join(dir, "t.bin"), "--", "node", program].map((arg) => `'${arg}'`).join(" ");
    const child = Bun.spawn(["script", "-qfec", command, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    let text = "";
    const reading = (async () => {
      for await (const chunk of child.stdout) text += new TextDecoder().decode(chunk);
    })();
    const deadline = Date.now() + 30_000;
    while (!text.includes("ready") && Date.now() < deadline) await Bun.sleep(20);
    await Bun.sleep(200);
    child.stdin.write("\x03");
    await child.stdin.flush();
    expect(await child.exited).toBe(0);
    await reading;
    expect(text).toContain("SIGINTs: 1\r\n");
  }
}, 120_000);

describe("stale rings", () => {
  test("a detached child that outlives scope run still starts Node processes, untraced and silent (its stderr as untraced)", async () => {
    const dir = tmp();
    const log = join(dir, "child.log");
    // The parent ends at once; its detached child waits until scope run has ended (ring
    // removed, source checkout's agent directory with it before) and runs a node grandchild.
    const program = [
      "const cp = require('node:child_process'), fs = require('node:fs');",
      "if (process.argv[1] === 'child') setTimeout(() => {",
      "  const r = cp.spawnSync(process.execPath, ['-e', 'console.log(1 + 1)'], { encoding: 'utf8' });",
      `  fs.writeFileSync(${JSON.stringify(log)}, JSON.stringify([r.status, r.stdout, r.stderr]));`,
      "}, 1000);",
      "else cp.spawn(process.execPath, ['-e', process.env.PROGRAM, 'child'], { detached: true, stdio: 'ignore' }).unref();",
    ].join("\n");
    const result = await runCli(["run", "--out", join(dir, "t.bin"), "--", "node", "-e", program], { env: { PROGRAM: program } });
    expect(result.exitCode).toBe(0);
    const deadline = Date.now() + 20_000;
    while (!existsSync(log) && Date.now() < deadline) await Bun.sleep(50);
    expect(JSON.parse(readFileSync(log, "utf8"))).toEqual([0, "2\n", ""]);
  }, 60_000);

  test("a source checkout's agent bundles left by a killed scope are removed by the next one; a live scope's are kept", async () => {
    const { mkdirSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const gone = Bun.spawnSync(["true"]).pid;
    const dead = join(tmpdir(), `scope-dev-agent-${gone}-spec${process.pid}`);
    const live = join(tmpdir(), `scope-dev-agent-${process.pid}-spec`);
    mkdirSync(join(dead, "agent"), { recursive: true });
    mkdirSync(live, { recursive: true });
    try {
      const result = await runCli(["run", "--out", join(tmp(), "t.bin"), "--", "node", "-e", ""]);
      expect(result.exitCode).toBe(0);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      rmSync(dead, { recursive: true, force: true });
      rmSync(live, { recursive: true, force: true });
    }
  });

  test("a ring whose collector is gone and that nobody maps is removed; a mapped one is kept", async () => {
    const { removeStaleRings } = await import("../src/run/stale");
    const { Ring } = await import("../src/core/ring");
    const gone = Bun.spawnSync(["true"]).pid;
    const path = `/dev/shm/scope-${gone}-feedbeef${process.pid}`;
    const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 64, mode: "discard" });
    try {
      expect(removeStaleRings()).not.toContain(path); // still mapped (by this process)
      expect(existsSync(path)).toBe(true);
    } finally {
      ring.close();
    }
    expect(removeStaleRings()).toContain(path);
    expect(existsSync(path)).toBe(false);
  });

  test("a ring whose collector is gone is removed; a live collector's ring is kept", async () => {
    const { removeStaleRings } = await import("../src/run/stale");
    const { writeFileSync } = await import("node:fs");
    const dir = tmp();
    // A pid that is certainly not running: a child that has already exited.
    const gone = Bun.spawnSync(["true"]).pid;
    writeFileSync(join(dir, `scope-${gone}-abc123`), "");
    writeFileSync(join(dir, `scope-${process.pid}-def456`), "");
    writeFileSync(join(dir, "unrelated-file"), "");
    expect(removeStaleRings(dir)).toEqual([join(dir, `scope-${gone}-abc123`)]);
    expect(existsSync(join(dir, `scope-${process.pid}-def456`))).toBe(true);
    expect(existsSync(join(dir, "unrelated-file"))).toBe(true);
  });

  // scope attach's control and answer files sit next to its ring (a worker answers in
  // ack.<tid>, through ack.<tid>.<seq>): an attach killed while loading, or a worker that
  // answered after the detach stopped waiting, left them in /dev/shm for good.
  test("an ended scope attach's control and answer files go with its ring; a live one's stay", async () => {
    const { removeStaleRings } = await import("../src/run/stale");
    const { writeFileSync } = await import("node:fs");
    const dir = tmp();
    const gone = Bun.spawnSync(["true"]).pid;
    const stale = [`scope-${gone}-abc123.control`, `scope-${gone}-abc123.ack`, `scope-${gone}-abc123.ack.17`, `scope-${gone}-abc123.ack.17.4`, `scope-${gone}-abc123.control.3`];
    const live = [`scope-${process.pid}-def456.control`, `scope-${process.pid}-def456.ack.5`, `scope-${gone}-abc123.other`];
    for (const name of [...stale, ...live]) writeFileSync(join(dir, name), "");
    expect(removeStaleRings(dir).sort()).toEqual(stale.map((name) => join(dir, name)).sort());
    for (const name of live) expect(existsSync(join(dir, name))).toBe(true);
  });
});
