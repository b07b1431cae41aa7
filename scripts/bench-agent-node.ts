/**
 * Node side of scripts/bench-agent.ts (bundled by it for node): ns per traced message
 * through the agent's own hook path (makeTracer → describe → Recorder → scope.node), and
 * its parts, for typical message shapes. Overwrite ring, no consumer.
 *   node <bundle> <scope.node> <ring-path> <messages> <rounds>
 */
import { describe, previewWalk, type TypeChecks } from "../src/agent/shared/preview";
// The string walk the byte walk replaced (also the tests' oracle).
import { describe as referenceDescribe, preview as referencePreview, previewSize as referenceSize } from "../spec/preview-reference";
import { channelField, Kind } from "../src/agent/shared/kinds";
import { makeTracer, newChannel, type Channel } from "../src/agent/node/hooks";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";

const [addonPath, ringPath, messagesText, roundsText] = process.argv.slice(2);
const addon = require(addonPath!) as Sink & { attach(path: string, tid: number): boolean; stats(): unknown; detach(): void };
if (!addon.attach(ringPath!, 0)) throw new Error(`attach ${ringPath} failed`);
const messages = Number(messagesText);
const rounds = Number(roundsText);
const types = require("node:util").types as TypeChecks;

const shapes: Record<string, (i: number) => unknown> = {
  "pool job {id,seed,rounds}": (i) => ({ id: i, seed: i, rounds: 200 }),
  "pool result {id,result}": (i) => ({ id: i, result: (i * 2654435761) >>> 0 }),
  "number": (i) => i,
  "short string": () => "ping",
  "Uint8Array(4096)": (() => {
    const bytes = new Uint8Array(4096);
    return () => bytes;
  })(),
  "nested {type,payload:{user,items[5],token}}": (i) => ({ type: "update", payload: { user: "ann", items: [1, 2, 3, 4, i], token: "s3cr3t" } }),
};

function measure(fn: (count: number) => void): number {
  fn(Math.min(messages, 100_000));
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // CPU time, not wall: on a shared machine the wall time is mostly waiting for a CPU.
    const start = process.cpuUsage();
    fn(messages);
    const used = process.cpuUsage(start);
    samples.push(((used.user + used.system) * 1000) / messages);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

// 1. The fast describe() must give exactly what the reference walk gives.
function corpus(): unknown[] {
  const withGetter = { a: 1 };
  Object.defineProperty(withGetter, "b", { get: () => { throw new Error("getter ran"); }, enumerable: true });
  const arrayWithGetter = [1, 2];
  Object.defineProperty(arrayWithGetter, 1, { get: () => { throw new Error("getter ran"); } });
  const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const reprotoMap = Object.setPrototypeOf(new Map([[1, 2]]), Object.prototype);
  const reprotoArray = Object.setPrototypeOf([1, 2, 3], Object.prototype);
  const proxy = new Proxy({ x: 1 }, { get() { throw new Error("trap ran"); }, ownKeys() { throw new Error("trap ran"); } });
  const deep = { a: { b: { c: { d: { e: 1 } } } }, arr: [[[[1]]]] };
  const wide: Record<string, number> = {};
  for (let i = 0; i < 100; i++) wide[`k${i}`] = i;
  const long = "x".repeat(5000);
  return [
    0, -0, 1.5, NaN, Infinity, 12345678901234567890n, true, false, null, undefined, Symbol("s"), () => 1,
    "", "ping", 'quote " and \\ back', "tab\tnew\nline", "é unicode ☃ 😀", "\ud800 lone", long, `${long}é`, "x".repeat(96), "x".repeat(97),
    { id: 1, seed: 2, rounds: 200 }, { password: "hunter2", token: 5, nested: { apiKey: "k", session: { a: 1 } }, ok: "yes" },
    { "we\"ird": 1, "ключ": "значение", "": 0 }, withGetter, arrayWithGetter, holes, reprotoMap, reprotoArray, proxy, [proxy],
    deep, wide, Array.from({ length: 200 }, (_, i) => i), Array.from({ length: 60 }, (_, i) => ({ i })),
    new Uint8Array(10), new DataView(new ArrayBuffer(8)), new ArrayBuffer(16), new SharedArrayBuffer(32), Buffer.from("hi"),
    new Date(0), new Map([[1, 2]]), new Set([1]), [new Map(), new Set(), new Date(0)], { d: { e: { f: new Uint8Array(3), g: [1] } } },
    Object.create(null), Object.assign(Object.create(null), { a: "b" }), new (class Point { x = 1; y = 2 })(), [undefined, null, "s"],
    { [Symbol("hidden")]: 1, visible: 2 }, new Error("boom"), /re/g, Promise.resolve(1), new WeakMap(), Object("boxed"),
  ];
}
let mismatches = 0;
for (const value of corpus()) {
  // The same text as the reference's, as the native conversion writes it (a lone surrogate
  // the cut leaves is U+FFFD in both), and the same size.
  const want = referenceDescribe(value, types);
  const got = describe(value, types);
  if (Buffer.compare(Buffer.from(want.preview), Buffer.from(got.preview)) !== 0 || want.sizeBytes !== got.sizeBytes) {
    mismatches++;
    process.stderr.write(`describe mismatch: ${JSON.stringify(want)} vs ${JSON.stringify(got)}\n`);
  }
}
if (mismatches > 0) throw new Error(`${mismatches} describe() results differ from the reference`);

const recorder = new Recorder(addon, { process: true, thread: true, message: true, http: true, db: true, loop: false, memory: false }, previewWalk);
const tracer = makeTracer(recorder, 0);
const channel: Channel = newChannel(1, 1, process.pid, 0, 1);
const results: Record<string, number> = {};

// Values made up front so the figures do not include building the program's message.
const values: Record<string, unknown[]> = {};
for (const [name, make] of Object.entries(shapes)) values[name] = Array.from({ length: 1024 }, (_, i) => make(i));

results["parts: addon.record() alone"] = measure((n) => {
  for (let i = 0; i < n; i++) addon.record(13, 0, i, 2, 3, 4, 5);
});
results["parts: addon.recordString() with a 30-char preview"] = measure((n) => {
  for (let i = 0; i < n; i++) addon.recordString!(13, 0, i, 2, 3, 4, i + 1, '{"id":12345,"seed":12345,"ro"}');
});
{
  const scratch = addon.scratch!()!;
  const fields = new Float64Array(scratch, 0, 8);
  const bytes = new Uint8Array(scratch, 64);
  bytes.set(Buffer.from('{"id":12345,"seed":12345,"ro"}'));
  results["parts: fields + addon.commit() (the scratch)"] = measure((n) => {
    for (let i = 0; i < n; i++) {
      fields[0] = 13;
      fields[1] = 0;
      fields[2] = i;
      fields[3] = 2;
      fields[4] = 3;
      fields[5] = 4;
      fields[6] = 5;
      addon.commit!();
    }
  });
  results["parts: fields + addon.commitString() of a 30-byte preview (the scratch)"] = measure((n) => {
    for (let i = 0; i < n; i++) {
      fields[0] = 13;
      fields[1] = 0;
      fields[2] = i;
      fields[3] = 2;
      fields[4] = 3;
      fields[5] = 4;
      fields[6] = i + 1;
      fields[7] = 30;
      addon.commitString!();
    }
  });
}
results["parts: addon.string() of a 30-char preview"] = measure((n) => {
  for (let i = 0; i < n; i++) addon.string(i + 1, '{"id":12345,"seed":12345,"ro"}');
});
for (const [name, list] of Object.entries(values)) {
  results[`before: describe() (string walk) ${name}`] = measure((n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) sink += referenceDescribe(list[i & 1023], types).sizeBytes;
    if (sink < 0) console.log(sink);
  });
}
for (const [name, list] of Object.entries(values)) {
  results[`parts: describe() ${name}`] = measure((n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) sink += describe(list[i & 1023], types).sizeBytes;
    if (sink < 0) console.log(sink);
  });
}
// The send path before the walk was shared with function tracing's byte previews: the
// string walk it replaced (the tests' oracle), then string and event in one recordString.
const oldRecorder = new Recorder({ record: addon.record.bind(addon), string: addon.string.bind(addon), recordString: addon.recordString!.bind(addon) }, recorder.groups, previewWalk);
const oldSend = (value: unknown) => {
  const ordinal = channel.sent++;
  const text = referencePreview(value, types);
  const field = channelField(channel.kind, channel.sendDirection, channel.subId);
  oldRecorder.eventWithString(Kind.message_send, ordinal, field, channel.ownerPid, referenceSize(), text);
};
for (const [name, list] of Object.entries(values)) {
  results[`before: string walk + recordString ${name}`] = measure((n) => {
    for (let i = 0; i < n; i++) oldSend(list[i & 1023]);
  });
  results[`tracer.send() ${name}`] = measure((n) => {
    for (let i = 0; i < n; i++) tracer.send(channel, list[i & 1023]);
  });
}
results["tracer.receive()"] = measure((n) => {
  for (let i = 0; i < n; i++) tracer.receive(channel);
});
const stats = addon.stats();
addon.detach();
process.stdout.write(`${JSON.stringify({ results, stats, errors: recorder.errors + oldRecorder.errors, unrecorded: recorder.unrecorded + oldRecorder.unrecorded })}\n`);
