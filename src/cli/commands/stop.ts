import { Command, Option, UsageError } from "clipanion";
import { runningCollectors } from "../../run/stale";

/** `scope stop`: the kill switch (SIGUSR2 to a `scope run`); recording stops, the program runs on. */
export class StopCommand extends Command {
  static override paths = [["stop"]];

  static override usage = Command.Usage({
    description: "stop recording in a running `scope run` at once; the traced program runs on",
    details: `
      Sends SIGUSR2 to the \`scope run\` process (the same as \`kill -USR2 <pid>\`): every agent stops
      recording within one drain period, its hooks turn into no-ops, the program runs on unharmed,
      and the trace is closed cleanly when the program ends, with a record saying recording was stopped.
      Without a pid, stops the only \`scope run\` of this user; with several running, name one.
    `,
    examples: [
      ["Stop the only running scope run", "scope stop"],
      ["Stop one of several", "scope stop 12345"],
    ],
  });

  pid = Option.String({ required: false, name: "pid" });

  async execute(): Promise<number> {
    const running = runningCollectors();
    let pid: number;
    if (this.pid !== undefined) {
      if (!/^\d+$/.test(this.pid)) throw new UsageError(`expected the pid of a scope run, got "${this.pid}"`);
      pid = Number(this.pid);
      if (!running.some((run) => run.pid === pid)) throw new UsageError(`pid ${pid} is not a scope run of this user that is recording`);
    } else if (running.length === 1) {
      pid = running[0]!.pid;
    } else if (running.length === 0) {
      throw new UsageError("no scope run of this user is recording");
    } else {
      const list = running.map((run) => `${run.pid} (${run.command})`).join(", ");
      throw new UsageError(`${running.length} scope runs are recording, name one: scope stop <pid>; ${list}`);
    }
    process.kill(pid, "SIGUSR2");
    this.context.stderr.write(`scope: recording stopped in scope run ${pid}; the program runs on\n`);
    return 0;
  }
}
