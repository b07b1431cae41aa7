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

const cli = new ScopeCli({
  binaryLabel: "scope",
  binaryName: "scope",
  binaryVersion: VERSION,
  enableCapture: false,
});
cli.register(Builtins.HelpCommand);
cli.register(Builtins.VersionCommand);
for (const command of commands) cli.register(command);

process.exitCode = await cli.run(process.argv.slice(2));
