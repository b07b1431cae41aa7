import { Command, Option, UsageError } from "clipanion";
import { readlinkSync } from "node:fs";
import { sendControl, type ControlRequest } from "../../attach/control";
import { attachSession } from "../../attach/session";
import { Refusal } from "../../attach/target";
import { globToRegExp } from "../../instrument/match";
import { parseDuration, parseRingSize, ringSizeError } from "../../run/options";

/** `scope attach <pid>`: trace a running Node.js process without restarting it; add or remove function tracing live. */
export class AttachCommand extends Command {
  static override paths = [["attach"]];

  static override usage = Command.Usage({
    description: "trace a running Node.js process (20+) without a restart; add or remove function tracing live",
    details: `
      Opens the process's inspector (SIGUSR1, loopback only), loads the scope agent into it, closes the
      inspector again and records into a new trace until Ctrl-C, \`--duration\` or \`scope detach <pid>\`;
      then every hook is removed and every traced function restored. The process must belong to your user.

      While a \`scope attach <pid>\` runs, the same command from another terminal with \`--functions\` /
      \`--function\` adds function tracing to it, and \`--remove-functions\` removes it (all traced functions
      are restored). Function tracing edits the chosen functions' scripts in place (V8 LiveEdit): same
      function objects, same state, no restart.
    `,
    examples: [
      ["Trace a running service until Ctrl-C", "scope attach 12345"],
      ["Trace for 30 s, with the functions under src/orders/ traced", "scope attach 12345 --duration 30s --functions 'src/orders/**'"],
      ["Add tracing of one function to a running attach", "scope attach 12345 --function createOrder"],
      ["Remove live function tracing again", "scope attach 12345 --remove-functions"],
      ["Leave the process", "scope detach 12345"],
    ],
  });

  out = Option.String("-o,--out", "trace.bin", { description: "Where to write the trace" });
  functions = Option.Array("--functions", { description: "Path glob (relative to the process's working directory) of files whose functions are traced live; repeatable" });
  functionNames = Option.Array("--function", { description: "Function-name glob (\"createOrder\", \"Orders.*\"); only matching functions are traced; repeatable" });
  removeFunctions = Option.Boolean("--remove-functions", false, { description: "Remove live function tracing from the process a running `scope attach` traces" });
  duration = Option.String("--duration", { description: "Detach this long after attaching (e.g. 30s, 5m)" });
  ringSize = Option.String("--ring-size", "16MiB", { description: "Shared ring size (e.g. 4MiB, 64MiB; below 4GiB)" });

  pid = Option.String({ name: "pid" });

  async execute(): Promise<number> {
    if (!/^\d+$/.test(this.pid)) throw new UsageError(`expected the pid of a running Node.js process, got "${this.pid}"`);
    const pid = Number(this.pid);
    const wantsFunctions = (this.functions?.length ?? 0) + (this.functionNames?.length ?? 0) > 0;
    if (this.removeFunctions && wantsFunctions) throw new UsageError("--remove-functions cannot go with --functions or --function");
    // A session already attached to the pid: pass the request on to it.
    const request: ControlRequest | undefined = this.removeFunctions ? { op: "remove" } : wantsFunctions ? { op: "functions", ...selection(pid, this.functions, this.functionNames) } : undefined;
    const reply = await sendControl(pid, request ?? { op: "ping" }).catch(() => undefined);
    if (reply !== undefined) {
      if (request === undefined) throw new UsageError(`pid ${pid} is already attached by a running scope attach; use --functions, --remove-functions or scope detach ${pid}`);
      this.context.stderr.write(`scope: ${reply.message}\n`);
      return reply.ok ? 0 : 1;
    }
    if (this.removeFunctions) throw new UsageError(`no scope attach is running for pid ${pid}`);
    const ringBytes = parseRingSize(this.ringSize);
    if (ringBytes === undefined) throw new UsageError(ringSizeError(this.ringSize));
    let durationMs: number | undefined;
    if (this.duration !== undefined) {
      durationMs = parseDuration(this.duration);
      if (durationMs === undefined) throw new UsageError(`--duration: expected a duration such as 30s, 5m or 250ms, got "${this.duration}"`);
    }
    try {
      return await attachSession({
        pid,
        out: this.out,
        ringBytes,
        durationMs,
        functions: wantsFunctions ? selection(pid, this.functions, this.functionNames) : undefined,
        stderr: this.context.stderr,
        colorEnabled: this.context.colorDepth > 1,
      });
    } catch (error) {
      if (error instanceof Refusal) throw new UsageError(error.message);
      throw error;
    }
  }
}

/**
 * Path globs relative to the process's working directory (the agent matches them as `scope run
 * --include` does, symlinked paths included); function-name globs as RegExp sources, split at dots.
 */
function selection(pid: number, files: string[] | undefined, names: string[] | undefined): { files: string[]; names: string[]; root: string } {
  let cwd = process.cwd();
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // Gone or not ours: the refusal comes later, with its own line.
  }
  return {
    files: files ?? [],
    names: (names ?? []).map((glob) => globToRegExp(glob, ".").source),
    root: cwd,
  };
}
