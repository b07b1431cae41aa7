/**
 * The runtime writing into the real shared ring through scope.node from a Node process:
 * batched (recordBatch) and one record per event, decoded back with src/core/events.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Ring } from "../src/core/ring";
import { decodeRecords, type DecodedRecord } from "../src/core/events";
import { RECORD_SIZE } from "../src/core/layout";
import { cleanup, instrumentFixtures, scratchDir } from "./instrument-harness";

afterAll(cleanup);

const root = join(import.meta.dir, "..");
let bundlePath: string | undefined;

async function bundle(): Promise<string> {
  if (bundlePath) return bundlePath;
  const result = await Bun.build({ entrypoints: [join(root, "src/instrument/index.ts")], outdir: join(scratchDir(), "lib"), target: "node", format: "cjs", naming: "instrument.cjs", external: ["oxc-parser"] });
  if (!result.success) throw new Error(result.logs.map(String).join("\n"));
  bundlePath = result.outputs[0]!.path;
  return bundlePath;
}

function stringsOf(records: DecodedRecord[]): Map<number, string> {
  const parts = new Map<number, Uint8Array[]>();
  for (const record of records) {
    if (record.kind !== "string") continue;
    const id = Number(record.a & 0xffffffffn);
    const bytes = new Uint8Array(32);
    const view = new DataView(bytes.buffer);
    [record.b, record.c, record.d, record.e].forEach((word, i) => view.setBigUint64(i * 8, word, true));
    const list = parts.get(id) ?? [];
    list[record.flags] = bytes.slice(0, Math.min(32, Number(record.a >> 32n) - record.flags * 32));
    parts.set(id, list);
  }
  return new Map([...parts].map(([id, list]) => [id, Buffer.concat(list).toString("utf8")]));
}

async function traceInRing(level: "calls" | "full", batchSize: number): Promise<{ records: DecodedRecord[]; pid: number }> {
  const ringPath = `/dev/shm/scope-instrument-test-${process.pid}-${level}-${batchSize}`;
  const ring = Ring.create(ringPath, { laneCount: 2, laneCapacitySlots: 1 << 14, mode: "discard" });
  try {
    const target = join(instrumentFixtures, "cases", "declarations-fixture.cjs");
    const argv = ["node", join(instrumentFixtures, "ring-fixture.cjs"), await bundle(), join(root, "zig-out/lib/scope.node"), ringPath, level, String(batchSize), target];
    const child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
    const stderr = await new Response(child.stderr).text();
    expect({ status: await child.exited, stderr }).toEqual({ status: 0, stderr: "" });
    const buffer = new Uint8Array(RECORD_SIZE * 4096);
    const count = ring.drainFinal(buffer);
    return { records: decodeRecords(buffer.subarray(0, count * RECORD_SIZE)), pid: child.pid };
  } finally {
    ring.close();
    Ring.unlink(ringPath);
  }
}

for (const batchSize of [64, 1]) {
  test(`calls level, ${batchSize === 1 ? "one record per event" : "batched"}: table then calls, stamped natively, in order`, async () => {
    const { records, pid } = await traceInRing("calls", batchSize);
    const strings = stringsOf(records);
    const functions = records.filter((r) => r.kind === "function_table");
    const calls = records.filter((r) => r.kind === "function_call");
    const names = new Map(functions.map((r) => [r.a, strings.get(Number(r.b))]));
    expect(calls.map((r) => names.get(r.a))).toEqual(["hoisted", "defaults", "defaults", "inner", "shadow", "paramScope", "f", "<anonymous>"]);
    expect(functions.find((r) => strings.get(Number(r.b)) === "hoisted")).toMatchObject({ d: 3n, e: 1n, pid, tid: 0 });
    expect(strings.get(Number(functions[0]!.c))).toBe(join(instrumentFixtures, "cases", "declarations-fixture.cjs"));
    const ordinals = calls.map((r) => Number(r.b));
    expect(ordinals).toEqual([...ordinals].sort((x, y) => x - y));
    for (const record of [...functions, ...calls]) expect(record.timestampNs > 0n && record.pid === pid).toBe(true);
  });
}

test("full level: returns carry value previews as strings", async () => {
  const { records } = await traceInRing("full", 64);
  const strings = stringsOf(records);
  const returns = records.filter((r) => r.kind === "function_return").map((r) => strings.get(Number(r.c)));
  expect(returns.slice(0, 3)).toEqual(["42", "[1,2,0]", "[1,5,2]"]);
  expect(records.filter((r) => r.kind === "function_call").length).toBe(returns.length);
});
