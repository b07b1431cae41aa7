/**
 * Many producers, one small ring, one consumer. Native threads (zig-out/bin/scope-stress),
 * a Node process with a worker thread (scope.node) and a Bun process (bun:ffi) write
 * self-checking records into one shared ring at once, more producers than lanes so lanes
 * are shared across processes; this process drains while they run. Proves, in both modes
 * and across wrap-around: no corrupt record, no duplicate, per-producer order, and
 * received + dropped + overwritten == produced, exactly.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EventKind, RECORD_SIZE } from "../src/core/layout";
import { Ring, type RingMode } from "../src/core/ring";
import { KIND_AGENT_ERROR, mix, STRESS_FLAGS } from "./fixtures/stress-payload.mjs";

const repoRoot = join(import.meta.dir, "..");

const stressBinary = join(repoRoot, "zig-out/bin/scope-stress");
const addonPath = join(repoRoot, "zig-out/lib/scope.node");
// The payload the producers write, from the module they use (zig/stress.zig writes the same).
const KIND_FLAGS_WORD = KIND_AGENT_ERROR | (STRESS_FLAGS << 16);

interface ProducerReport {
  id: number;
  written: number;
  dropped: number;
}

interface Child {
  name: string;
  process: ReturnType<typeof Bun.spawn>;
  /** Producer ids this child writes as, each `records` records. */
  ids: number[];
  records: number;
}

function readerOf(stream: ReadableStream<Uint8Array>) {
  return stream.getReader();
}

/** Reads a child's stdout line by line. */
class Lines {
  private readonly reader: ReturnType<typeof readerOf>;
  private readonly decoder = new TextDecoder();
  private pending = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = readerOf(stream);
  }

  async next(): Promise<string> {
    for (;;) {
      const newline = this.pending.indexOf("\n");
      if (newline >= 0) {
        const line = this.pending.slice(0, newline);
        this.pending = this.pending.slice(newline + 1);
        return line;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error(`stream ended before a full line (have "${this.pending}")`);
      this.pending += this.decoder.decode(value, { stream: true });
    }
  }
}

class Checker {
  readonly nextSequence = new Map<number, number>();
  readonly received = new Map<number, number>();
  readonly pidOf = new Map<number, number>();
  corrupt = 0;
  outOfOrder = 0;
  /** `drop` records: a producer's report of its own losses (count), by producer id (tid). */
  readonly dropsReported = new Map<number, number>();
  dropRecords = 0;

  check(buffer: Uint8Array, count: number): void {
    const words = new Uint32Array(buffer.buffer, buffer.byteOffset, count * 16);
    for (let i = 0; i < count; i++) {
      const w = i * 16;
      if (words[w + 1] === (EventKind.drop | (1 << 16))) {
        const tid = words[w + 5]!;
        if (words[w + 4] !== this.pidOf.get(tid) || words[w + 7] !== 0) this.corrupt++;
        this.dropsReported.set(tid, (this.dropsReported.get(tid) ?? 0) + words[w + 6]!);
        this.dropRecords++;
        continue;
      }
      const id = words[w + 6]!;
      const sequence = words[w + 8]!;
      const c = mix(id, sequence);
      const whole =
        words[w] === 0 &&
        words[w + 1] === KIND_FLAGS_WORD &&
        (words[w + 2] !== 0 || words[w + 3] !== 0) &&
        words[w + 5] === id &&
        words[w + 4] === this.pidOf.get(id) &&
        words[w + 10] === c &&
        words[w + 12] === mix(c, 1) &&
        words[w + 14] === mix(c, 2) &&
        (words[w + 7]! | words[w + 9]! | words[w + 11]! | words[w + 13]! | words[w + 15]!) === 0;
      if (!whole) {
        this.corrupt++;
        continue;
      }
      // One producer writes one lane in order: its sequence numbers only grow.
      const next = this.nextSequence.get(id) ?? 0;
      if (sequence < next) this.outOfOrder++;
      this.nextSequence.set(id, sequence + 1);
      this.received.set(id, (this.received.get(id) ?? 0) + 1);
    }
  }
}

function spawnChildren(path: string, scale: number): Child[] {
  const options = { stdin: "pipe", stdout: "pipe", stderr: "inherit" } as const;
  return [
    {
      name: "native, 2 threads, one record per call",
      process: Bun.spawn([stressBinary, path, "100", "2", String(scale * 4), "1"], options),
      ids: [100, 101],
      records: scale * 4,
    },
    {
      name: "native, 2 threads, batches of 16",
      process: Bun.spawn([stressBinary, path, "200", "2", String(scale * 4), "16"], options),
      ids: [200, 201],
      records: scale * 4,
    },
    {
      name: "node, main thread single + worker batches through scope.node",
      process: Bun.spawn(["node", join(repoRoot, "spec/fixtures/stress-node-fixture.js"), addonPath, path, "300", String(scale)], options),
      ids: [300, 301],
      records: scale,
    },
    {
      name: "bun, bun:ffi single and batches",
      process: Bun.spawn([process.execPath, join(repoRoot, "spec/fixtures/stress-bun-fixture.js"), path, "400", String(scale)], options),
      ids: [400],
      records: scale,
    },
  ];
}

async function runStress(mode: RingMode) {
  const path = `/dev/shm/scope-spec-stress-${process.pid}-${mode}`;
  if (existsSync(path)) Ring.unlink(path);
  // 4 lanes × 64 slots for 7 producers: lanes are shared across processes, wrap
  // constantly and fill.
  const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 64, mode });
  try {
    const children = spawnChildren(path, 100_000);
    const lines = children.map((child) => new Lines(child.process.stdout as ReadableStream<Uint8Array>));
    for (const [index, child] of children.entries()) {
      expect(await lines[index]!.next()).toBe("ready");
    }
    const checker = new Checker();
    for (const child of children) for (const id of child.ids) checker.pidOf.set(id, child.process.pid);
    // Every producer has attached and waits at its gate; open all gates at once.
    for (const child of children) {
      const stdin = child.process.stdin as import("bun").FileSink;
      stdin.write("go\n");
      await stdin.end();
    }
    const reports = Promise.all(lines.map(async (reader) => JSON.parse(await reader.next()) as { producers: ProducerReport[] }));
    let running = true;
    const exited = Promise.all(children.map((child) => child.process.exited)).then((codes) => {
      running = false;
      return codes;
    });
    const buffer = new Uint8Array(512 * RECORD_SIZE);
    let drains = 0;
    while (running) {
      checker.check(buffer, ring.drain(buffer));
      drains++;
      // Let the exit promises settle between drains (a turn of the event loop, not a wait).
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await exited).toEqual(children.map(() => 0));
    for (;;) {
      const count = ring.drainFinal(buffer);
      if (count === 0) break;
      checker.check(buffer, count);
    }
    const producers = (await reports).flatMap((report) => report.producers);
    const produced = children.reduce((sum, child) => sum + child.ids.length * child.records, 0);
    const stats = ring.stats();
    const received = [...checker.received.values()].reduce((a, b) => a + b, 0);
    return { stats, producers, produced, received, checker, drains, children };
  } finally {
    ring.close();
    Ring.unlink(path);
  }
}

describe("stress: native threads, node (scope.node) and bun (bun:ffi) processes on one small ring", () => {
  for (const mode of ["discard", "overwrite"] as const) {
    test(`${mode}: nothing corrupt or duplicated, every record received or counted`, async () => {
      const { stats, producers, produced, received, checker, drains, children } = await runStress(mode);
      expect({ corrupt: checker.corrupt, outOfOrder: checker.outOfOrder }).toEqual({ corrupt: 0, outOfOrder: 0 });
      expect(received + checker.dropRecords).toBe(stats.received);
      expect(stats.abandoned).toBe(0);
      expect(stats.pending).toBe(0);
      expect(stats.overflowPending).toBe(0);
      expect(stats.producersAttached).toBe(0);
      expect(received + stats.dropped + stats.overwritten).toBe(produced);
      // Each producer's own account agrees with the ring's.
      expect(producers.map((p) => p.id).sort()).toEqual(children.flatMap((child) => child.ids).sort());
      for (const p of producers) expect(p.written + p.dropped).toBe(children.find((child) => child.ids.includes(p.id))!.records);
      // The ring's written also holds the producers' own drop records.
      expect(producers.reduce((sum, p) => sum + p.written, 0) + checker.dropRecords).toBe(stats.written);
      expect(producers.reduce((sum, p) => sum + p.dropped, 0)).toBe(stats.dropped);
      // A producer reports its losses itself once it can write again (at the latest when
      // it detaches, which waits for the drain), so none is unattributed here.
      for (const p of producers) expect(checker.dropsReported.get(p.id) ?? 0).toBe(p.dropped);
      // The case under test happened: more written than the whole ring holds, so at least
      // one lane wrapped (in discard mode only as far as the consumer, which competes for
      // the 2 cores with 7 producers, drained), and the ring filled.
      expect(stats.written).toBeGreaterThan(4 * 64);
      if (mode === "discard") {
        // Drops are possible, not certain: past its overflow a producer waits for a draining
        // consumer (zig/ring.zig spill) and drops only when that does not drain.
        expect(stats.overwritten).toBe(0);
      } else {
        expect(stats.overwritten).toBeGreaterThan(0);
        expect(stats.dropped).toBe(0);
      }
      // (A slow producer sharing a lane with a native one may get nothing through: that
      // is the ring working as specified, so no per-producer minimum is asserted here;
      // spec/ring.test.ts and the scope.node test prove each producer path delivers.)
      console.log(
        `${mode}: produced ${produced}, received ${received}, dropped ${stats.dropped}, overwritten ${stats.overwritten}, ${drains} drains`,
      );
    });
  }
});
