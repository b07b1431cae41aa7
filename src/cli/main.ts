#!/usr/bin/env bun
import { Builtins, Cli, UsageError } from "clipanion";
import { VERSION } from "../version";
import { commands } from "./commands";

/**
 * Errors are one line on stderr (`scope: ...`), never a usage dump on stdout: a user
 * error is a UsageError, anything else is reported with its message (the stack with
 * SCOPE_DEBUG=1).
 */
class ScopeCli extends Cli {
  override error(error: Error): string {
    const message = (error.message ?? String(error)).split("\n").find((line) => line.trim()) ?? "unknown error";
    const prefix = error instanceof UsageError || error.name === "UnknownSyntaxError" ? "" : "error: ";
    process.stderr.write(`scope: ${prefix}${message.trim()}\n`);
    if (process.env.SCOPE_DEBUG && error.stack) process.stderr.write(`${error.stack}\n`);
    return "";
  }
}

/** Colour only for a terminal, and never with NO_COLOR (https://no-color.org). */
function colorDepth(): number {
  if (process.env.NO_COLOR) return 1;
  if (process.env.FORCE_COLOR) return 8;
  return process.stdout.isTTY ? (process.stdout.getColorDepth?.() ?? 8) : 1;
}

const cli = new ScopeCli({
  binaryLabel: "scope",
  binaryName: "scope",
  binaryVersion: VERSION,
  enableCapture: false,
  enableColors: colorDepth() > 1,
});
cli.register(Builtins.HelpCommand);
cli.register(Builtins.VersionCommand);
for (const command of commands) cli.register(command);

process.exitCode = await cli.run(process.argv.slice(2), { colorDepth: colorDepth() });
