/** The `scope view` tests' trace: spec/fixtures/view/app.cjs recorded by a real `scope run --functions --async --events +loop,+memory`. */
import { copyFileSync, mkdtempSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runCli } from "./harness";

export const viewFixture = join(repoRoot, "spec/fixtures/view/app.cjs");
/** A worker answering 400 messages sent about a millisecond apart: 800 arrows over the run. */
export const messagesFixture = join(repoRoot, "spec/fixtures/view/messages.cjs");

export interface ViewTraces {
  dir: string;
  /** A whole trace of the fixture. */
  trace: string;
  /** The same cut short in its last chunk: damaged. */
  damaged: string;
  /** spec/fixtures/view/messages.cjs recorded: many messages. */
  messages: string;
}

export async function recordViewTraces(): Promise<ViewTraces> {
  const dir = mkdtempSync(join(tmpdir(), "scope-view-"));
  const trace = join(dir, "trace.bin");
  const run = await runCli(["run", "--functions", "--async", "--events", "+loop,+memory", "--loop-interval", "20ms", "--long-task", "20ms", "-o", trace, "--", "node", viewFixture]);
  if (run.exitCode !== 0) throw new Error(`scope run failed (${run.exitCode}): ${run.stderr}`);
  const damaged = join(dir, "damaged.bin");
  copyFileSync(trace, damaged);
  truncateSync(damaged, Math.floor(statSync(damaged).size * 0.8));
  const messages = join(dir, "messages.bin");
  const busy = await runCli(["run", "-o", messages, "--", "node", messagesFixture]);
  if (busy.exitCode !== 0) throw new Error(`scope run failed (${busy.exitCode}): ${busy.stderr}`);
  return { dir, trace, damaged, messages };
}
