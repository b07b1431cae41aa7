import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { runCli } from "./harness";

describe("cli", () => {
  test("--version prints the package version", async () => {
    expect(await runCli(["--version"])).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  test("an unknown command fails with a non-zero exit", async () => {
    const result = await runCli(["no-such-command"]);
    expect(result.exitCode).not.toBe(0);
  });

  // clipanion's "Command not found; did you mean one of:" is a lead-in to a list: its first
  // line alone (what one-line errors keep) ended in a colon and named nothing.
  test("an unknown command, or a known one with arguments it cannot take: one line that names what there is", async () => {
    const unknown = await runCli(["help"]);
    expect({ exitCode: unknown.exitCode, stdout: unknown.stdout }).toEqual({ exitCode: 1, stdout: "" });
    expect(unknown.stderr).toBe('scope: unknown command "help"; commands: run, dump, instrument, doctor, bench, stop, export, merge, view, query, top, attach, detach (scope --help says more)\n');
    const merge = await runCli(["merge"]);
    expect({ exitCode: merge.exitCode, stdout: merge.stdout }).toEqual({ exitCode: 1, stdout: "" });
    expect(merge.stderr).toBe("scope: merge: missing or unexpected arguments; usage: scope merge <-o,--out #0> ... (scope merge --help says more)\n");
    const stop = await runCli(["stop", "1", "2"]);
    expect(stop.stderr).toBe("scope: stop: missing or unexpected arguments; usage: scope stop [pid] (scope stop --help says more)\n");
  });

  // clipanion's "Not enough positional arguments." / "Extraneous positional argument" named
  // neither the command nor what it wanted: a new user's `scope run` or `scope dump` alone.
  test("a command missing its argument, or given one too many: one line naming it, with an example", async () => {
    const expected: [string[], string][] = [
      [["run"], "scope: run: missing arguments; for example: scope run -- node app.js (scope run --help says more)\n"],
      [["dump"], "scope: dump: missing arguments; for example: scope dump trace.bin (scope dump --help says more)\n"],
      [["query"], "scope: query: missing arguments; for example: scope query trace.bin (scope query --help says more)\n"],
      [["attach"], "scope: attach: missing arguments; for example: scope attach 12345 (scope attach --help says more)\n"],
      [["view", "a.bin", "b.bin"], 'scope: view: unexpected argument "b.bin"; for example: scope view trace.bin (scope view --help says more)\n'],
    ];
    for (const [argv, stderr] of expected) {
      expect({ argv, ...(await runCli(argv)) }).toEqual({ argv, exitCode: 1, stdout: "", stderr });
    }
  });

  // clipanion reads a value that starts with "-" as an option: `--max-overhead -3` said only
  // "Not enough arguments to option --max-overhead.", as if nothing had been typed.
  test("an option whose value starts with '-': one line naming the value and the form that passes it", async () => {
    const negative = await runCli(["run", "--max-overhead", "-3", "--", "node", "-e", "1"]);
    expect({ exitCode: negative.exitCode, stdout: negative.stdout }).toEqual({ exitCode: 1, stdout: "" });
    expect(negative.stderr).toBe(`scope: --max-overhead: "-3" was read as an option, not as --max-overhead's value; write --max-overhead=-3 to give it as the value\n`);
    const missing = await runCli(["dump", "t.bin", "--pid"]);
    expect(missing.stderr).toBe("scope: --pid: a value is missing (for example --pid=<value>)\n");
    // The suggested form reaches the command's own check.
    const passed = await runCli(["run", "--functions", "--max-overhead=-3", "--", "node", "-e", "1"]);
    expect(passed.exitCode).toBe(1);
    expect(passed.stderr).toContain("--max-overhead must be a percentage above 0");
  });

  // A node that cannot load the addon (another architecture's or C library's, an old ABI):
  // the line names Node's error, not the loader's line that rethrew it (its first line).
  test("doctor: a node that cannot load the addon is named by its error, or by how it ended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scope-doctor-node-"));
    try {
      const node = join(dir, "node");
      const run = async (script: string) => {
        writeFileSync(node, `#!/bin/sh\n${script}\n`);
        chmodSync(node, 0o755);
        const result = await runCli(["doctor"], { env: { PATH: `${dir}:${process.env.PATH}` } });
        expect(result.exitCode).toBe(1);
        return result.stdout.split("\n").find((line) => line.includes("node:"))?.trim();
      };
      expect(await run(`printf 'node:internal/modules/cjs/loader:1210\\n  throw err;\\n  ^\\n\\nError: Cannot find module /x/scope.node\\nRequire stack:\\n' >&2; exit 1`)).toBe("FAIL  node: node could not load the addon: Error: Cannot find module /x/scope.node");
      expect(await run("exit 3")).toBe("FAIL  node: node could not load the addon: node exited with code 3, printing nothing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
