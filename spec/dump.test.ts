/** `scope dump` on trace files written through the real writer: formats, filters, damage. */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, truncateSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { EventKind, Offset } from "../src/core/layout";
import { monotonicNs } from "../src/core/ring";
import { TraceWriter } from "../src/core/trace-file";
import { cliEntry, encodeRecords, runCli, type RecordSpec } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-dump-test-");

/** A string record: a = id | len << 32, flags = fragment index, bytes at offset 32. */
function stringRecord(pid: number, tid: number, id: number, text: string): Uint8Array {
  const bytes = encodeRecords([{ kind: EventKind.string, t: 1, pid, tid, payload: [BigInt(id) | (BigInt(text.length) << 32n)] }]);
  bytes.set(new TextEncoder().encode(text), Offset.b);
  return bytes;
}

const worker = 1 | (0 << 8) | (1 << 16);
let dir: string;
let path: string;

beforeAll(() => {
  dir = tmp();
  path = join(dir, "t.bin");
  const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
  const base = Number(monotonicNs());
  writer.append(stringRecord(100, 0, 1, "{\"n\":2}"), 1);
  const events = encodeRecords([
    { kind: EventKind.thread_spawn, t: base + 1_000_000, pid: 100, tid: 0, payload: [1] },
    { kind: EventKind.message_send, t: base + 2_000_000, pid: 100, tid: 0, payload: [1, worker, 100, 7, 1] },
    { kind: EventKind.message_receive, t: base + 3_000_000, pid: 100, tid: 1, payload: [1, worker, 100, 7, 0] },
    { kind: EventKind.thread_exited, t: base + 4_000_000, pid: 100, tid: 0, payload: [1, 0] },
  ]);
  writer.append(events, 4);
  writer.close({ written: 5, dropped: 0, overwritten: 0, recorded: 5 });
});

describe("scope dump", () => {
  test("text: one line per event with the send→receive link", async () => {
    const result = await runCli(["dump", path]);
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n").slice(1);
    expect(lines.map((line) => line.split(/\s+/).slice(2, 5).join(" "))).toEqual([
      "#0 100/0 thread_spawn",
      "#1 100/0 message_send",
      "#2 100/1 message_receive",
      "#3 100/0 thread_exited",
    ]);
    expect(lines[1]).toContain('worker#1 7B "{\\"n\\":2}" → 100/1 #2');
    expect(lines[2]).toContain("← 100/0 #1");
  });

  test("--json: one object per line, linked", async () => {
    const result = await runCli(["dump", "--json", "--kind", "message", path]);
    expect(result.exitCode, result.stderr).toBe(0);
    const objects = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(objects.map((o) => [o.kind, o.pid, o.tid, o.ordinal, o.linkedTo])).toEqual([
      ["message_send", 100, 0, 1, [2]],
      ["message_receive", 100, 1, 1, [1]],
    ]);
  });

  test("--chrome: Trace Event JSON with a flow from send to receive and a track per thread", async () => {
    const result = await runCli(["dump", "--chrome", path]);
    const trace = JSON.parse(result.stdout);
    const flows = trace.traceEvents.filter((e: { ph: string }) => e.ph === "s" || e.ph === "f");
    expect(flows.map((e: { ph: string; tid: number; id: number }) => [e.ph, e.tid, e.id])).toEqual([["s", 0, 1], ["f", 1, 1]]);
    const threads = trace.traceEvents.filter((e: { name: string }) => e.name === "thread_name").map((e: { tid: number }) => e.tid).sort();
    expect(threads).toEqual([0, 1]);
  });

  test("--stats and filters", async () => {
    const result = await runCli(["dump", "--stats", "--tid", "0", path]);
    expect(result.stdout).toContain("events: 3 in");
    expect(result.stdout).toContain("message_send       1");
    expect(result.stdout).toContain("ring: 5 written, 0 dropped, 0 overwritten");
  });

  test("a truncated trace prints the valid events, says where it stopped, exits 2", async () => {
    const cut = join(dir, "cut.bin");
    writeFileSync(cut, readFileSync(path));
    truncateSync(cut, statSync(cut).size - 100);
    const result = await runCli(["dump", "--json", cut]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^scope: .*cut\.bin: .* at byte \d+; the \d+ events before it were shown\n$/);
  });

  test("a file that is not a trace: one line, non-zero exit", async () => {
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, "hello, this is not a trace file at all\n".repeat(10));
    const result = await runCli(["dump", junk]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split("\n").length).toBe(1);
    expect(result.stderr).toStartWith("scope: ");
  });

  test("a pipe for a trace (a FIFO, <(cat t.bin)): one line saying to save it to a file, status 1, no wait for a writer", async () => {
    const fifo = join(dir, "t.fifo");
    execFileSync("mkfifo", [fifo]);
    const why = `${fifo}: not a regular file (a pipe): a trace is read by position; save it to a file first`;
    for (const args of [["dump", fifo], ["query", fifo, "SELECT 1"], ["export", "--perfetto", "-o", join(dir, "p.pftrace"), fifo], ["merge", fifo, path, "-o", join(dir, "m.bin")], ["view", fifo]]) {
      const result = await runCli(args);
      expect([result.exitCode, result.stderr.trim().split("\n").length], args.join(" ")).toEqual([1, 1]);
      expect(result.stderr, args.join(" ")).toContain(why);
    }
  }, 60_000);

  test("a missing file and conflicting formats are usage errors", async () => {
    expect((await runCli(["dump", join(dir, "nope.bin")])).stderr).toBe(`scope: ${join(dir, "nope.bin")}: no such file\n`);
    expect((await runCli(["dump", "--json", "--chrome", path])).stderr).toBe("scope: choose one of --json, --chrome, --stats\n");
    expect((await runCli(["dump", "--pid", "x", path])).stderr).toBe('scope: --pid: expected comma-separated whole numbers, got "x"\n');
    // A window that ends before it starts (it printed nothing, status 0).
    const backwards = await runCli(["dump", "--since", "2s", "--until", "1s", path]);
    expect({ exitCode: backwards.exitCode, stdout: backwards.stdout, stderr: backwards.stderr }).toEqual({ exitCode: 1, stdout: "", stderr: "scope: --since 2s is after --until 1s: no event can be in between\n" });
    // A number without its unit (it was read as nanoseconds: every event matched, next to times printed in ms).
    const bare = await runCli(["dump", "--since", "5", path]);
    expect({ exitCode: bare.exitCode, stdout: bare.stdout, stderr: bare.stderr }).toEqual({ exitCode: 1, stdout: "", stderr: 'scope: --since: expected a duration such as 150ms or 2s, got "5"\n' });
  });

  // Node's "ENOENT: no such file or directory, open '...'" was printed as it came.
  test("a file scope cannot write (export -o into a missing folder): one line with what failed, where and why, status 1", async () => {
    const target = join(dir, "missing-folder", "out.pftrace");
    const result = await runCli(["export", "--perfetto", "-o", target, path]);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 1, stderr: `scope: error: cannot open ${target}: no such file or directory (ENOENT)\n` });
  });

  // A misspelt kind matched nothing: an empty dump with status 0, as if the trace held none.
  test("--kind that names no kind or group: one line naming it and the groups, status 1; groups, whole kinds and kind_<n> are taken", async () => {
    const misspelt = await runCli(["dump", "--kind", "message,http_servr", path]);
    expect({ exitCode: misspelt.exitCode, stdout: misspelt.stdout }).toEqual({ exitCode: 1, stdout: "" });
    expect(misspelt.stderr).toStartWith('scope: --kind: no event kind or group "http_servr" (groups: trace, process, child, thread, message, ');
    expect(misspelt.stderr.trim().split("\n").length).toBe(1);
    for (const kinds of ["message", "http_server", "message_send,thread", "kind_999"]) expect((await runCli(["dump", "--kind", kinds, path])).exitCode).toBe(0);
    expect((await runCli(["dump", "--json", "--kind", "message_receive", path])).stdout.trim().split("\n").map((line) => JSON.parse(line).kind)).toEqual(["message_receive"]);
  });
});

/** Runs `scope dump <args> | <reader>` through bash; dump's status and its stderr. */
async function dumpInto(reader: string, args: string[]): Promise<{ status: number; stderr: string; read: string }> {
  const quoted = [process.execPath, cliEntry, "dump", ...args].map((word) => `'${word}'`).join(" ");
  const script = `${quoted} 2>"$ERR" | ${reader}; echo "status \${PIPESTATUS[0]}" >&2`;
  const err = join(dir, `stderr-${Math.random().toString(36).slice(2)}`);
  const child = Bun.spawn(["bash", "-c", script], { env: { ...process.env, NO_COLOR: "1", ERR: err }, stdout: "pipe", stderr: "pipe" });
  const [read, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { status: Number(/status (\d+)/.exec(status)?.[1]), stderr: readFileSync(err, "utf8"), read };
}

describe("scope dump into a pipe closed early", () => {
  let big: string;
  beforeAll(() => {
    // 20 000 sends: every format's output is far larger than a pipe's buffer.
    big = join(dir, "big.bin");
    const writer = TraceWriter.open(big, { host: "testhost", argv: ["node", "big.js"] });
    const base = Number(monotonicNs());
    const specs: RecordSpec[] = [];
    for (let i = 0; i < 20_000; i++) specs.push({ kind: EventKind.message_send, t: base + i * 1000, pid: 100, tid: 0, payload: [i, worker, 100, 7, 0] });
    for (let i = 0; i < specs.length; i += 4096) writer.append(encodeRecords(specs.slice(i, i + 4096)), Math.min(4096, specs.length - i));
    writer.close({ written: 20_000, dropped: 0, overwritten: 0, recorded: 20_000 });
  });

  test.each([["text"], ["--json"]])("%s | head -1: the first line, then a quiet end with status 141 (as cat or jq ended by SIGPIPE)", async (mode) => {
    const result = await dumpInto("head -1", mode === "text" ? [big] : [mode, big]);
    expect({ status: result.status, stderr: result.stderr, lines: result.read.split("\n").length }).toEqual({ status: 141, stderr: "", lines: 2 });
    if (mode === "--json") expect(JSON.parse(result.read).kind).toBe("message_send");
  });

  test("--chrome | head -c 100: quiet, status 141", async () => {
    const result = await dumpInto("head -c 100", ["--chrome", big]);
    expect({ status: result.status, stderr: result.stderr, bytes: result.read.length }).toEqual({ status: 141, stderr: "", bytes: 100 });
  });

  test.each([["text"], ["--json"], ["--chrome"], ["--stats"]])("%s into a reader that closed before the first write: quiet, status 141", async (mode) => {
    const result = await dumpInto("(exec <&-; sleep 1)", mode === "text" ? [big] : [mode, big]);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 141, stderr: "" });
  });

  // A failed write that is not a closed pipe arrived as an 'error' event that Output threw:
  // uncaught, a Bun stack on stderr, and scope spun at 100% CPU and never ended.
  test.each([["--json"], ["--stats"]])("%s into a full disk (/dev/full): one line, status 1, and it ends", async (mode) => {
    const quoted = [process.execPath, cliEntry, "dump", mode, big].map((word) => `'${word}'`).join(" ");
    const err = join(dir, `stderr-${Math.random().toString(36).slice(2)}`);
    const child = Bun.spawn(["bash", "-c", `timeout 30 ${quoted} >/dev/full 2>"$ERR"; echo "status $?"`], { env: { ...process.env, NO_COLOR: "1", ERR: err }, stdout: "pipe" });
    const [said] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect({ said, stderr: readFileSync(err, "utf8") }).toEqual({ said: "status 1\n", stderr: "scope: error: writing the output failed (ENOSPC: no space left on device, write)\n" });
  });

  test("a reader that reads everything: status 0, nothing on stderr", async () => {
    const result = await dumpInto("wc -l", ["--json", big]);
    expect({ status: result.status, stderr: result.stderr, read: result.read.trim() }).toEqual({ status: 0, stderr: "", read: "20000" });
  });
});

describe("a trace of more than a million strings", () => {
  test("every string is read: the names of what comes after the millionth are there (dump, export)", async () => {
    const big = join(tmp(), "strings.bin");
    const writer = TraceWriter.open(big, { host: "testhost", argv: ["node", "app.js"] });
    const count = 1_000_010;
    const bytes = new Uint8Array(count * 64);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < count; i++) {
      const base = i * 64;
      const text = `p${i}`;
      view.setUint16(base + Offset.kind, EventKind.string, true);
      view.setUint32(base + Offset.pid, 100, true);
      view.setUint32(base + Offset.a, i + 1, true);
      view.setUint32(base + Offset.a + 4, text.length, true);
      for (let c = 0; c < text.length; c++) bytes[base + Offset.b + c] = text.charCodeAt(c);
    }
    writer.append(bytes, count);
    // A request whose method and target are the last two strings.
    const t = Number(monotonicNs());
    writer.append(
      encodeRecords([
        { kind: EventKind.http_server_request, t, pid: 100, tid: 0, payload: [1, count - 1, count] },
        { kind: EventKind.http_server_response, t: t + 1000, pid: 100, tid: 0, payload: [1, 200, 0, 2, 1] },
      ]),
      2,
    );
    writer.close({ written: count + 2, dropped: 0, overwritten: 0 });
    const dumped = await runCli(["dump", "--kind", "http_server_request", big]);
    expect(dumped.exitCode, dumped.stderr).toBe(0);
    expect(dumped.stdout).toContain(`http_server_request p${count - 2} "p${count - 1}"`);
    const otlp = join(tmp(), "strings.json");
    expect((await runCli(["export", "--otlp", otlp, big])).exitCode).toBe(0);
    const spans = JSON.parse(readFileSync(otlp, "utf8")).resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((x: any) => x.spans));
    expect(spans.map((span: any) => [span.name, span.attributes.find((a: any) => a.key === "url.path")?.value.stringValue])).toEqual([[`p${count - 2}`, `p${count - 1}`]]);
  }, 120_000);
});
