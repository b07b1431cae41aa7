/**
 * Several hosts in one trace (`scope merge`, src/merge/merge.ts) and requests linked to the
 * requests they reached (model.ts linkPeers): real `scope run`s of real node programs
 * talking HTTP over 127.0.0.1, one of them with its recorded clock shifted by a known amount
 * (SCOPE_TEST_CLOCK_SHIFT_NS, test-only), merged, and read back as any trace.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, linkSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostPid, mergedSources, sourceOfPid, type TraceEvent } from "../src/core/model";
import { readTrace } from "../src/core/trace-file";
import { loadTrace } from "../src/dump/load";
import { cleanup, fixtures, ofKind, pairing, runTraced, scratchDir, type Traced } from "./agent-harness";
import { backgroundAttach, waitFor } from "./attach-harness";
import { readEvents, runCli } from "./harness";

afterAll(cleanup);

const dir = join(fixtures, "merge");
let pairs = 0;

/** A server run and a client run making `count` requests to it; the client's clock shifted by `shiftNs`. */
async function serverAndClient(count: number, shiftNs: bigint, scopeArgs: string[] = [], runtime = "node", own: boolean | "busy" = false, serverArgs: string[] = []): Promise<{ server: Traced; client: Traced }> {
  const portFile = join(scratchDir(), `port-${pairs++}`);
  const server = runTraced(["node", join(dir, "server.cjs"), portFile], { scopeArgs: serverArgs });
  for (let waited = 0; !existsSync(portFile); waited++) {
    if (waited > 600) throw new Error("the server run did not start within 60 s");
    await Bun.sleep(100);
  }
  const client = await runTraced([runtime, join(dir, "client.cjs"), portFile, String(count), ...(own === "busy" ? ["busy"] : own ? ["own"] : [])], {
    scopeArgs,
    env: shiftNs === 0n ? {} : { SCOPE_TEST_CLOCK_SHIFT_NS: String(shiftNs) },
  });
  return { server: await server, client };
}

function mergedEvents(path: string): TraceEvent[] {
  return readEvents(path);
}

/**
 * How far `path`'s recorded wall clock is ahead of `reference`'s (ns), from their header
 * anchors (CLOCK_REALTIME and CLOCK_MONOTONIC read together at open; the test's shift is
 * in the realtime one): the offset the merge must recover. Not the shift alone: the wall
 * clock can be stepped between two runs' opens (a CI run of 2026-12-05 08:41 recovered
 * offsets 1.4 and 2.3 ms from the shifts, bounds 0.4 and 0.6 ms, and in the same run a
 * 200 ms Date.now() spin lasted 198.5 ms on the monotonic clock), and CLOCK_MONOTONIC,
 * which every record is stamped with, is one clock for every process of the machine.
 */
function anchorOffsetNs(path: string, reference: string): number {
  const wallMinusMonotonic = (file: string) => {
    const trace = readTrace(file);
    try {
      return trace.header.realtimeAnchorNs - trace.header.monotonicAnchorNs;
    } finally {
      trace.close();
    }
  };
  return Number(wallMinusMonotonic(path) - wallMinusMonotonic(reference));
}

describe("scope merge", () => {
  test("two runs talking HTTP, the client's clock shifted by 5 s: every request linked, the shift recovered within the reported bound", async () => {
    const count = 20;
    const shiftNs = 5_000_000_000n;
    const { server, client } = await serverAndClient(count, shiftNs);
    expect(server.status, server.stderr).toBe(0);
    expect(client.status, client.stderr).toBe(0);
    // No header added without --propagate: the server says what it received.
    expect(client.stdout.trim().split("\n")).toEqual(Array.from({ length: count }, (_, i) => `/r${i} traceparent=none`));
    expect(ofKind(server.events, "http_traceparent")).toEqual([]);
    expect(ofKind(client.events, "http_traceparent")).toEqual([]);
    const out = join(scratchDir(), "proof.bin");
    const merged = await runCli(["merge", server.out, client.out, "--out", out]);
    expect(merged.stderr).toBe("");
    expect(merged.exitCode, merged.stderr).toBe(0);
    expect(merged.stdout).toContain(`${count + 1} requests linked across inputs`);
    const events = mergedEvents(out);
    const sources = mergedSources(events);
    expect(sources.map((s) => [s.source, s.pidBase, s.damaged, s.notClosed])).toEqual([
      [0, 0, false, false],
      [1, 4194304, false, false],
    ]);
    // The offset is how far the client's wall clock looked ahead: the shift, within the bound.
    const clock = sources[1]!;
    expect(clock.clockBoundNs).not.toBeNull();
    expect(clock.boundsDisagree).toBe(false);
    const trueNs = anchorOffsetNs(client.out, server.out);
    const errorNs = Math.abs(clock.clockOffsetNs - trueNs);
    console.log(`merge proof: offset ${clock.clockOffsetNs} ns for a shift of ${shiftNs} ns (${trueNs} ns by the anchors): error ${errorNs} ns, reported bound ${clock.clockBoundNs} ns, ${clock.pairs} requests`);
    // The wall clocks' own disagreement is small next to the shift (a step of milliseconds at most).
    expect(Math.abs(trueNs - Number(shiftNs))).toBeLessThan(50_000_000);
    expect(errorNs).toBeLessThanOrEqual(clock.clockBoundNs!);
    // Small next to the shift: a loopback round trip, not the 5 s (generous for a loaded machine).
    expect(clock.clockBoundNs!).toBeLessThan(100_000_000);

    // Every client request (N and the final /shutdown) is linked to the server request with its path.
    const clients = ofKind(events, "http_client_request");
    const servers = ofKind(events, "http_server_request");
    expect(clients.length).toBe(count + 1);
    expect(servers.length).toBe(count + 1);
    for (const request of clients) {
      expect(sourceOfPid(request.pid)).toBe(1);
      expect(request.fields.peerLink).toBe("connection");
      const peer = events[request.fields.peerIndex as number]!;
      expect(peer.kind).toBe("http_server_request");
      expect(sourceOfPid(peer.pid)).toBe(0);
      expect(peer.fields.peerIndex).toBe(request.index);
      expect(new URL(String(request.fields.url)).pathname).toBe(String(peer.fields.target));
      // On one timeline: the server saw each request between its client's start and end.
      const end = events[request.fields.endIndex as number]!;
      expect(peer.timestampNs >= request.timestampNs).toBe(true);
      expect(peer.timestampNs <= end.timestampNs).toBe(true);
    }
    // Pids: the client's are its own + 2^22, the server's as recorded.
    const clientStart = ofKind(client.events, "trace_start")[0]!;
    expect(ofKind(events, "trace_start").filter((e) => sourceOfPid(e.pid) === 1).map((e) => hostPid(e.pid))).toEqual([clientStart.pid]);
    expect(ofKind(events, "trace_start").filter((e) => sourceOfPid(e.pid) === 0).map((e) => e.pid)).toEqual([ofKind(server.events, "trace_start")[0]!.pid]);
    // Every record of both inputs is there, plus the merge's own.
    const total = (t: Traced) => loadTrace(t.out).records.length;
    expect(loadTrace(out).records.length).toBeGreaterThanOrEqual(total(server) + total(client) + 2);

    // scope dump reads it and says where each input came from and its clock.
    const dump = await runCli(["dump", out]);
    expect(dump.exitCode, dump.stderr).toBe(0);
    expect(dump.stdout).toContain(`# input 0: ${server.out} on `);
    // The input's line names the merge's own offset and bound (the shift, within the bound
    // checked above: not a fixed 4999-5000 ms, as a loaded machine's bound reaches 2.4 ms).
    const ms = (ns: number) => (ns / 1e6).toFixed(3).replace(".", "\\.");
    expect(dump.stdout).toMatch(new RegExp(`# input 1: ${client.out} on .*, pids \\+4194304, clock offset \\+${ms(clock.clockOffsetNs)}ms ± ${ms(clock.clockBoundNs!)}ms from ${count + 1} requests`));
    const stats = await runCli(["dump", "--stats", out]);
    expect(stats.stdout).toContain(", 2 processes, 2 threads");
    // --chrome: an arrow from each client request's slice to its server request's, across the two runs.
    const chrome = JSON.parse((await runCli(["dump", "--chrome", out])).stdout) as { traceEvents: { ph: string; cat?: string; id?: number; pid: number }[] };
    const flows = chrome.traceEvents.filter((e) => e.cat === "request" && (e.ph === "s" || e.ph === "f"));
    expect(flows.filter((e) => e.ph === "s").map((e) => [e.id, sourceOfPid(e.pid)])).toEqual(clients.map((c) => [c.index, 1]));
    expect(flows.filter((e) => e.ph === "f").map((e) => [e.id, sourceOfPid(e.pid)])).toEqual(clients.map((c) => [c.index, 0]));
  }, 240_000);

  test("two unrelated runs (same program, pids may collide): each keeps its processes, messages still pair, no clock measured", async () => {
    const [a, b] = await Promise.all([runTraced(["node", join(dir, "unrelated.cjs")]), runTraced(["node", join(dir, "unrelated.cjs")])]);
    expect([a.status, b.status], `${a.stderr}${b.stderr}`).toEqual([0, 0]);
    const out = join(scratchDir(), "unrelated.bin");
    const merged = await runCli(["merge", a.out, b.out, "-o", out]);
    expect(merged.exitCode, merged.stderr).toBe(0);
    expect(merged.stdout).toContain("0 requests linked across inputs");
    const events = mergedEvents(out);
    const sources = mergedSources(events);
    expect(sources[1]!.clockBoundNs).toBeNull();
    expect(sources[1]!.clockOffsetNs).toBe(0);
    // Both process trees, each parent's spawn naming its own child (remapped with it).
    const starts = ofKind(events, "trace_start");
    expect(starts.length).toBe(4);
    for (const spawn of ofKind(events, "process_spawn")) {
      expect(starts.some((start) => start.pid === spawn.fields.childPid && start.fields.parentPid === spawn.pid)).toBe(true);
    }
    const pairs = pairing(events);
    expect(pairs.sends).toBe(4);
    expect(pairs.unpairedSends).toEqual([]);
    expect(pairs.unpairedReceives).toEqual([]);
    // Each message pairs within its own input.
    for (const send of ofKind(events, "message_send")) expect(sourceOfPid(events[send.linkedTo[0]!]!.pid)).toBe(sourceOfPid(send.pid));
    const dump = await runCli(["dump", out]);
    expect(dump.exitCode, dump.stderr).toBe(0);
    expect(dump.stdout).toContain("clock offset not measured");
  }, 240_000);

  test("bad input: one line and exit 1; a damaged input merges its valid records, says so and exits 2", async () => {
    const good = await runTraced(["node", join(dir, "unrelated.cjs")]);
    const scratch = scratchDir();
    const out = join(scratch, "bad-out.bin");
    const expectRefused = async (args: string[], text: string) => {
      const result = await runCli(["merge", ...args, "--out", out]);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toEqual([expect.stringContaining(text)]);
      expect(result.stderr.startsWith("scope: ")).toBe(true);
    };
    await expectRefused([good.out, join(scratch, "missing.bin")], "missing.bin: no such file");
    await expectRefused([good.out], "merge needs at least two traces, got 1");
    const junk = join(scratch, "junk.bin");
    writeFileSync(junk, "not a trace at all, just some text that is long enough to be read");
    await expectRefused([good.out, junk], "junk.bin");
    const same = await runCli(["merge", good.out, good.out, "--out", good.out]);
    expect([same.exitCode, same.stderr]).toEqual([1, `scope: ${good.out}: the output is also an input\n`]);
    // The same file by another name (a symbolic or a hard link): refused too, the input untouched.
    const copy = join(scratch, "copy.bin");
    copyFileSync(good.out, copy);
    const before = readFileSync(copy);
    for (const [name, link] of [["symlink.bin", symlinkSync], ["hardlink.bin", linkSync]] as const) {
      const other = join(scratch, name);
      link(copy, other);
      const linked = await runCli(["merge", copy, good.out, "--out", other]);
      expect([linked.exitCode, linked.stderr]).toEqual([1, `scope: ${other}: the output is also an input\n`]);
      expect(readFileSync(copy).equals(before)).toBe(true);
    }
    // A merged trace is not merged again (its pids and clocks are already remapped).
    const once = join(scratch, "once.bin");
    expect((await runCli(["merge", good.out, good.out, "--out", once])).exitCode).toBe(0);
    await expectRefused([good.out, once], "is already a merged trace");

    // Damaged: the last chunk cut short (the end chunk and part of the records).
    const damaged = join(scratch, "damaged.bin");
    const bytes = readFileSync(good.out);
    writeFileSync(damaged, bytes.subarray(0, bytes.byteLength - 200));
    const merged = join(scratch, "with-damaged.bin");
    const result = await runCli(["merge", good.out, damaged, "--out", merged]);
    // Status 2, as `scope dump` of a damaged trace (it was 0: a script could not tell).
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^scope: .*damaged\.bin: .* at byte \d+; the \d+ records before it were merged$/)]);
    const events = mergedEvents(merged);
    const sources = mergedSources(events);
    expect(sources[1]!.damaged).toBe(true);
    const kept = loadTrace(damaged).records.length;
    expect(kept).toBeGreaterThan(0);
    expect(events.filter((e) => sourceOfPid(e.pid) === 1 && e.pid !== 0).length).toBeGreaterThan(0);
    expect((await runCli(["dump", merged])).stdout).toContain("damaged (its valid records merged)");
  }, 240_000);

  test("within one trace: a program calling itself over loopback, and its child calling it, each client request linked to its server request", async () => {
    const run = await runTraced(["node", join(dir, "loopback.cjs")]);
    expect(run.status, run.stderr).toBe(0);
    const clients = ofKind(run.events, "http_client_request");
    expect(clients.length).toBe(9);
    for (const request of clients) {
      const peer = run.events[request.fields.peerIndex as number];
      expect(peer?.kind).toBe("http_server_request");
      expect(peer!.fields.peerIndex).toBe(request.index);
      expect(new URL(String(request.fields.url)).pathname).toBe(String(peer!.fields.target));
    }
    expect(new Set(clients.map((request) => request.pid)).size).toBe(2);
  }, 240_000);

  test.each([["node"], ["bun"]])("%s client: --propagate adds a traceparent to every request (node:http and fetch), recorded at both ends and linking them", async (runtime) => {
    const count = 6;
    // The program's own traceparent (on /r0 and /r3) is kept, not replaced.
    const { server, client } = await serverAndClient(count, 0n, ["--propagate"], runtime, true);
    expect([server.status, client.status], `${server.stderr}${client.stderr}`).toEqual([0, 0]);
    const lines = client.stdout.trim().split("\n");
    expect(lines.length).toBe(count);
    const sent = ofKind(client.events, "http_traceparent");
    expect(sent.every((event) => event.fields.outgoing === true)).toBe(true);
    expect(sent.length).toBe(count + 1);
    const received = ofKind(server.events, "http_traceparent");
    expect(received.every((event) => event.fields.outgoing === false)).toBe(true);
    // What the server program got is what the client's trace says it sent, request by request.
    for (const [i, line] of lines.entries()) {
      const value = /^\/r\d+ traceparent=(.*)$/.exec(line)![1]!;
      expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      if (i === 0 || i === count / 2) expect(value).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      else expect(value).not.toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      const request = ofKind(client.events, "http_client_request")[i]!;
      expect(request.fields.traceparent).toBe(value);
      const served = ofKind(server.events, "http_server_request").find((event) => event.fields.target === `/r${i}`)!;
      expect(served.fields.traceparent).toBe(value);
    }
    const out = join(scratchDir(), `propagate-${runtime}.bin`);
    expect((await runCli(["merge", server.out, client.out, "--out", out])).exitCode).toBe(0);
    const events = mergedEvents(out);
    for (const request of ofKind(events, "http_client_request")) {
      const peer = events[request.fields.peerIndex as number]!;
      expect(peer.fields.traceparent).toBe(request.fields.traceparent!);
      // Bun's fetch records no connection: linked by the header alone.
      expect(request.fields.peerLink).toBe(request.fields.api === "fetch" && runtime === "bun" ? "traceparent" : "connection");
    }
  }, 240_000);

  test("three runs, the server in the middle: two clients with clocks shifted +2 s and -3 s, each recovered within its bound (one through the other)", async () => {
    const portFile = join(scratchDir(), `port-${pairs++}`);
    const server = runTraced(["node", join(dir, "server.cjs"), portFile, "2"]);
    for (let waited = 0; !existsSync(portFile); waited++) {
      if (waited > 600) throw new Error("the server run did not start within 60 s");
      await Bun.sleep(100);
    }
    const client = (shift: bigint) => runTraced(["node", join(dir, "client.cjs"), portFile, "8"], { env: { SCOPE_TEST_CLOCK_SHIFT_NS: String(shift) } });
    const [a, b] = await Promise.all([client(2_000_000_000n), client(-3_000_000_000n)]);
    const s = await server;
    expect([a.status, b.status, s.status], `${a.stderr}${b.stderr}${s.stderr}`).toEqual([0, 0, 0]);
    // Input 0 is client a: the server's offset is measured against it, client b's through the server.
    const out = join(scratchDir(), "three.bin");
    const merged = await runCli(["merge", a.out, s.out, b.out, "--out", out]);
    expect(merged.exitCode, merged.stderr).toBe(0);
    const events = mergedEvents(out);
    const sources = mergedSources(events);
    const shifts = [0, -2_000_000_000, -5_000_000_000];
    const expected = [0, anchorOffsetNs(s.out, a.out), anchorOffsetNs(b.out, a.out)];
    for (const source of sources.slice(1)) {
      expect(source.clockBoundNs).not.toBeNull();
      console.log(`three runs: input ${source.source} offset ${source.clockOffsetNs} ns, expected ${expected[source.source]} ns by the anchors (shift ${shifts[source.source]} ns), bound ${source.clockBoundNs} ns`);
      expect(Math.abs(expected[source.source]! - shifts[source.source]!)).toBeLessThan(50_000_000);
      expect(Math.abs(source.clockOffsetNs - expected[source.source]!)).toBeLessThanOrEqual(source.clockBoundNs!);
    }
    // Client b's bound is the server's plus its own link's: never smaller than the server's.
    expect(sources[2]!.clockBoundNs!).toBeGreaterThanOrEqual(sources[1]!.clockBoundNs!);
    const clients = ofKind(events, "http_client_request");
    expect(clients.length).toBe(18);
    for (const request of clients) expect(sourceOfPid(events[request.fields.peerIndex as number]!.pid)).toBe(1);
  }, 240_000);

  test("loop, memory and async records (kinds 80..100) of two runs, the client's clock shifted by 5 s: each input's records keep their pids (remapped), times (shifted as one), strings, GC and long-task placement and async links", async () => {
    const groups = ["--events", "+loop,+memory", "--async"];
    const { server, client } = await serverAndClient(6, 5_000_000_000n, groups, "node", "busy", groups);
    expect([server.status, client.status], `${server.stderr}${client.stderr}`).toEqual([0, 0]);
    const out = join(scratchDir(), "loop-async.bin");
    const merged = await runCli(["merge", server.out, client.out, "--out", out]);
    expect(merged.exitCode, merged.stderr).toBe(0);
    const events = mergedEvents(out);
    const newKinds = (e: TraceEvent) => /^(loop_sample|memory_sample|long_task|gc|monitor_missing|async_)/.test(e.kind);
    for (const [source, run] of [[0, server], [1, client]] as const) {
      const own = run.events;
      const mine = events.filter((e) => e.pid !== 0 && sourceOfPid(e.pid) === source);
      // The same events in the same order, each on its host's pid and its own thread.
      expect(mine.map((e) => `${e.kind} ${hostPid(e.pid)}/${e.tid}`)).toEqual(own.map((e) => `${e.kind} ${e.pid}/${e.tid}`));
      for (const kind of ["loop_sample", "memory_sample", "async_init", "async_before", "async_after", "async_tracking"]) {
        expect(`${source} ${kind} ${mine.some((e) => e.kind === kind)}`).toBe(`${source} ${kind} true`);
      }
      // Every record moved by one shift: long tasks and GCs (placed at their start, ago_ns) too.
      const shifts = new Set(mine.map((e, i) => e.timestampNs - own[i]!.timestampNs));
      expect(shifts.size).toBe(1);
      // Fields the same, links to events of the same input at the same place in it.
      const positionInMerged = new Map(mine.map((e, i) => [e.index, i]));
      const positionInOwn = new Map(own.map((e, i) => [e.index, i]));
      const normal = (fields: Record<string, unknown>, position: Map<number, number>) =>
        Object.fromEntries(
          Object.entries(fields)
            // HTTP peers are linked across inputs only in the merged trace.
            .filter(([key]) => !key.startsWith("peer"))
            .map(([key, value]) => [key, typeof value === "number" && (key.endsWith("Index") || key === "asyncAfter") ? position.get(value) : key.endsWith("Pid") && typeof value === "number" && value !== 0 ? hostPid(value) : value]),
        );
      for (const [i, event] of mine.entries()) {
        if (!newKinds(event) && event.kind !== "http_client_request" && event.kind !== "http_server_request") continue;
        expect(`${event.kind} ${JSON.stringify(normal(event.fields, positionInMerged))}`).toBe(`${own[i]!.kind} ${JSON.stringify(normal(own[i]!.fields, positionInOwn))}`);
      }
    }
    // The client's blocking timer: one long task named by its callback, and GCs inside it, on the client's pid.
    const long = ofKind(events, "long_task").filter((e) => e.fields.origin === "allocateFor80ms");
    expect(long.length).toBe(1);
    expect(sourceOfPid(long[0]!.pid)).toBe(1);
    expect(ofKind(events, "gc").filter((e) => sourceOfPid(e.pid) === 1).length).toBeGreaterThan(0);
    // --why on the client's long task walks its async chain in the merged trace as in its own.
    const why = async (path: string, index: number) => (await runCli(["dump", "--why", String(index), path])).stdout.replace(/^.*?(long_task|async_\w+|trace_start|http_\w+)/gm, "$1").replace(/\s+#\d+/g, "").replace(/\d+\/\d+/g, "").replace(/parentPid=(\d+)/g, (_, pid: string) => `parentPid=${hostPid(Number(pid))}`);
    const ownLong = ofKind(client.events, "long_task").find((e) => e.fields.origin === "allocateFor80ms")!;
    const chain = await why(client.out, ownLong.index);
    expect(chain).toContain("long_task");
    expect(await why(out, long[0]!.index)).toBe(chain);
  }, 240_000);

  test("an attach trace merged with itself: attach_end's attached pid is remapped with its input (input 1's is its own process's pid + 2^22)", async () => {
    // The program ends when told, once scope has attached: a fixed 2.5 s life was shorter than the
    // attach itself on a loaded machine (1.8-2.8 s from "ready" to "attached" at load 8-9).
    const child = Bun.spawn(["node", "--inspect-port=0", "-e", "const keep = setInterval(() => {}, 1000); process.once('SIGUSR2', () => clearInterval(keep)); console.log('ready')"], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, NODE_OPTIONS: "" } });
    try {
      const reader = child.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("node ended before its first line");
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const out = join(scratchDir(), "attached.bin");
      const attach = backgroundAttach([String(child.pid), "--out", out, "--duration", "60s"]);
      await waitFor(attach.stderr, /attached to pid/);
      process.kill(child.pid, "SIGUSR2");
      expect(await attach.ended()).toBe(0);
      const merged = join(scratchDir(), "attached-merged.bin");
      expect((await runCli(["merge", out, out, "--out", merged])).exitCode).toBe(0);
      const ends = ofKind(mergedEvents(merged), "attach_end");
      expect(ends.map((e) => [sourceOfPid(e.pid), e.fields.attachedPid])).toEqual([
        [0, child.pid],
        [1, child.pid + 2 ** 22],
      ]);
    } finally {
      child.kill();
    }
  }, 240_000);
});
