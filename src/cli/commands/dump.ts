import { Command, Option, UsageError } from "clipanion";
import { existsSync } from "node:fs";
import { assets, isCompiled } from "../../core/assets";
import { dumpTrace, type DumpFormat } from "../../dump/dump";
import { parseDurationNs } from "../../core/duration";
import { kindGroups, unknownKind, type EventFilter } from "../../dump/filter";

function numberList(flag: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(",").map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 0)) throw new UsageError(`${flag}: expected comma-separated whole numbers, got "${text}"`);
  return values;
}

function duration(flag: string, text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const value = parseDurationNs(text);
  if (value === undefined) throw new UsageError(`${flag}: expected a duration such as 150ms or 2s, got "${text}"`);
  return value;
}

export class DumpCommand extends Command {
  static override paths = [["dump"]];

  static override usage = Command.Usage({
    description: "decode a trace file",
    details: `
      Prints one line per event: time since the trace's start, process/thread, kind and details, with
      each message send linked to its receive. \`--json\` prints one JSON object per line, \`--chrome\` a
      Chrome Trace Event file that Perfetto (ui.perfetto.dev) and chrome://tracing open, \`--stats\` a summary.

      A trace that was not closed (still being written, or its scope killed) prints every event and
      says so in a line. A truncated or corrupt trace prints every valid event, then says where and
      why it stopped, and exits with status 2. A reader that closes the pipe early (\`| head\`) ends the dump quietly with
      status 141, as SIGPIPE ends \`cat\`.
    `,
    examples: [
      ["Show a trace", "scope dump trace.bin"],
      ["Only messages of process 4242 in the first 2 seconds", "scope dump --pid 4242 --kind message --until 2s trace.bin"],
      ["Open in Perfetto", "scope dump --chrome trace.bin > trace.json"],
      ["What caused event #57, back to the program's start", "scope dump --why 57 trace.bin"],
    ],
  });

  json = Option.Boolean("--json", false, { description: "One JSON object per line" });
  chrome = Option.Boolean("--chrome", false, { description: "Chrome Trace Event JSON (Perfetto, chrome://tracing)" });
  stats = Option.Boolean("--stats", false, { description: "A summary: events by kind, processes, threads, message pairing" });
  pid = Option.String("--pid", { description: "Only these process ids (comma-separated)" });
  tid = Option.String("--tid", { description: "Only these thread ids (comma-separated; 0 is a main thread)" });
  kind = Option.String("--kind", { description: "Only these kinds or groups (comma-separated: message, process, thread_exit, ...)" });
  since = Option.String("--since", { description: "Only events at or after this time since the start (e.g. 150ms)" });
  until = Option.String("--until", { description: "Only events at or before this time since the start (e.g. 2s)" });

  why = Option.String("--why", { description: "Only the chain of causes of event #N (as the text dump numbers events) back to the program's start: the message it handled, the request it served, the callback, timer or promise that ran it (with scope run --async), the worker or process that spawned it" });

  file = Option.String({ name: "trace.bin" });

  async execute(): Promise<number> {
    const formats = [this.json && "json", this.chrome && "chrome", this.stats && "stats"].filter(Boolean) as DumpFormat[];
    if (formats.length > 1) throw new UsageError("choose one of --json, --chrome, --stats");
    if (this.why !== undefined && (this.chrome || this.stats)) throw new UsageError("--why prints a chain of events: text, or --json");
    if (!existsSync(this.file)) throw new UsageError(`${this.file}: no such file`);
    const kinds = this.kind?.split(",").map((kind) => kind.trim()).filter(Boolean);
    const unknown = kinds && unknownKind(kinds);
    if (unknown !== undefined) throw new UsageError(`--kind: no event kind or group "${unknown}" (groups: ${kindGroups.join(", ")}; or a whole kind such as message_send)`);
    const filter: EventFilter = {
      pids: numberList("--pid", this.pid),
      tids: numberList("--tid", this.tid),
      kinds,
      sinceNs: duration("--since", this.since),
      untilNs: duration("--until", this.until),
    };
    if (filter.sinceNs !== undefined && filter.untilNs !== undefined && filter.sinceNs > filter.untilNs) {
      throw new UsageError(`--since ${this.since} is after --until ${this.until}: no event can be in between`);
    }
    if (isCompiled) await assets(); // extracts libscope, which decodes the trace
    return dumpTrace({
      path: this.file,
      format: formats[0] ?? "text",
      filter,
      stdout: this.context.stdout,
      stderr: this.context.stderr,
      colorEnabled: this.context.colorDepth > 1,
      why: this.why,
    });
  }
}
