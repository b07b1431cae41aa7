/**
 * One rule for how a trace file ended, in every command that reads one (src/core/trace-ending.ts):
 * closed → silent, 0; not closed but intact (scope killed mid-run) → all of it used, one stderr
 * line, 0; truncated or corrupt → what precedes the damage, one line, 2; unreadable header → one
 * line, 1.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventKind } from "../src/core/layout";
import { TraceWriter } from "../src/core/trace-file";
import { cliEntry, encodeRecords, runCli } from "./harness";

let dir: string;
const trace = (name: string) => join(dir, `${name}.bin`);

function write(path: string, close: boolean): void {
  const writer = TraceWriter.open(path, { host: "h", argv: ["node", "app.js"] });
  for (let chunk = 0; chunk < 3; chunk++) {
    writer.append(encodeRecords([
      { kind: EventKind.thread_spawn, pid: 9, tid: chunk, payload: [1] },
      { kind: EventKind.thread_exited, pid: 9, tid: chunk, payload: [1, 0] },
    ]));
  }
  if (close) writer.close({ written: 6, dropped: 0, overwritten: 0, recorded: 6 });
  else writer.abandon(); // as a scope killed with SIGKILL leaves it: no end chunk
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scope-ending-"));
  write(trace("closed"), true);
  write(trace("open"), false);
  copyFileSync(trace("closed"), trace("cut"));
  truncateSync(trace("cut"), statSync(trace("cut")).size - 40);
  writeFileSync(trace("junk"), "not a trace, not a trace, not a trace, not a trace\n".repeat(4));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every reading command but view, on `path`: name → its argv. */
function commands(path: string): Record<string, string[]> {
  return {
    dump: ["dump", path],
    "dump --json": ["dump", "--json", path],
    "dump --stats": ["dump", "--stats", path],
    "dump --chrome": ["dump", "--chrome", path],
    "export --perfetto": ["export", "--perfetto", path, "-o", join(dir, "out.pftrace")],
    "export --otlp": ["export", "--otlp", join(dir, "out.json"), path],
    query: ["query", "--no-cache", path, "SELECT count(*) FROM events"],
    top: ["top", "--no-cache", path],
    merge: ["merge", path, trace("closed"), "--out", join(dir, "merged.bin")],
  };
}

/** Each command's status and its stderr lines about the trace (not the export's own report). */
async function outcomes(path: string): Promise<Record<string, { status: number; lines: string[] }>> {
  const found: Record<string, { status: number; lines: string[] }> = {};
  for (const [name, argv] of Object.entries(commands(path))) {
    const result = await runCli(argv, { cwd: dir });
    found[name] = { status: result.exitCode, lines: result.stderr.split("\n").filter((line) => line !== "" && !line.includes(" spans (OTLP") && !line.includes(" tracks, ")) };
  }
  return found;
}

const every = <T>(outcome: T): Record<string, T> => Object.fromEntries(Object.keys(commands("")).map((name) => [name, outcome]));

test("closed: nothing said, status 0", async () => {
  expect(await outcomes(trace("closed"))).toEqual(every({ status: 0, lines: [] }));
});

test("not closed but intact (scope killed mid-run): everything used, one line saying so and why, status 0 in every command", async () => {
  const found = await outcomes(trace("open"));
  const unclosed = (line: string) => /^scope: .*open\.bin: trace was not closed \(no end chunk: still being written, or the scope that recorded it was killed, or its write failed where the file system could keep no room for the end: then scope run said so\); all \d+ (events|records) in it were [a-z ]+$/.test(line);
  expect(Object.fromEntries(Object.entries(found).map(([name, { status, lines }]) => [name, { status, lines: lines.length, said: lines.every(unclosed) }]))).toEqual(every({ status: 0, lines: 1, said: true }));
  expect(found.dump!.lines).toEqual([`scope: ${trace("open")}: trace was not closed (no end chunk: still being written, or the scope that recorded it was killed, or its write failed where the file system could keep no room for the end: then scope run said so); all 6 events in it were shown`]);
});

test("truncated: what precedes the damage, one line saying where, status 2 in every command", async () => {
  const found = await outcomes(trace("cut"));
  const damaged = (line: string) => /^scope: .*cut\.bin: .+ at byte \d+; the \d+ (events|records) before it were [a-z ]+$/.test(line);
  expect(Object.fromEntries(Object.entries(found).map(([name, { status, lines }]) => [name, { status, lines: lines.length, said: lines.every(damaged) }]))).toEqual(every({ status: 2, lines: 1, said: true }));
});

test("a file that is not a trace: one line with its path, status 1 in every command", async () => {
  const found = await outcomes(trace("junk"));
  expect(found).toEqual(every({ status: 1, lines: [`scope: ${trace("junk")}: not a scope trace file (no SCOPETRC magic)`] }));
});

test("scope view says the same line on stderr as it starts serving", async () => {
  for (const [name, expected] of [["open", /trace was not closed \(no end chunk: .*\); all \d+ records in it were read$/], ["cut", / at byte \d+; the \d+ records before it were read$/], ["closed", null]] as const) {
    const child = Bun.spawn([process.execPath, cliEntry, "view", "--no-open", trace(name)], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
    const reader = child.stdout.getReader();
    let stdout = "";
    while (!stdout.includes("Ctrl-C stops it.")) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += new TextDecoder().decode(value);
    }
    child.kill("SIGINT");
    const [stderr] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    const lines = stderr.split("\n").filter(Boolean);
    expect({ name, lines: lines.length, said: expected === null || expected.test(lines[0] ?? "") }).toEqual({ name, lines: expected === null ? 0 : 1, said: true });
  }
});
