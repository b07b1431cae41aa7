import { Command, Option, UsageError } from "clipanion";
import { assets, isCompiled } from "../../core/assets";
import { endingNotice } from "../../core/trace-ending";
import { formatBound, formatOffset, MergeInputError, mergeTraces } from "../../merge/merge";

export class MergeCommand extends Command {
  static override paths = [["merge"]];

  static override usage = Command.Usage({
    description: "merge traces of several runs (one machine or several) into one trace",
    details: `
      The traces of separate \`scope run\`s become one trace that \`scope dump\` reads like any other. Each
      process stays under its own host: the pids of the k-th input (from 0) are its own pids + k×4194304
      (2^22), so runs whose pids collide stay apart. HTTP client requests are linked to the server
      requests they reached (by connection, or by a \`traceparent\` header), and each input's clock offset
      to the first input's is estimated from those requests, with an error bound; times are shifted onto
      the first input's clock. \`scope dump\` shows each input's host, pids and offset.

      A damaged input merges its valid records and says so, and scope exits with status 2 (as \`scope dump\`
      of a damaged trace); an input that is not a trace is refused (status 1).
    `,
    examples: [["Merge a server's and a client's trace", "scope merge server.bin client.bin --out all.bin"]],
  });

  out = Option.String("-o,--out", { required: true, description: "Where to write the merged trace" });
  inputs = Option.Rest({ name: "trace.bin" });

  async execute(): Promise<number> {
    if (isCompiled) await assets(); // extracts libscope, which reads and writes traces
    let result;
    try {
      result = mergeTraces(this.inputs, this.out);
    } catch (error) {
      if (error instanceof MergeInputError) throw new UsageError(error.message);
      throw error;
    }
    const lines = [`merged ${result.sources.length} traces into ${this.out}: ${result.records} records; ${result.linkedAcross} requests linked across inputs, ${result.linkedWithin} within one`];
    for (const [index, source] of result.sources.entries()) {
      const clock = index === 0 ? "reference clock" : `clock ${formatOffset(source.offsetNs)} ${formatBound(source.boundNs)}${source.boundNs !== null ? ` from ${source.pairs} requests` : ""}${source.boundsDisagree ? " (the requests' bounds disagree)" : ""}`;
      lines.push(`  ${index}: ${source.path} on ${source.host || "?"}, pids +${source.pidBase}, ${clock}`);
    }
    this.context.stdout.write(`${lines.join("\n")}\n`);
    // Each input's ending, said as every reading command says it (core/trace-ending.ts): a
    // damaged one's status (the merged trace lacks what the damage took).
    let status = 0;
    for (const source of result.sources) {
      const ending = endingNotice(source.path, { damage: source.damage, closed: !source.notClosed }, { count: source.records, noun: "records", done: "merged" });
      if (ending.line) this.context.stderr.write(`scope: ${ending.line}\n`);
      status = Math.max(status, ending.status);
    }
    return status;
  }
}
