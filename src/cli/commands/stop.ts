import { Command, Option, UsageError } from "clipanion";
import { runningCollectors } from "../../run/stale";
import { stopCause } from "../../run/summary";

/** `scope stop`: the kill switch (SIGUSR2 to a `scope run`); recording stops, the program runs on. */
export class StopCommand extends Command {
  static override paths = [["stop"]];

  static override usage = Command.Usage({
    description: "stop recording in a running `scope run` at once; the traced program runs on",
    details: `
      Sends SIGUSR2 to the \`scope run\` process (the same as \`kill -USR2 <pid>\`): every agent stops
      recording within one drain period, its hooks turn into no-ops, the program runs on unharmed,
      and the trace is closed cleanly when the program ends, with a record saying recording was stopped.
      Without a pid, stops the only \`scope run\` of this user (the owner of its ring file) that is recording;
      with several, name one. With a pid, any user's run (root may stop others'; others get a one-line error).
      A run whose recording stopped already (scope stop, a limit, a failed write) is left as it is, said in a line, exit 0.
    `,
    examples: [
      ["Stop the only running scope run", "scope stop"],
      ["Stop one of several", "scope stop 12345"],
    ],
  });

  pid = Option.String({ required: false, name: "pid" });

  async execute(): Promise<number> {
    // Without a pid, only this user's runs; a pid names one run, whoever's (root may stop any).
    const running = runningCollectors(undefined, { anyOwner: this.pid !== undefined });
    const recording = running.filter((run) => run.stopReason === 0);
    const stoppedAlready = (runs: typeof running) => runs.map((run) => `${run.pid} (${stopCause(run.stopReason)})`).join(", ");
    let pid: number;
    if (this.pid !== undefined) {
      if (!/^\d+$/.test(this.pid)) throw new UsageError(`expected the pid of a scope run, got "${this.pid}"`);
      pid = Number(this.pid);
      const run = running.find((candidate) => candidate.pid === pid);
      if (run === undefined) throw new UsageError(`pid ${pid} is not a running scope run (no ring in /dev/shm that it maps)`);
      if (run.stopReason !== 0) {
        // Stopping twice is not an error: nothing records, as asked.
        this.context.stderr.write(`scope: recording in scope run ${pid} had stopped already (${stopCause(run.stopReason)}); the program runs on\n`);
        return 0;
      }
    } else if (recording.length === 1) {
      pid = recording[0]!.pid;
    } else if (recording.length === 0 && running.length > 0) {
      this.context.stderr.write(`scope: no scope run of this user is recording; stopped already: ${stoppedAlready(running)}\n`);
      return 0;
    } else if (recording.length === 0) {
      throw new UsageError("no scope run of this user is recording");
    } else {
      const list = recording.map((run) => `${run.pid} (${run.command})`).join(", ");
      throw new UsageError(`${recording.length} scope runs are recording, name one: scope stop <pid>; ${list}`);
    }
    try {
      process.kill(pid, "SIGUSR2");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const owner = running.find((run) => run.pid === pid)?.uid;
      if (code === "EPERM") throw new UsageError(`scope run ${pid} is another user's (uid ${owner}): only that user or root can stop it`);
      if (code === "ESRCH") throw new UsageError(`scope run ${pid} has ended`);
      throw error;
    }
    this.context.stderr.write(`scope: recording stopped in scope run ${pid}; the program runs on\n`);
    return 0;
  }
}
