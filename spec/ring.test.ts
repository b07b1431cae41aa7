/** The shared-memory ring through its real bun:ffi binding (src/core/ring.ts → libscope.so). */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventKind, Offset, RECORD_SIZE } from "../src/core/layout";
import { libscopePath } from "../src/core/native";
import { monotonicNs, Ring, RingError } from "../src/core/ring";
import { nodeVersions } from "./harness";

const paths: string[] = [];
let counter = 0;

function ringPath(name: string): string {
  const path = `/dev/shm/scope-spec-ring-${process.pid}-${name}-${counter++}`;
  paths.push(path);
  return path;
}

afterEach(() => {
  for (const path of paths.splice(0)) {
    if (existsSync(path)) Ring.unlink(path);
  }
});

function readRecord(buffer: Uint8Array, index: number) {
  const view = new DataView(buffer.buffer, buffer.byteOffset + index * RECORD_SIZE, RECORD_SIZE);
  return {
    seq: view.getUint32(Offset.seq, true),
    kind: view.getUint16(Offset.kind, true),
    flags: view.getUint16(Offset.flags, true),
    timestampNs: view.getBigUint64(Offset.timestampNs, true),
    pid: view.getUint32(Offset.pid, true),
    tid: view.getUint32(Offset.tid, true),
    a: view.getBigUint64(Offset.a, true),
    b: view.getBigUint64(Offset.b, true),
    c: view.getBigUint64(Offset.c, true),
    d: view.getBigUint64(Offset.d, true),
    e: view.getBigUint64(Offset.e, true),
  };
}

describe("ring through bun:ffi", () => {
  test("create makes a 0600 file of the documented size; open sees the same geometry", () => {
    const path = ringPath("geometry");
    const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 256, mode: "overwrite" });
    const stat = statSync(path);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.size).toBe(Ring.sizeBytes(4, 256));
    expect(stat.size).toBe(4096 + 4096 + 4 * 256 * 64);
    const other = Ring.open(path);
    const { createdMonotonicNs, createdRealtimeNs, ...stats } = other.stats();
    expect(stats).toEqual({
      written: 0,
      dropped: 0,
      overwritten: 0,
      abandoned: 0,
      received: 0,
      pending: 0,
      producersAttached: 0,
      overflowPending: 0,
      overflowed: 0,
      laneCount: 4,
      laneCapacitySlots: 256,
      mode: "overwrite",
      stopReason: 0,
      unpacked: 0,
    });
    expect(createdMonotonicNs).toBeGreaterThan(0n);
    expect(createdMonotonicNs).toBeLessThanOrEqual(monotonicNs());
    expect(createdRealtimeNs).toBeGreaterThan(1_577_836_800_000_000_000n);
    other.close();
    ring.close();
  });

  test("records written by one mapping are drained by another, stamped, with pid and tid", () => {
    const path = ringPath("roundtrip");
    const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" });
    const writerSide = Ring.open(path);
    const producer = writerSide.attachProducer(4242, 3);
    const before = monotonicNs();
    expect(producer.record(EventKind.message_send, 2, 7, 2 ** 53, 0, -1, 12.9)).toBe(true);
    expect(producer.string(5, "héllo, a string longer than one thirty-two byte fragment")).toBe(true);
    const buffer = new Uint8Array(16 * RECORD_SIZE);
    const count = ring.drain(buffer);
    expect(count).toBe(3);
    const first = readRecord(buffer, 0);
    expect(first.timestampNs).toBeGreaterThanOrEqual(before);
    expect(first.timestampNs).toBeLessThanOrEqual(monotonicNs());
    expect({ ...first, timestampNs: 0n }).toEqual({
      seq: 0,
      kind: EventKind.message_send,
      flags: 2,
      timestampNs: 0n,
      pid: 4242,
      tid: 3,
      a: 7n,
      b: 2n ** 53n,
      c: 0n,
      d: 2n ** 64n - 1n,
      e: 12n,
    });
    const text = new TextEncoder().encode("héllo, a string longer than one thirty-two byte fragment");
    const fragments = [readRecord(buffer, 1), readRecord(buffer, 2)];
    expect(fragments.map((fragment) => [fragment.kind, fragment.flags, fragment.a])).toEqual([
      [EventKind.string, 0, 5n | (BigInt(text.length) << 32n)],
      [EventKind.string, 1, 5n | (BigInt(text.length) << 32n)],
    ]);
    const joined = new Uint8Array(64);
    joined.set(buffer.subarray(1 * RECORD_SIZE + 32, 2 * RECORD_SIZE), 0);
    joined.set(buffer.subarray(2 * RECORD_SIZE + 32, 3 * RECORD_SIZE), 32);
    expect(new TextDecoder().decode(joined.subarray(0, text.length))).toBe("héllo, a string longer than one thirty-two byte fragment");
    expect(producer.stats()).toEqual({ written: 3, dropped: 0 });
    producer.detach();
    expect(producer.record(EventKind.drop, 0, 1, 0, 0, 0, 0)).toBe(false);
    writerSide.close();
    ring.close();
  });

  test("a batch is written in order; zero timestamps stamped, given ones kept; what the lane cannot take waits in the producer's overflow", () => {
    const path = ringPath("batch");
    const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 32, mode: "discard" });
    const producer = ring.attachProducer(1, 0);
    const batch = new Uint8Array(40 * RECORD_SIZE);
    const view = new DataView(batch.buffer);
    for (let i = 0; i < 40; i++) {
      view.setUint16(i * RECORD_SIZE + Offset.kind, EventKind.agent_error, true);
      view.setBigUint64(i * RECORD_SIZE + Offset.a, BigInt(i), true);
      if (i === 1) view.setBigUint64(i * RECORD_SIZE + Offset.timestampNs, 77n, true);
    }
    // 32 slots: a batch of 40 puts 32 in the lane and keeps 8 in the producer's overflow.
    expect(producer.writeBatch(batch)).toBe(40);
    expect(producer.stats()).toEqual({ written: 40, dropped: 0 });
    expect([ring.stats().written, ring.stats().overflowPending]).toEqual([32, 8]);
    const out = new Uint8Array(64 * RECORD_SIZE);
    expect(ring.drain(out)).toBe(32);
    expect(Array.from({ length: 32 }, (_, i) => readRecord(out, i).a)).toEqual(Array.from({ length: 32 }, (_, i) => BigInt(i)));
    expect(readRecord(out, 1).timestampNs).toBe(77n);
    expect(readRecord(out, 2).timestampNs).toBeGreaterThan(77n);
    // The next write moves the overflow into the lane first: order holds.
    expect(producer.writeBatch(batch, 3)).toBe(3);
    expect(ring.drain(out)).toBe(11);
    expect(Array.from({ length: 11 }, (_, i) => readRecord(out, i).a)).toEqual([32, 33, 34, 35, 36, 37, 38, 39, 0, 1, 2].map(BigInt));
    // Stamped when written to the overflow, not when moved: before the three written after.
    expect(readRecord(out, 7).timestampNs).toBeLessThanOrEqual(readRecord(out, 8).timestampNs);
    const stats = ring.stats();
    expect([stats.written, stats.dropped, stats.received, stats.pending, stats.overflowPending, stats.overflowed]).toEqual([43, 0, 43, 0, 0, 8]);
    producer.detach();
    ring.close();
  });

  test("overwrite mode keeps the newest lap and counts the rest as overwritten", () => {
    const path = ringPath("overwrite");
    const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 16, mode: "overwrite" });
    const producer = ring.attachProducer(1, 0);
    for (let i = 0; i < 100; i++) expect(producer.record(EventKind.agent_error, 0, i, 0, 0, 0, 0)).toBe(true);
    const out = new Uint8Array(64 * RECORD_SIZE);
    expect(ring.drain(out)).toBe(16);
    expect(readRecord(out, 0).a).toBe(84n);
    expect(readRecord(out, 15).a).toBe(99n);
    const stats = ring.stats();
    expect([stats.written, stats.dropped, stats.overwritten, stats.received]).toEqual([100, 0, 84, 16]);
    producer.detach();
    ring.close();
  });

  test("producers take an empty lane each; lane 0 is shared once the others are taken", () => {
    const path = ringPath("lanes");
    const ring = Ring.create(path, { laneCount: 3, laneCapacitySlots: 8, mode: "discard" });
    const producers = Array.from({ length: 4 }, (_, i) => ring.attachProducer(1, i));
    expect(producers.map((producer) => producer.lane)).toEqual([1, 2, 0, 0]);
    expect(ring.stats().producersAttached).toBe(4);
    for (const producer of producers) producer.detach();
    expect(ring.stats().producersAttached).toBe(0);
    // Detached lanes are empty again: the next producer takes the next one round-robin.
    const again = ring.attachProducer(1, 5);
    expect(again.lane).toBe(1);
    again.detach();
    ring.close();
  });

  test("errors say what is wrong", () => {
    const path = ringPath("errors");
    expect(() => Ring.create(path, { laneCount: 2, laneCapacitySlots: 100, mode: "discard" })).toThrow(
      `ring create ${path}: invalid argument (lane count 1..256, lane capacity a power of two 8..4194304, total at most 4 GiB)`,
    );
    expect(() => Ring.open(path)).toThrow(`ring open ${path}: no such file`);
    const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" });
    expect(() => Ring.create(path, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" })).toThrow(`ring create ${path}: already exists`);
    ring.close();
    const notRing = ringPath("not-a-ring");
    writeFileSync(notRing, new Uint8Array(8192), { mode: 0o600 });
    expect(() => Ring.open(notRing)).toThrow(`ring open ${notRing}: not a scope ring (bad magic or header)`);
    const short = ringPath("short");
    writeFileSync(short, new Uint8Array(100), { mode: 0o600 });
    expect(() => Ring.open(short)).toThrow(RingError);
    // A real ring cut short: its header promises more bytes than the file has.
    const cut = ringPath("cut");
    Ring.create(cut, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" }).close();
    const data = new Uint8Array(readFileSync(cut));
    writeFileSync(cut, data.subarray(0, data.length - 4096));
    expect(() => Ring.open(cut)).toThrow(`ring open ${cut}: file size does not match its ring header`);
    // A newer ring layout version.
    data[8] = data[8]! + 1;
    writeFileSync(cut, data);
    expect(() => Ring.open(cut)).toThrow(`ring open ${cut}: written by a different scope version (ring or record layout version differs)`);
    expect(() => Ring.unlink(`${path}-missing`)).toThrow("no such file");
  });
});

const addonPath = join(import.meta.dir, "..", "zig-out/lib/scope.node");

/** Runs inside a real node process: the main thread and a worker write through scope.node. */
const nodeScript = `
const { Worker } = require("node:worker_threads");
const [addonPath, ringPath] = process.argv.slice(1);
const addon = require(addonPath);
const out = {};
out.beforeAttach = addon.record(13, 0, 1, 0, 0, 0, 0);
out.attachMissing = addon.attach("/dev/shm/scope-no-such-ring", 0);
out.attach = addon.attach(ringPath, 7);
out.attachOtherRing = addon.attach(ringPath + "-other", 7);
out.record = addon.record(10, 2, 1, 2 ** 53, 0, -1, 3.5);
out.string = addon.string(9, "h\u00e9llo" + "x".repeat(5000));
const batch = new BigUint64Array(8 * 3);
for (let i = 0; i < 3; i++) { batch[i * 8] = 11n << 32n; batch[i * 8 + 3] = BigInt(100 + i); }
batch[8 + 1] = 555n;
out.batchTyped = addon.recordBatch(batch, 3);
out.batchArrayBuffer = addon.recordBatch(batch.buffer, 1);
out.batchNotABuffer = addon.recordBatch("nope", 1);
out.batchTooFew = addon.recordBatch(new Uint8Array(10), 1);
out.recordOddArguments = addon.record("x", {}, null);
out.stats = addon.stats();
const worker = new Worker("const a = require(process.argv[2]); a.attach(process.argv[3], 8); a.record(12, 0, 42, 0, 0, 0, 0); a.detach();", { eval: true, argv: [addonPath, ringPath] });
worker.on("exit", (code) => {
  out.workerExit = code;
  addon.detach();
  out.afterDetach = addon.record(13, 0, 1, 0, 0, 0, 0);
  console.log(JSON.stringify(out));
});
`;

describe("scope.node from a real node process", () => {
  test("main thread and worker each get a producer; records, strings and batches arrive whole", async () => {
    const path = ringPath("napi");
    const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 1024, mode: "discard" });
    const child = Bun.spawn(["node", "-e", nodeScript, addonPath, path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(JSON.parse(stdout)).toEqual({
      beforeAttach: false,
      attachMissing: false,
      attach: true,
      attachOtherRing: false,
      record: true,
      string: true,
      batchTyped: 3,
      batchArrayBuffer: 1,
      batchNotABuffer: 0,
      batchTooFew: 0,
      recordOddArguments: true,
      stats: { written: 1 + 128 + 3 + 1 + 1, dropped: 0 },
      workerExit: 0,
      afterDetach: false,
    });
    const buffer = new Uint8Array(1024 * RECORD_SIZE);
    const count = ring.drain(buffer);
    expect(count).toBe(1 + 128 + 3 + 1 + 1 + 1);
    const records = Array.from({ length: count }, (_, i) => readRecord(buffer, i));
    const main = records.filter((record) => record.tid === 7);
    const worker = records.filter((record) => record.tid === 8);
    expect(new Set(records.map((record) => record.pid))).toEqual(new Set([child.pid]));
    expect({ ...main[0]!, timestampNs: 0n, pid: 0 }).toEqual({
      seq: 0, kind: 10, flags: 2, timestampNs: 0n, pid: 0, tid: 7, a: 1n, b: 2n ** 53n, c: 0n, d: 2n ** 64n - 1n, e: 3n,
    });
    const fragments = main.slice(1, 129);
    expect(fragments.every((record, index) => record.kind === EventKind.string && record.flags === index && record.a === (9n | (4096n << 32n)))).toBe(true);
    expect(main.slice(129, 133).map((record) => [record.kind, record.a])).toEqual([[11, 100n], [11, 101n], [11, 102n], [11, 100n]]);
    expect(main[130]!.timestampNs).toBe(555n);
    expect(main[133]!.kind).toBe(0);
    expect(worker.map((record) => [record.kind, record.a])).toEqual([[12, 42n]]);
    expect(ring.stats().producersAttached).toBe(0);
    ring.close();
  });

  test("the scratch: one per thread, commit and commitString write what its fields and bytes say, nothing before attach or without one", async () => {
    const path = ringPath("napi-scratch");
    const previewText = '{"id":1,"name":"h\u00e9llo, a preview of more than 32 bytes"}';
    const length = BigInt(Buffer.byteLength(previewText));
    const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" });
    const script = `
const { Worker } = require("node:worker_threads");
const [addonPath, ringPath] = process.argv.slice(1);
const addon = require(addonPath);
const out = {};
const scratch = addon.scratch();
out.same = addon.scratch() === scratch && scratch instanceof ArrayBuffer;
out.bytes = scratch.byteLength;
const fields = new Float64Array(scratch, 0, 8);
const text = new Uint8Array(scratch, 64);
const fill = (values) => values.forEach((value, i) => (fields[i] = value));
fill([13, 0, 1, 0, 0, 0, 0, 0]);
out.beforeAttach = [addon.commit(), addon.commitString()];
out.attach = addon.attach(ringPath, 7);
fill([10, 2, 1, 2 ** 53, 0, -1, 3, 0]);
out.commit = String(addon.commit());
const preview = Buffer.from('{"id":1,"name":"h\u00e9llo, a preview of more than 32 bytes"}');
text.set(preview);
fill([14, 0, 5, 6, 7, preview.length + 1, 9, preview.length]);
out.commitString = String(addon.commitString());
out.stats = addon.stats();
out.fast = addon.stats(true).fast;
const worker = new Worker("const a = require(process.argv[2]); a.attach(process.argv[3], 9); out = [a.commit(), a.commitString()]; require('node:worker_threads').parentPort.postMessage(out); a.detach(); const f = new Float64Array(a.scratch(), 0, 8); a.attach(process.argv[3], 8); f.set([12, 0, 42, 0, 0, 0, 0, 0]); a.commit(); a.detach();", { eval: true, argv: [addonPath, ringPath] });
worker.on("message", (value) => (out.workerBeforeScratch = value));
worker.on("exit", (code) => {
  out.workerExit = code;
  addon.detach();
  out.afterDetach = addon.commit();
  console.log(JSON.stringify(out));
});
`;
    const child = Bun.spawn(["node", "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const out = JSON.parse(stdout);
    expect(out).toEqual({
      same: true,
      bytes: 64 + 4096,
      beforeAttach: [false, 0],
      attach: true,
      // Written: undefined from the Node-API functions (no value made on the hot path), true and
      // 2 from V8 Fast API ones (zig/napi.zig fast_define); false or a count below 2 when not.
      commit: out.fast ? "true" : "undefined",
      commitString: out.fast ? "2" : "undefined",
      fast: out.fast,
      stats: { written: 1 + 2 + 1, dropped: 0 },
      workerBeforeScratch: [false, 0],
      workerExit: 0,
      afterDetach: false,
    });
    const buffer = new Uint8Array(64 * RECORD_SIZE);
    const count = ring.drain(buffer);
    const records = Array.from({ length: count }, (_, i) => readRecord(buffer, i));
    const main = records.filter((record) => record.tid === 7);
    expect(main.map((record) => [record.kind, record.flags, record.a, record.b, record.c, record.d, record.e])).toEqual([
      [10, 2, 1n, 2n ** 53n, 0n, 2n ** 64n - 1n, 3n],
      [EventKind.string, 0, 9n | (length << 32n), main[1]!.b, main[1]!.c, main[1]!.d, main[1]!.e],
      [EventKind.string, 1, 9n | (length << 32n), main[2]!.b, main[2]!.c, main[2]!.d, main[2]!.e],
      [14, 0, 5n, 6n, 7n, length + 1n, 9n],
    ]);
    // The fragments hold the preview's bytes, 32 a record in fields b..e.
    const bytes = Buffer.alloc(64);
    [main[1]!, main[2]!].forEach((record, f) => [record.b, record.c, record.d, record.e].forEach((word, w) => bytes.writeBigUInt64LE(word, f * 32 + w * 8)));
    expect(bytes.subarray(0, Number(length)).toString("utf8")).toBe(previewText);
    expect(records.filter((record) => record.tid === 8).map((record) => [record.kind, record.a])).toEqual([[12, 42n]]);
    ring.close();
  });

  test("a full ring: commit() gives undefined (true from a Fast API function) for each record written, then false; commitString() the count written", async () => {
    const path = ringPath("napi-full");
    const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 64, mode: "discard" });
    const script = `
const [addonPath, ringPath] = process.argv.slice(-2);
const a = require(addonPath);
a.attach(ringPath, 3);
const f = new Float64Array(a.scratch(), 0, 8);
new Uint8Array(a.scratch(), 64, 30).fill(97);
const commits = [];
for (let i = 0; i < 2000; i++) { f.set([12, 0, i, 0, 0, 0, 0, 0]); commits.push(String(a.commit())); }
const strings = [];
for (let i = 0; i < 100; i++) { f.set([12, 0, i, 0, 0, 0, i + 1, 30]); strings.push(String(a.commitString())); }
const firstFalse = commits.indexOf("false");
console.log(JSON.stringify({ firstFalse, fast: a.stats(true).fast, written: a.stats().written, before: [...new Set(commits.slice(0, firstFalse))], after: [...new Set(commits.slice(firstFalse))], strings: [...new Set(strings)] }));
a.detach();
`;
    const child = Bun.spawn(["node", "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const out = JSON.parse(stdout);
    expect(out.firstFalse).toBeGreaterThan(0);
    expect(out).toEqual({ firstFalse: out.firstFalse, fast: out.fast, written: out.firstFalse, before: [out.fast ? "true" : "undefined"], after: ["false"], strings: ["0"] });
    ring.close();
  });

  test("the addon loaded twice into one thread, in Node and in Bun: each copy's commit writes its own scratch through its own producer", async () => {
    // process.dlopen of the same file again registers a second state (Node-API gives it an env
    // of its own in Node, not necessarily elsewhere) on the same thread: the commits'
    // per-thread shortcut must not take the first's.
    const script = `
const [addonPath, ringPath] = process.argv.slice(-2);
const first = require(addonPath);
const again = { exports: {} };
process.dlopen(again, addonPath);
const second = again.exports;
const out = { distinct: first.scratch() !== second.scratch() };
first.attach(ringPath, 5);
second.attach(ringPath, 6);
new Float64Array(first.scratch(), 0, 8).set([12, 0, 1, 0, 0, 0, 0, 0]);
new Float64Array(second.scratch(), 0, 8).set([12, 0, 2, 0, 0, 0, 0, 0]);
out.written = [second.commit(), first.commit(), second.commit()].map(String);
// Only the thread's first state makes Fast API functions (on a checked V8): the second's are Node-API's.
out.fast = [first.stats(true).fast, second.stats(true).fast];
first.detach();
second.detach();
console.log(JSON.stringify(out));
`;
    for (const runtime of ["node", process.execPath]) {
      const path = ringPath(`napi-twice-${runtime === "node" ? "node" : "bun"}`);
      const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" });
      const child = Bun.spawn([runtime, "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect({ runtime, exitCode, stderr }).toEqual({ runtime, exitCode: 0, stderr: "" });
      const out = JSON.parse(stdout);
      const written = (fast: boolean) => (fast ? "true" : "undefined");
      expect({ runtime, out }).toEqual({
        runtime,
        out: { distinct: true, fast: [runtime === "node" && out.fast[0], false], written: [written(out.fast[1]), written(out.fast[0]), written(out.fast[1])] },
      });
      const buffer = new Uint8Array(64 * RECORD_SIZE);
      const count = ring.drain(buffer);
      const records = Array.from({ length: count }, (_, i) => readRecord(buffer, i)).filter((record) => record.kind === 12);
      expect({ runtime, records: records.map((record) => [record.tid, record.a]).sort() }).toEqual({ runtime, records: [[5, 1n], [6, 2n], [6, 2n]] });
      ring.close();
    }
  });

  test("a lean load (the agent's loader: exports carrying `lean`) makes only what every thread uses, the rest at fullApi(), once; any other load makes all", async () => {
    const script = `
const [addonPath, ringPath] = process.argv.slice(-2);
const names = (object) => Object.keys(object).filter((key) => typeof object[key] === "function").sort();
const plain = require(addonPath);
const holder = { exports: { lean: true } };
process.dlopen(holder, addonPath);
const lean = holder.exports;
const out = { plain: names(plain), lean: names(lean) };
out.rareReturnsExports = lean.fullApi(true) === lean;
out.rare = names(lean);
const record = lean.record;
const stopped = lean.stopped;
out.returnsExports = lean.fullApi() === lean;
out.full = names(lean);
const now = lean.now;
lean.fullApi();
out.madeOnce = lean.now === now && lean.record === record && lean.stopped === stopped;
out.attach = lean.attach(ringPath, 9);
out.clock = typeof lean.now() === "number" && lean.now() > 0;
out.stats = typeof lean.stats() === "object";
out.stopped = lean.stopped();
lean.detach();
console.log(JSON.stringify(out));
`;
    // commitEvent exists only as a Fast API function (zig/napi.zig): the plain load's (the thread's
    // first env, on Node 20's checked V8), not the lean one's (a second env on the thread gets Node-API functions).
    const every = ["attach", "commit", "commitEvent", "commitEvents", "commitString", "detach", "events", "loopApi", "mapApi", "now", "prefault", "record", "recordBatch", "recordString", "release", "scratch", "shareFile", "sharedFile", "stats", "stopped", "string"];
    const lean = ["attach", "commit", "commitString", "fullApi", "scratch", "sharedFile", "string"];
    // Made by fullApi(true) alone: what the core calls now and then (zig/napi.zig rare_exports_table).
    const rare = [...lean, "loopApi", "mapApi", "record", "recordString", "shareFile", "stopped"].sort();
    const path = ringPath("napi-lean");
    const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 64, mode: "discard" });
    const child = Bun.spawn(["node", "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    ring.close();
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(JSON.parse(stdout)).toEqual({
      plain: every,
      lean,
      rareReturnsExports: true,
      rare,
      returnsExports: true,
      full: [...every.filter((name) => name !== "commitEvent"), "fullApi"].sort(),
      madeOnce: true,
      attach: true,
      clock: true,
      stats: true,
      stopped: 0,
    });
  });

  test("V8 Fast API commits and clock on the checked V8s (Node 20, 22, 24): optimized code calls the C bodies, which write and return what the Node-API functions do; Bun keeps Node-API", async () => {
    // Forced through TurboFan with natives syntax, so whether the fast body ran is the addon's
    // own count (stats(true).fastCalls), not a timing. A lane of 64 slots and the producer's overflow
    // fill, so the refusals of both bodies are seen too.
    const script = `
const [addonPath, ringPath] = process.argv.slice(-2);
const a = require(addonPath);
const out = { v8: process.versions.v8, names: [a.commit.name, a.commitString.name, a.now.name, a.commitEvents.name], attach: a.attach(ringPath, 4) };
const f = new Float64Array(a.scratch(), 0, 8);
new Uint8Array(a.scratch(), 64, 30).fill(97);
const set = (i, id) => { f[0] = 12; f[1] = 0; f[2] = i; f[3] = 0; f[4] = 0; f[5] = 0; f[6] = id; f[7] = 30; };
function commitOne(i) { set(i, 0); return a.commit(); }
function commitStringOne(i) { set(i, i + 1); return a.commitString(); }
function slowOne(i) { set(i, 0); return a.commit(); }
function slowStringOne(i) { set(i, i + 1); return a.commitString(); }
%NeverOptimizeFunction(slowOne);
%NeverOptimizeFunction(slowStringOne);
out.slow = [slowOne(0), slowStringOne(1)].map(String);
%PrepareFunctionForOptimization(commitOne);
%PrepareFunctionForOptimization(commitStringOne);
commitOne(2); commitStringOne(3); commitOne(2); commitStringOne(3);
const before = a.stats(true).fastCalls;
%OptimizeFunctionOnNextCall(commitOne);
%OptimizeFunctionOnNextCall(commitStringOne);
out.fast = [commitOne(4), commitStringOne(5)].map(String);
out.fastCalls = a.stats(true).fastCalls - before;
// now(): the producer's clock from either body (nanoseconds, after the attach's).
function nowOne() { return a.now(); }
%PrepareFunctionForOptimization(nowOne);
const slowNow = nowOne();
nowOne();
%OptimizeFunctionOnNextCall(nowOne);
const beforeNow = a.stats(true).fastCalls;
const fastNow = nowOne();
out.now = { ordered: slowNow > 0 && fastNow >= slowNow, fastCalls: a.stats(true).fastCalls - beforeNow };
let i = 6;
while (commitOne(i) !== false && i < 1000000) i++;
out.fullAt = i;
out.refused = [commitOne(i + 1), commitStringOne(i + 2), slowOne(i + 3), slowStringOne(i + 4)].map(String);
out.optimized = [%GetOptimizationStatus(commitOne) & 16, %GetOptimizationStatus(commitStringOne) & 16].map(Boolean);
out.fastApi = (({ fast, fastCalls }) => ({ fast, calls: fastCalls }))(a.stats(true));
out.written = a.stats().written;
a.detach();
console.log(JSON.stringify(out));
`;
    const checked = (v8: string) => ["11.3.", "12.4.", "13.6."].some((prefix) => v8.startsWith(prefix));
    for (const node of nodeVersions.filter((version) => version.installed)) {
      const path = ringPath(`napi-fast-${node.name.replace(" ", "")}`);
      const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 64, mode: "discard" });
      const child = Bun.spawn([node.path, "--allow-natives-syntax", "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect({ node: node.name, exitCode, stderr }).toEqual({ node: node.name, exitCode: 0, stderr: "" });
      const out = JSON.parse(stdout);
      const fast = checked(out.v8);
      expect({ node: node.name, ...out }).toEqual({
        node: node.name,
        v8: out.v8,
        // Named as the Node-API functions are (Function::SetName).
        names: ["commit", "commitString", "now", "commitEvents"],
        attach: true,
        // Written: true and 2 from both bodies of a Fast API function (the same values, so code
        // compiled with the interpreter's feedback sees nothing new), undefined from the
        // Node-API functions; the agent reads only false and counts below 2.
        slow: fast ? ["true", "2"] : ["undefined", "undefined"],
        fast: fast ? ["true", "2"] : ["undefined", "undefined"],
        fastCalls: fast ? 2 : 0,
        now: { ordered: true, fastCalls: fast ? 1 : 0 },
        fullAt: out.fullAt,
        refused: ["false", "0", "false", "0"],
        optimized: [true, true],
        fastApi: { fast, calls: out.fastApi.calls },
        // 0..5 above (two strings among them: six records), then one a commit from 6 to the refusal.
        written: out.fullAt + 6,
      });
      expect(out.fastApi.calls >= (fast ? out.fullAt - 6 : 0) && (fast || out.fastApi.calls === 0)).toBe(true);
      // What the fast bodies wrote is what the slow ones write: the records in order, field a as
      // set (the lane's 64; the rest waits in the producer's overflow).
      const buffer = new Uint8Array(64 * RECORD_SIZE);
      const count = ring.drain(buffer);
      const records = Array.from({ length: count }, (_, index) => readRecord(buffer, index)).filter((record) => record.kind === 12);
      expect(records.length).toBeGreaterThan(8);
      expect(records.map((record) => Number(record.a))).toEqual([0, 1, 2, 3, 2, 3, 4, 5, ...Array.from({ length: out.fullAt - 6 }, (_, index) => index + 6)].slice(0, records.length));
      ring.close();
    }
    // Bun: its V8 shim exports FunctionTemplate::New, but not V8's own GetVersion: Node-API functions.
    const path = ringPath("napi-fast-bun");
    const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 64, mode: "discard" });
    const bunScript = `const a = require(process.argv.at(-2)); a.scratch(); a.attach(process.argv.at(-1), 4); console.log(JSON.stringify({ commit: String(a.commit()), fastApi: (({ fast, fastCalls }) => ({ fast, calls: fastCalls }))(a.stats(true)) })); a.detach();`;
    const child = Bun.spawn([process.execPath, "-e", bunScript, addonPath, path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ exitCode, stderr, out: JSON.parse(stdout) }).toEqual({ exitCode: 0, stderr: "", out: { commit: "undefined", fastApi: { fast: false, calls: 0 } } });
    ring.close();
  });

  test("commitEvent(kind, flags, a..e): both bodies write the record the scratch's commit() writes (the u64 none, ids above 2^32, fractions, NaN, 2^63), answer 1 / 0, and 2 for a non-number; Bun has none", async () => {
    const script = `
const [addonPath, ringPath] = process.argv.slice(-2);
const a = require(addonPath);
const out = { v8: process.versions.v8, has: typeof a.commitEvent === "function" };
if (out.has) {
  out.name = a.commitEvent.name;
  out.attach = a.attach(ringPath, 4);
  const f = new Float64Array(a.scratch(), 0, 8);
  const rows = [
    [12, 3, -1, 2 ** 40 + 5, 2 ** 53 - 1, 1.5, -(2 ** 31)],
    [12, 0, 0, 4294967296 * 7 + 1, -0, NaN, 2 ** 63],
    [12, 65537, 7, -2.5, Infinity, 2 ** 32, 4294967295],
    [12, 1, 42, 3, 2, 1, 0],
  ];
  const scratchOne = (r) => { for (let i = 0; i < 7; i++) f[i] = r[i]; return a.commit(); };
  function fastOne(r) { return a.commitEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6]); }
  function slowOne(r) { return a.commitEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6]); }
  %NeverOptimizeFunction(slowOne);
  %PrepareFunctionForOptimization(fastOne);
  for (const r of rows) fastOne(r);
  for (const r of rows) fastOne(r);
  %OptimizeFunctionOnNextCall(fastOne);
  fastOne(rows[3]);
  out.optimized = Boolean(%GetOptimizationStatus(fastOne) & 16);
  const written = a.stats().written;
  const before = a.stats(true).fastCalls;
  out.answers = [];
  for (const r of rows) out.answers.push(String(scratchOne(r)), fastOne(r), slowOne(r));
  out.fastCalls = a.stats(true).fastCalls - before;
  out.written = a.stats().written - written;
  // Not a number: the slow body takes nothing (the optimized code deoptimizes to it).
  const other = a.stats().written;
  out.notNumbers = [slowOne([12, 0, null, 0, 0, 0, 0]), slowOne([12, 0, 1, "2", 0, 0, 0]), fastOne([12, 0, 1, 2, 3, 4, {}]), slowOne([12, 0, 1, 2, 3, 4, 5n])];
  out.writtenByThem = a.stats().written - other;
  a.detach();
  out.detached = [fastOne(rows[3]), slowOne(rows[3])];
}
console.log(JSON.stringify(out));
`;
    const checked = (v8: string) => ["11.3.", "12.4.", "13.6."].some((prefix) => v8.startsWith(prefix));
    for (const node of nodeVersions.filter((version) => version.installed)) {
      const path = ringPath(`napi-event-${node.name.replace(" ", "")}`);
      const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 256, mode: "discard" });
      const child = Bun.spawn([node.path, "--allow-natives-syntax", "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect({ node: node.name, exitCode, stderr }).toEqual({ node: node.name, exitCode: 0, stderr: "" });
      const out = JSON.parse(stdout);
      if (!checked(out.v8)) {
        expect({ node: node.name, has: out.has }).toEqual({ node: node.name, has: false });
        ring.close();
        continue;
      }
      expect({ node: node.name, ...out }).toEqual({
        node: node.name,
        v8: out.v8,
        has: true,
        name: "commitEvent",
        attach: true,
        optimized: true,
        answers: Array.from({ length: 4 }, () => ["true", 1, 1]).flat(),
        fastCalls: 4,
        written: 12,
        notNumbers: [2, 2, 2, 2],
        writtenByThem: 0,
        detached: [0, 0],
      });
      const buffer = new Uint8Array(256 * RECORD_SIZE);
      const count = ring.drain(buffer);
      const fields = Array.from({ length: count }, (_, index) => readRecord(buffer, index))
        .filter((record) => record.kind === 12)
        .map(({ kind, flags, a, b, c, d, e }) => [kind, flags, a, b, c, d, e].map(String).join(" "));
      // The warm-up's 9 calls, then each row three ways: every way the same record.
      const measured = fields.slice(9);
      expect(measured.length).toBe(12);
      for (let row = 0; row < 4; row++) expect([measured[3 * row + 1], measured[3 * row + 2]]).toEqual([measured[3 * row]!, measured[3 * row]!]);
      expect(measured[0]).toBe(`12 3 ${2n ** 64n - 1n} ${2 ** 40 + 5} ${2 ** 53 - 1} 1 ${2n ** 64n - 2n ** 31n}`);
      expect(measured[3]).toBe(`12 0 0 ${4294967296 * 7 + 1} 0 0 ${2n ** 63n}`);
      expect(measured[6]).toBe(`12 1 7 ${2n ** 64n - 2n} 0 ${2 ** 32} 4294967295`);
      ring.close();
    }
    const path = ringPath("napi-event-bun");
    const ring = Ring.create(path, { laneCount: 1, laneCapacitySlots: 64, mode: "discard" });
    const child = Bun.spawn([process.execPath, "-e", script.replace(/%\w+\(\w+\)( & 16)?/g, "0"), addonPath, path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ exitCode, stderr, out: JSON.parse(stdout).has }).toEqual({ exitCode: 0, stderr: "", out: false });
    ring.close();
  });

  test("a lane held by a process that exited without detaching is taken over by the next producer", async () => {
    const path = ringPath("napi-exit");
    const ring = Ring.create(path, { laneCount: 3, laneCapacitySlots: 64, mode: "discard" });
    // process.exit skips the addon's detach: the lane stays held by a pid that is gone.
    const script = `const a = require(process.argv[1]); a.attach(process.argv[2], 0); a.record(13, 0, 1, 0, 0, 0, 0); process.exit(0);`;
    const child = Bun.spawn(["node", "-e", script, addonPath, path], { stdout: "pipe", stderr: "pipe" });
    expect({ exitCode: await child.exited, stderr: await new Response(child.stderr).text() }).toEqual({ exitCode: 0, stderr: "" });
    expect(ring.stats().producersAttached).toBe(1);
    // Tickets 1, 2, 3: lane 1 (taken over from the dead holder), lane 2, then lane 0 shared.
    const producers = Array.from({ length: 3 }, (_, i) => ring.attachProducer(1, i));
    expect(producers.map((producer) => producer.lane)).toEqual([1, 2, 0]);
    expect(ring.stats().producersAttached).toBe(3);
    expect(producers[0]!.record(EventKind.agent_error, 0, 2, 0, 0, 0, 0)).toBe(true);
    const buffer = new Uint8Array(8 * RECORD_SIZE);
    expect(ring.drain(buffer)).toBe(2);
    expect([readRecord(buffer, 0).a, readRecord(buffer, 1).a]).toEqual([1n, 2n]);
    for (const producer of producers) producer.detach();
    ring.close();
  });
});

/**
 * A message between two real processes writing into one ring: process A (node,
 * scope.node) stamps a send, writes a line to process B (bun, bun:ffi) over a pipe; B
 * stamps the receive, stamps a reply send and answers over another pipe; A stamps the
 * reply's receive. Each receive must come after its send, whichever clock the ring chose.
 */
const pingNodeScript = `
const { spawn } = require("node:child_process");
const readline = require("node:readline");
const [addonPath, ringPath, rounds] = process.argv.slice(1);
const addon = require(addonPath);
if (!addon.attach(ringPath, 1)) throw new Error("attach failed");
const child = spawn(process.env.BUN_BINARY, ["-e", process.env.PONG_SCRIPT], { stdio: ["pipe", "pipe", "inherit"] });
const lines = readline.createInterface({ input: child.stdout });
let round = 0;
function send() {
  addon.record(10, 0, 1, round, 0, 0, 0);
  child.stdin.write(round + "\\n");
}
lines.on("line", (line) => {
  if (line === "ready") return send();
  addon.record(11, 0, 2, Number(line), 0, 0, 0);
  round += 1;
  if (round < Number(rounds)) return send();
  child.stdin.end();
});
child.on("exit", (code) => {
  const stats = addon.stats();
  addon.detach();
  console.log(JSON.stringify({ code, stats }));
});
`;

const pongBunScript = `
const { Ring } = await import(process.env.RING_MODULE);
const ring = Ring.open(process.env.RING_PATH);
const producer = ring.attachProducer(process.pid, 2);
console.log("ready");
for await (const line of console) {
  if (line === "") continue;
  const round = Number(line);
  producer.record(11, 0, 1, round, 0, 0, 0);
  producer.record(10, 0, 2, round, 0, 0, 0);
  console.log(String(round));
}
producer.detach();
ring.close();
`;

const ringClockSymbols = { scope_ring_clock: { args: ["ptr", "ptr"], returns: "void" } } as const;

/** The ring's clock source from its header: 0 CLOCK_MONOTONIC, 1 TSC. */
function ringClockSource(path: string): number {
  const { dlopen } = require("bun:ffi") as typeof import("bun:ffi");
  const library = dlopen(libscopePath(), ringClockSymbols);
  const ring = Ring.open(path) as unknown as { handle: number };
  const values = new BigUint64Array(5);
  library.symbols.scope_ring_clock(ring.handle as never, values);
  (ring as unknown as Ring).close();
  library.close();
  return Number(values[0]);
}

function tscUsable(): boolean {
  const flags = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((line) => line.startsWith("flags")) ?? "";
  const words = new Set(flags.split(/[:\s]+/));
  const clocksource = readFileSync("/sys/devices/system/clocksource/clocksource0/current_clocksource", "utf8").trim();
  return process.arch === "x64" && words.has("constant_tsc") && words.has("nonstop_tsc") && clocksource === "tsc";
}

async function pingPong(path: string, rounds: number) {
  const before = monotonicNs();
  const child = Bun.spawn(["node", "-e", pingNodeScript, addonPath, path, String(rounds)], {
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...process.env,
      BUN_BINARY: process.execPath,
      PONG_SCRIPT: pongBunScript,
      RING_MODULE: join(import.meta.dir, "..", "src/core/ring.ts"),
      RING_PATH: path,
    },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const after = monotonicNs();
  expect({ exitCode, stderr, result: JSON.parse(stdout) }).toEqual({ exitCode: 0, stderr: "", result: { code: 0, stats: { written: 2 * rounds, dropped: 0 } } });
  return { before, after, nodePid: child.pid };
}

describe("timestamps across processes", () => {
  for (const clock of ["auto", "monotonic"] as const) {
    test(`a receive in one process never precedes its send in another (${clock} clock)`, async () => {
      const path = ringPath(`clock-${clock}`);
      // The ring's creator chooses the clock; SCOPE_RING_CLOCK reaches it through a
      // process of its own (the environment is read natively at create).
      const creator = Bun.spawnSync([process.execPath, "-e", `(await import(${JSON.stringify(join(import.meta.dir, "..", "src/core/ring.ts"))})).Ring.create(${JSON.stringify(path)}, { laneCount: 2, laneCapacitySlots: 4096, mode: "discard" }).close();`], {
        env: { ...process.env, SCOPE_RING_CLOCK: clock },
        stderr: "pipe",
      });
      expect({ exitCode: creator.exitCode, stderr: creator.stderr.toString() }).toEqual({ exitCode: 0, stderr: "" });
      expect(ringClockSource(path)).toBe(clock === "auto" && tscUsable() ? 1 : 0);
      const ring = Ring.open(path);
      const rounds = 300;
      const { before, after, nodePid } = await pingPong(path, rounds);
      const buffer = new Uint8Array(4 * rounds * RECORD_SIZE);
      const count = ring.drain(buffer);
      expect(count).toBe(4 * rounds);
      const records = Array.from({ length: count }, (_, i) => readRecord(buffer, i));
      // Per producer, in lane order, timestamps never go back.
      for (const tid of [1, 2]) {
        const own = records.filter((record) => record.tid === tid).map((record) => record.timestampNs);
        expect(own.length).toBe(2 * rounds);
        expect(own.every((value, index) => index === 0 || value >= own[index - 1]!)).toBe(true);
      }
      expect(new Set(records.filter((record) => record.tid === 1).map((record) => record.pid))).toEqual(new Set([nodePid]));
      expect(new Set(records.filter((record) => record.tid === 2).map((record) => record.pid)).has(nodePid)).toBe(false);
      const stamp = (kind: number, channel: bigint, round: bigint) =>
        records.find((record) => record.kind === kind && record.a === channel && record.b === round)!.timestampNs;
      const misordered: string[] = [];
      for (let round = 0n; round < BigInt(rounds); round++) {
        for (const channel of [1n, 2n]) {
          const sent = stamp(EventKind.message_send, channel, round);
          const received = stamp(EventKind.message_receive, channel, round);
          if (received <= sent) misordered.push(`channel ${channel} round ${round}: send ${sent}, receive ${received}`);
        }
      }
      expect(misordered).toEqual([]);
      // And they are CLOCK_MONOTONIC: within the test's own reads (TSC line: a few µs of slack).
      const slack = 50_000n;
      expect(records.every((record) => record.timestampNs + slack >= before && record.timestampNs <= after + slack)).toBe(true);
      ring.close();
    });
  }
});
