import { Command, Option, UsageError } from "clipanion";
import { existsSync } from "node:fs";
import { assets, isCompiled } from "../../core/assets";
import { exportTrace, type OtlpFormat } from "../../export/export";
import { endpointError, isUrl } from "../../export/otlp-send";
import { sameFile } from "../../core/same-file";

export class ExportCommand extends Command {
  static override paths = [["export"]];

  static override usage = Command.Usage({
    description: "convert a trace for Perfetto or an OpenTelemetry backend",
    details: `
      \`--perfetto -o FILE\` writes Perfetto's native format (open it at ui.perfetto.dev): a track per
      process and thread, function calls as nested slices, requests and queries as slices, messages
      and request links as flows, the other events as instants.

      \`--otlp URL|FILE\` sends the trace's requests, queries (and with \`--otlp-functions\` its function
      calls) as OpenTelemetry spans: to an OTLP/HTTP endpoint (http://host:4318/v1/traces) or into a
      file. \`--otlp-format\` chooses protobuf or json (default: json for a .json file, else protobuf).
      Spans keep the trace ids of recorded traceparents, so they join the callers' traces.

      A trace that was not closed (still being written, or its scope killed) exports every event and
      says so in a line; a damaged or truncated one exports every event before the damage, says so,
      and exits with status 2.
    `,
    examples: [
      ["Open in Perfetto", "scope export --perfetto trace.bin -o trace.pftrace"],
      ["Send to a local Jaeger or OpenTelemetry Collector", "scope export --otlp http://127.0.0.1:4318/v1/traces trace.bin"],
      ["OTLP/JSON into a file, with function calls", "scope export --otlp spans.json --otlp-functions trace.bin"],
    ],
  });

  perfetto = Option.Boolean("--perfetto", false, { description: "Perfetto's native protobuf trace (needs -o)" });
  out = Option.String("-o,--out", { description: "Output file for --perfetto" });
  otlp = Option.String("--otlp", { description: "OTLP/HTTP endpoint URL or output file" });
  otlpFormat = Option.String("--otlp-format", { description: "protobuf or json (default: from the file's extension, else protobuf)" });
  otlpFunctions = Option.Boolean("--otlp-functions", false, { description: "Function calls as INTERNAL spans too" });
  serviceName = Option.String("--service-name", { description: "The service.name resource attribute (default: the program's name)" });

  file = Option.String({ name: "trace.bin" });

  async execute(): Promise<number> {
    if (this.perfetto === (this.otlp !== undefined)) throw new UsageError("choose one of --perfetto -o FILE, --otlp URL|FILE");
    if (this.perfetto && !this.out) throw new UsageError("--perfetto needs -o FILE");
    if (!this.perfetto && this.out) throw new UsageError("-o is for --perfetto (--otlp takes its file or URL itself)");
    if (this.otlpFormat !== undefined && this.otlpFormat !== "protobuf" && this.otlpFormat !== "json") throw new UsageError(`--otlp-format: expected protobuf or json, got "${this.otlpFormat}"`);
    if (this.otlp === undefined && (this.otlpFormat !== undefined || this.otlpFunctions || this.serviceName !== undefined)) throw new UsageError("--otlp-format, --otlp-functions and --service-name go with --otlp");
    // A URL that cannot be one (a file name starts otherwise).
    if (this.otlp !== undefined && isUrl(this.otlp) && endpointError(this.otlp)) throw new UsageError(endpointError(this.otlp)!);
    if (!existsSync(this.file)) throw new UsageError(`${this.file}: no such file`);
    // Written after the trace is read, a file that is also the trace would be replaced by its export.
    const output = this.perfetto ? this.out : this.otlp !== undefined && !isUrl(this.otlp) ? this.otlp : undefined;
    if (output !== undefined && sameFile(output, this.file)) throw new UsageError(`${output}: the output is the trace itself`);
    if (isCompiled) await assets(); // extracts libscope, which decodes the trace
    return exportTrace({
      path: this.file,
      perfetto: this.perfetto ? this.out! : undefined,
      otlp: this.otlp === undefined ? undefined : { target: this.otlp, format: this.otlpFormat as OtlpFormat | undefined, functions: this.otlpFunctions, serviceName: this.serviceName },
      stdout: this.context.stdout,
      stderr: this.context.stderr,
    });
  }
}
