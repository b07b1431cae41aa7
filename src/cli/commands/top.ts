import { Command, Option, UsageError } from "clipanion";
import { assets, isCompiled } from "../../core/assets";
import { topTrace } from "../../query/top";
import { rowFormat } from "./query";

function numberList(flag: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(",").map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isSafeInteger(value) || value < 0)) throw new UsageError(`${flag}: expected comma-separated whole numbers, got "${text}"`);
  return values;
}

export class TopCommand extends Command {
  static override paths = [["top"]];

  static override usage = Command.Usage({
    description: "the slowest and most-called functions, the slowest requests and queries of a trace",
    details: `
      Functions by total time (every call's duration summed), by self time (minus the synchronous
      calls they made; async calls have none: their duration includes awaits) and by number of
      calls, grouped by name and place; then the slowest requests (with how many queries each made)
      and the slowest queries. Uses the same cached database as \`scope query\`.
    `,
    examples: [
      ["The top 10 of everything", "scope top trace.bin"],
      ["Only process 4242's functions whose name contains render", "scope top --pid 4242 --name render trace.bin"],
      ["As JSON lines (each row names its section)", "scope top --json --limit 5 trace.bin"],
    ],
  });

  limit = Option.String("--limit", "10", { description: "Rows per section (default 10)" });
  pid = Option.String("--pid", { description: "Only these process ids (comma-separated)" });
  tid = Option.String("--tid", { description: "Only these thread ids (comma-separated; 0 is a main thread)" });
  name = Option.String("--name", { description: "Only function names, request routes/targets and query texts matching this glob (* ? [..]) or containing this text, case ignored" });
  csv = Option.Boolean("--csv", false, { description: "Comma-separated values, with a section column" });
  json = Option.Boolean("--json", false, { description: "One JSON object per row, with its section" });
  cache = Option.Boolean("--cache", true, { description: "--no-cache loads into memory and keeps nothing" });

  file = Option.String({ name: "trace.bin" });

  async execute(): Promise<number> {
    const format = rowFormat(this.csv, this.json);
    const limit = Number(this.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a whole number of rows (1 or more), got "${this.limit}"`);
    if (isCompiled) await assets();
    return topTrace({
      tracePath: this.file,
      format,
      cache: this.cache,
      filter: { pids: numberList("--pid", this.pid), tids: numberList("--tid", this.tid), name: this.name },
      limit,
      stdout: this.context.stdout,
      stderr: this.context.stderr,
      colorEnabled: this.context.colorDepth > 1,
    });
  }
}
