import type { CommandClass } from "clipanion";

/** Every command class of the CLI; one class per file, path mirrors the command path. */
export const commands: CommandClass[] = [];
