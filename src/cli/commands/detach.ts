import { Command, Option, UsageError } from "clipanion";
import { sendControl } from "../../attach/control";

/** `scope detach <pid>`: ends a running `scope attach` of that pid; the process runs on as before. */
export class DetachCommand extends Command {
  static override paths = [["detach"]];

  static override usage = Command.Usage({
    description: "end a running `scope attach <pid>`: every hook removed, functions restored, the trace closed",
    examples: [["Leave pid 12345", "scope detach 12345"]],
  });

  pid = Option.String({ name: "pid" });

  async execute(): Promise<number> {
    if (!/^\d+$/.test(this.pid)) throw new UsageError(`expected the pid a scope attach is attached to, got "${this.pid}"`);
    const reply = await sendControl(Number(this.pid), { op: "detach" });
    if (reply === undefined) throw new UsageError(`no scope attach is running for pid ${this.pid}`);
    this.context.stderr.write(`scope: ${reply.message}\n`);
    return reply.ok ? 0 : 1;
  }
}
