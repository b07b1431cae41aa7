import { Command, Option, UsageError } from "clipanion";
import { assets, isCompiled } from "../../core/assets";
import type { RowFormat } from "../../query/format";
import { queryTrace } from "../../query/run";

/** The output format chosen by --csv / --json (one at most). */
export function rowFormat(csv: boolean, json: boolean): RowFormat {
  if (csv && json) throw new UsageError("choose one of --csv, --json");
  return csv ? "csv" : json ? "json" : "table";
}

/**
 * `scope query` argv with SQL that would read as an option put where it cannot: an argument
 * starting with "-" whose option name (before any "=") holds whitespace is no option (a
 * comment first, `-- slowest calls\nSELECT ...`), so it moves after a `--`, behind the
 * options (clipanion would refuse it: "Invalid option name"). Other argv is returned as is.
 */
export function queryArgv(argv: string[]): string[] {
  if (argv[0] !== "query") return argv;
  const end = argv.indexOf("--");
  const options = end < 0 ? argv : argv.slice(0, end);
  const at = options.findIndex((arg, i) => i > 0 && arg.startsWith("-") && /\s/.test(arg.split("=", 1)[0]!));
  if (at < 0) return argv;
  return [...options.slice(0, at), ...options.slice(at + 1), "--", options[at]!, ...(end < 0 ? [] : argv.slice(end + 1))];
}

/** clipanion's refusal of an option `scope query` does not have, with where SQL that starts with "-" goes. */
export function queryOptionError(argv: string[], message: string): string | undefined {
  if (argv[0] !== "query" || !/^(Invalid|Unsupported) option name/.test(message)) return undefined;
  return `${message.split("\n", 1)[0]!.trim().replace(/\.$/, "")}; SQL that starts with "-" goes after --: scope query trace.bin -- "<SQL>"`;
}

export class QueryCommand extends Command {
  static override paths = [["query"]];

  static override usage = Command.Usage({
    description: "ask a trace questions in SQL",
    details: `
      Loads the trace into SQLite (built into scope: nothing to install) and runs one SQL statement on
      it. Tables and views: processes, threads, events, functions, calls, messages, requests, steps,
      queries, pool_waits, gc, loop, memory, spans, strings, kinds, meta (docs/query.md has every
      column and examples).
      Without SQL, lists them with their columns. Times are nanoseconds since the trace's start.

      The database is kept next to the trace (\`trace.bin.sqlite\`, or in scope's private cache when
      that directory is not writable), so the next query starts at once; it is rebuilt when the
      trace changes. A trace still being written or damaged is loaded as far as it is valid and
      a line says so (a damaged one exits with status 2). Bad SQL prints the engine's message in
      one line, a second statement a line saying so (exit 1). SQL that starts with a comment is taken
      as SQL; any SQL may also follow \`--\` (\`scope query trace.bin -- "-1"\`).
    `,
    examples: [
      ["List the tables and their columns", "scope query trace.bin"],
      ["The ten slowest calls", "scope query trace.bin \"SELECT name, duration_ns/1e6 AS ms FROM calls ORDER BY duration_ns DESC LIMIT 10\""],
      ["Message latency per channel, as CSV", "scope query --csv trace.bin \"SELECT channel, count(*), avg(latency_ns) FROM messages GROUP BY channel\""],
    ],
  });

  csv = Option.Boolean("--csv", false, { description: "Comma-separated values, a header line first" });
  json = Option.Boolean("--json", false, { description: "One JSON object per row, one per line" });
  cache = Option.Boolean("--cache", true, { description: "--no-cache loads into memory and keeps nothing" });

  file = Option.String({ name: "trace.bin" });
  sql = Option.String({ name: "SQL", required: false });

  async execute(): Promise<number> {
    const format = rowFormat(this.csv, this.json);
    if (isCompiled) await assets(); // extracts libscope, which reads the trace
    return queryTrace({
      tracePath: this.file,
      sql: this.sql,
      format,
      cache: this.cache,
      stdout: this.context.stdout,
      stderr: this.context.stderr,
      colorEnabled: this.context.colorDepth > 1,
    });
  }
}
