import { Command } from "clipanion";
import { runDoctor } from "../../doctor";

export class DoctorCommand extends Command {
  static override paths = [["doctor"]];

  static override usage = Command.Usage({
    description: "check that scope works on this machine",
    details: "Extracts the embedded native library and agent, loads the library, and writes and reads events through a shared-memory ring.",
    examples: [["Check the installation", "scope doctor"]],
  });

  async execute(): Promise<number> {
    return runDoctor(this.context.stdout);
  }
}
