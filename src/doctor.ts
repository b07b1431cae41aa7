/** `scope doctor`: each check prints one line; the exit status says whether all passed. */
import { randomBytes } from "node:crypto";
import type { Writable } from "node:stream";
import { assets, isCompiled } from "./core/assets";
import { EventKind, Offset, RECORD_SIZE } from "./core/layout";
import { Ring } from "./core/ring";
import { VERSION } from "./version";

interface Check {
  name: string;
  run: () => Promise<string> | string;
}

async function ringRoundTrip(): Promise<string> {
  const path = `/dev/shm/scope-doctor-${process.pid}-${randomBytes(4).toString("hex")}`;
  const ring = Ring.create(path, { laneCount: 2, laneCapacitySlots: 1024, mode: "discard" });
  try {
    const producer = ring.attachProducer(process.pid, 0);
    const count = 100;
    for (let i = 1; i <= count; i++) producer.record(EventKind.agent_error, 0, i, 0, 0, 0, 0);
    const buffer = new Uint8Array(2048 * RECORD_SIZE);
    const drained = ring.drain(buffer);
    const view = new DataView(buffer.buffer);
    for (let i = 0; i < drained; i++) {
      const a = Number(view.getBigUint64(i * RECORD_SIZE + Offset.a, true));
      if (a !== i + 1) throw new Error(`record ${i} carries ${a}, expected ${i + 1}`);
    }
    if (drained !== count) throw new Error(`wrote ${count} events, read back ${drained}`);
    producer.detach();
    return `${count} events written and read back through ${path}`;
  } finally {
    ring.close();
    Ring.unlink(path);
  }
}

/**
 * The reason in a failed node's stderr: its error's own line ("Error: Cannot find module ..."),
 * not the first line, which is where Node rethrew it (node:internal/modules/cjs/loader:1210);
 * how it ended when it printed nothing.
 */
function failureOf(stderr: string, exitCode: number | null, signal: string | number | null | undefined): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.find((line) => /^(?:[A-Z]\w*)?(?:Error|Exception)\b/.test(line)) ?? lines[0] ?? (signal ? `node was killed by ${signal}` : `node exited with code ${exitCode}, printing nothing`);
}

async function nodeAddon(addon: string): Promise<string> {
  const probe = `const a = require(${JSON.stringify(addon)}); if (typeof a.record !== "function") throw new Error("no record export"); console.log(process.version)`;
  const child = Bun.spawnSync(["node", "-e", probe], { stdout: "pipe", stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`node could not load the addon: ${failureOf(child.stderr.toString(), child.exitCode, child.signalCode)}`);
  return `node ${child.stdout.toString().trim()} loads scope.node`;
}

export async function runDoctor(out: Writable): Promise<number> {
  let failures = 0;
  let files: Awaited<ReturnType<typeof assets>> | undefined;
  const checks: Check[] = [
    { name: "assets", run: async () => { files = await assets(); return `${isCompiled ? "extracted to" : "from source,"} ${files.libscope.replace(/\/[^/]+$/, "")}`; } },
    { name: "ring", run: ringRoundTrip },
    { name: "node", run: () => nodeAddon(files!.addon) },
  ];
  out.write(`scope ${VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
  for (const check of checks) {
    try {
      out.write(`  ok    ${check.name}: ${await check.run()}\n`);
    } catch (error) {
      failures++;
      out.write(`  FAIL  ${check.name}: ${(error as Error).message}\n`);
      if (!files) break;
    }
  }
  return failures === 0 ? 0 : 1;
}
