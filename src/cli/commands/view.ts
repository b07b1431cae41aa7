import { Command, Option, UsageError } from "clipanion";
import { existsSync, statSync } from "node:fs";
import { assets, isCompiled } from "../../core/assets";
import { TraceFileError } from "../../core/trace-file";
import { endingNotice } from "../../core/trace-ending";
import { TraceIndex } from "../../view/index";
import { startViewServer } from "../../view/server";

/** The browser, only where there is a display to open it on (xdg-open would otherwise pick a terminal browser). */
function openBrowser(url: string): boolean {
  const opener = process.platform === "darwin" ? "open" : process.platform === "linux" && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) ? "xdg-open" : null;
  const path = opener ? Bun.which(opener) : null;
  if (!path) return false;
  try {
    const child = Bun.spawn([path, url], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    child.unref();
    return true;
  } catch {
    return false;
  }
}

export class ViewCommand extends Command {
  static override paths = [["view"]];

  static override usage = Command.Usage({
    description: "look at a trace in the browser",
    details: `
      Serves a timeline of the trace on 127.0.0.1 (a free port, a random token in the address; requests
      without it get 403) and opens it in the default browser when there is one; the address is printed
      either way. One track per process and thread, calls as a flame chart, requests, framework steps and queries as slices,
      messages and spawns as arrows; zoom with W/S or Ctrl+wheel, pan with A/D or drag. Ctrl-C stops it.
    `,
    examples: [
      ["Look at a trace", "scope view trace.bin"],
      ["On a fixed port, without opening a browser", "scope view --port 8080 --no-open trace.bin"],
    ],
  });

  port = Option.String("--port", { description: "Port on 127.0.0.1 (default: a free one)" });
  open = Option.Boolean("--open", true, { description: "Open the default browser (--no-open: only print the address)" });
  file = Option.String({ name: "trace.bin" });

  async execute(): Promise<number> {
    let port: number | undefined;
    if (this.port !== undefined) {
      port = Number(this.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected a port number (0-65535), got "${this.port}"`);
    }
    if (!existsSync(this.file)) throw new UsageError(`${this.file}: no such file`);
    if (statSync(this.file).isDirectory()) throw new UsageError(`${this.file}: is a directory, not a trace`);
    if (isCompiled) await assets(); // extracts libscope, which reads the trace
    const sizeBytes = statSync(this.file).size;
    // A large trace takes seconds to index (~0.25 µs of CPU per record): say so before the wait.
    if (sizeBytes > 64 * 2 ** 20) this.context.stderr.write(`scope view: reading ${this.file} (${(sizeBytes / 2 ** 20).toFixed(0)} MiB)...\n`);
    let index: TraceIndex;
    try {
      index = TraceIndex.open(this.file);
    } catch (error) {
      if (error instanceof TraceFileError) throw new UsageError(error.message);
      throw error;
    }
    let server;
    try {
      server = await startViewServer(index, { port });
    } catch (error) {
      throw new UsageError(`cannot listen on 127.0.0.1${port !== undefined ? `:${port}` : ""}: ${(error as Error).message}`);
    }
    // How the trace ended, one line as every reading command says it (core/trace-ending.ts); the page says it too.
    const { status } = index;
    const ending = endingNotice(this.file, { damage: status.error, closed: status.closed }, { count: index.recordCount, noun: "records", done: "read" });
    if (ending.line) this.context.stderr.write(`scope: ${ending.line}\n`);
    const warning = status.warning && !ending.line ? ` (${status.warning})` : "";
    const opened = this.open && openBrowser(server.url);
    this.context.stdout.write(`scope view: ${server.url}${opened ? " (opened in the browser)" : ""}${warning}\nCtrl-C stops it.\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await server.stop();
    // Served to the end, the trace's ending still decides the status: 2 for a damaged one, as dump, query, ... exit.
    return ending.status;
  }
}
