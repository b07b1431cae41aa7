/**
 * How `scope run` passes on the signals meant to stop the program (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT): to the program, then to what it left in the run's job (src/run/descendants.ts),
 * each once; what a Ctrl-C during the --linger wait does; and what is let go once the trace is
 * closed (ARCHITECTURE.md "Descendants that outlive the program").
 */
import { readFileSync } from "node:fs";
import { groupOf, processGroup, runProcesses, signalEach, type RunMarks } from "./descendants";
import { ignoringEnv } from "./ignored-signals";
import { signalNumberOf } from "./signals";

export const forwardedSignals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
export type Forwarded = (typeof forwardedSignals)[number];

/**
 * Whether this process is in its terminal's foreground process group (/proc/self/stat: pgrp
 * equals tpgid): a SIGINT (or SIGQUIT) then is the terminal's Ctrl-C (Ctrl-\), which the kernel
 * sent to the whole group, the program (spawned into scope's group) included.
 */
export function inTerminalForeground(): boolean {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === Number(fields[2]);
  } catch {
    return false;
  }
}

/**
 * A probe of scope's process group, which the program shares: a `cat` reading a pipe of
 * scope's (so it ends with scope, however scope ends), which SIGINT, SIGTERM and SIGHUP end;
 * SIGQUIT it has blocked (coreutils' `env --block-signal`, so that it stays pending rather than
 * dumping a core), where this system's env can.
 * A signal sent to the whole group (`timeout`, `kill -- -PGID`, a terminal's keys, a
 * supervisor killing a control group) reached the program already, and the probe with it:
 * the kernel queues it to every member before the sender's kill() returns, so when scope's
 * handler runs the probe has it pending or has died of it. A signal sent to scope alone
 * leaves the probe running. Undefined when it cannot be started (then every signal is passed on).
 */
export type GroupProbe = { reachedGroup(signal: Forwarded): boolean; stop(): void };

export function groupProbe(): GroupProbe | undefined {
  const env = ignoringEnv();
  const start = () => {
    try {
      return Bun.spawn(env === null ? ["cat"] : [env, "--block-signal=QUIT", "cat"], { stdio: ["pipe", "ignore", "ignore"] });
    } catch {
      return undefined;
    }
  };
  let probe = start();
  if (probe === undefined) return undefined;
  return {
    reachedGroup(signal) {
      if (probe === undefined) return false;
      const number = signalNumberOf(signal);
      let reached = probe.signalCode === signal;
      let ended = probe.exitCode !== null || probe.signalCode !== null;
      if (!ended) {
        try {
          const status = readFileSync(`/proc/${probe.pid}/status`, "utf8");
          const mask = (field: string) => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)`, "m").exec(status)?.[1] ?? "0"}`);
          reached = ((mask("SigPnd") | mask("ShdPnd")) & (1n << BigInt(number - 1))) !== 0n;
          if (/^State:\s*Z/m.test(status)) {
            // Died, not reaped yet: its exit status (stat's last field) says by which signal.
            const stat = readFileSync(`/proc/${probe.pid}/stat`, "utf8").trim().split(" ");
            reached ||= (Number(stat.at(-1)) & 0x7f) === number;
            ended = true;
          }
        } catch {
          ended = true; // reaped between the two looks: Bun's exit status above
          reached ||= probe.signalCode === signal;
        }
      }
      // A probe that ended, or has one of these coming, is replaced for the next signal
      // (the program may outlive this one); one ended some other way never counts.
      if (reached || ended) {
        probe.kill("SIGKILL");
        probe = start();
      }
      return reached;
    },
    stop() {
      probe?.kill("SIGKILL");
      probe = undefined;
    },
  };
}

/** How long after a SIGINT, SIGTERM, SIGHUP or SIGQUIT the group probe is looked at (forwardSignals). */
const PROBE_DELAY_MS = 20;

/**
 * Passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on while the program runs and while scope waits
 * for what it started (--linger); release() when done. Not one the program has already: a
 * Ctrl-C or Ctrl-\ (while in the terminal's foreground group: the terminal sent it to the
 * whole group), or any of them sent to the process group scope and the program share
 * (groupProbe); a second one is "force quit" to many programs.
 *
 * One sent to scope alone (a supervisor's stop of its main pid, `kill <pid>`, Docker's PID 1)
 * is meant for the whole run, and reaches it in two steps: first the program (the direct
 * child) alone, as untraced, so that a runner that passes it on to its children (npm run,
 * concurrently, nodemon) stays the only one to, and each process gets one; then, once the
 * program has ended (childEnded), every process of the run still alive in scope's process
 * group (src/run/descendants.ts: what npx, a shell's `&` or a runner that does not pass it
 * on left behind) gets it too, once; so does one arriving while scope waits for them. A
 * SIGHUP only when the program died of it (to many servers it means "reload", and the program
 * may have run on long after it). One that left the group (a daemon) is left alone, as a
 * group signal would leave it.
 *
 * A program that left scope's group itself (`scope run -- setsid node app.js`) got no group
 * signal: one that reached scope's group is passed to it, and once it has ended to what it
 * left in its own session or group (the job's `own` place), as one sent to scope alone is.
 * A SIGINT or SIGQUIT sent after the program ended (a Ctrl-C at the waiting line) stops the
 * wait (stoppedBy), passed on the same way.
 *
 * `probe`: the group probe, started by the caller before the program when it can (scope run:
 * its spawn, ~1–2 ms of scope's CPU and a `cat`'s exec, then does not compete with the
 * program's own start; BENCHMARKS.md "scope run's own CPU: the GC and the probe before the program").
 */
export function forwardSignals(
  child: ReturnType<typeof Bun.spawn>,
  run?: RunMarks,
  probe: GroupProbe | undefined = groupProbe(),
): { childEnded(): void; waitBegins(): void; stoppedBy(): Forwarded | undefined; interrupted(): boolean; release(untilExit?: boolean): void } {
  /**
   * A second probe, started when scope begins to wait for what the program left (waitBegins): a
   * group signal that reaches it was sent after the program ended (a Ctrl-C at the waiting line),
   * one that reached only the first was sent before (the Ctrl-C that ended the program, whose
   * handler in scope may run just after scope saw the program end).
   */
  let lingerProbe: ReturnType<typeof groupProbe>;
  /**
   * Signals passed to the program while it ran, and who else gets them once it has ended:
   * `all` of the run's job (sent to scope alone), or only the processes in the program's own
   * group (a group signal, which reached scope's group but not the program's own).
   */
  const forRun = new Map<Forwarded, "all" | "own">();
  let childGone = false;
  let stopped: Forwarded | undefined;
  /** A SIGINT or SIGQUIT has arrived (a Ctrl-C, one that did not stop the wait: the program's). */
  let interrupted = false;
  const toRun = (signal: Forwarded, who: "all" | "own") => {
    if (run === undefined) return;
    const pids = runProcesses(run, child.pid).filter((process) => (who === "all" ? process.place !== "detached" : process.place === "own"));
    signalEach(
      pids.map((process) => process.pid),
      signal,
    );
  };
  /** `reachedGroup`: the signal reached scope's process group, so all in it have it already. */
  const pass = (signal: Forwarded, reachedGroup: boolean) => {
    const who = reachedGroup ? "own" : "all";
    if (!childGone && child.exitCode === null && child.signalCode === null) {
      // A program that left scope's group (`scope run -- setsid app`) got no group signal.
      if (reachedGroup && groupOf(child.pid) === processGroup()) return;
      child.kill(signal);
      if (forRun.get(signal) !== "all") forRun.set(signal, who);
    } else toRun(signal, who);
  };
  let lingerTried = false;
  /**
   * A signal whose handler ran after the program ended. A Ctrl-C (SIGINT) or Ctrl-\ (SIGQUIT)
   * sent then stops the wait (stoppedBy); one sent to the group before (lingerProbe) does not.
   */
  const duringWait = (signal: Forwarded, terminal: boolean) => {
    // Both probes looked at: each is fresh for the next signal.
    const late = lingerProbe?.reachedGroup(signal) ?? false;
    const early = probe?.reachedGroup(signal) ?? false;
    const group = late || early || terminal;
    pass(signal, group);
    // Without a second probe (it could not start) every group signal counts as sent during the wait.
    if ((signal === "SIGINT" || signal === "SIGQUIT") && (!group || late || (lingerTried && lingerProbe === undefined))) stopped ??= signal;
  };
  // Looked at a moment later (PROBE_DELAY_MS): `timeout` signals scope's pid first and the
  // group right after, so the group's may be a few microseconds behind, and scope may have
  // the two one after the other: one decision for what arrives within that moment.
  const deciding = new Set<string>();
  const decide = (signal: Forwarded, waited: boolean) => {
    deciding.delete(signal);
    if (waited) duringWait(signal, false);
    else pass(signal, probe?.reachedGroup(signal) ?? false);
  };
  const handlers = forwardedSignals.map(
    (signal) =>
      [
        signal,
        () => {
          const waited = childGone;
          interrupted ||= signal === "SIGINT" || signal === "SIGQUIT";
          if ((signal === "SIGINT" || signal === "SIGQUIT") && inTerminalForeground()) {
            // The terminal sent it to the whole foreground group at once: no delay needed.
            if (waited) return void duringWait(signal, true);
            probe?.reachedGroup(signal); // taken: the probe is fresh for the next one
            return void pass(signal, true);
          }
          if (probe === undefined) return void (waited ? duringWait(signal, false) : pass(signal, false));
          if (deciding.has(signal)) return;
          deciding.add(signal);
          setTimeout(decide, PROBE_DELAY_MS, signal, waited);
        },
      ] as const,
  );
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return {
    childEnded: () => {
      childGone = true;
      // SIGHUP is also "reload" to many servers: passed on only when the program died of it.
      if (child.signalCode !== "SIGHUP") forRun.delete("SIGHUP");
      // No signal to pass on (the usual end): no look over /proc (the linger's own follows).
      for (const [signal, who] of forRun) toRun(signal, who);
      forRun.clear();
    },
    waitBegins: () => {
      if (lingerTried) return;
      lingerTried = true;
      lingerProbe = groupProbe();
    },
    stoppedBy: () => stopped,
    interrupted: () => interrupted,
    release: (untilExit = false) => {
      if (untilExit) letGoUntilExit();
      handlers.forEach(([signal, handler]) => process.off(signal, handler));
      probe?.stop();
      lingerProbe?.stop();
    },
  };
}

let lettingGo = false;

/**
 * After the trace is closed, scope run only exits (with the program's status): a SIGINT,
 * SIGTERM, SIGHUP or SIGQUIT arriving in that moment (a Ctrl-C pressed again and again) is let
 * go rather than ending scope at its default action with another status. Installed once; the
 * process ends right after.
 */
function letGoUntilExit(): void {
  if (lettingGo) return;
  lettingGo = true;
  for (const signal of forwardedSignals) process.on(signal, () => {});
}
