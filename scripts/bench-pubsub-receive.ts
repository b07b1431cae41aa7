/**
 * Nanoseconds a pub/sub receive costs (src/agent/shared/pubsub.ts: decode, quote, one record
 * with its string) against one plain record, in a Node process on a ring of its own:
 *   bun scripts/bench-pubsub-receive.ts [rounds]
 * Wall time of a loop: run on a quiet machine, or read it against the event's own figure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";

const root = join(import.meta.dir, "..");
const out = mkdtempSync(join(tmpdir(), "scope-bench-pubsub-"));
const path = `/dev/shm/scope-bench-pubsub-${process.pid}`;
const ring = Ring.create(path, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
try {
  const built = await Bun.build({ entrypoints: [join(root, "scripts/bench-pubsub-receive-node.ts")], target: "node", format: "cjs", outdir: out });
  if (!built.success) throw new Error(built.logs.join("\n"));
  const child = Bun.spawnSync(["node", join(out, "bench-pubsub-receive-node.js"), process.env.SCOPE_ADDON ?? join(root, "zig-out/lib/scope.node"), path, process.argv[2] ?? "5"], { stderr: "inherit" });
  process.stdout.write(child.stdout);
} finally {
  ring.close();
  Ring.unlink(path);
  rmSync(out, { recursive: true, force: true });
}
