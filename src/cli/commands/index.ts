import type { CommandClass } from "clipanion";
import { AttachCommand } from "./attach";
import { BenchCommand } from "./bench";
import { DoctorCommand } from "./doctor";
import { DetachCommand } from "./detach";
import { DumpCommand } from "./dump";
import { ExportCommand } from "./export";
import { InstrumentCommand } from "./instrument";
import { MergeCommand } from "./merge";
import { RunCommand } from "./run";
import { StopCommand } from "./stop";
import { ViewCommand } from "./view";
import { QueryCommand } from "./query";
import { TopCommand } from "./top";

/** Every command class of the CLI; one class per file, path mirrors the command path. */
export const commands: CommandClass[] = [RunCommand, DumpCommand, InstrumentCommand, DoctorCommand, BenchCommand, StopCommand, ExportCommand, MergeCommand, ViewCommand, QueryCommand, TopCommand, AttachCommand, DetachCommand];
