#!/usr/bin/env bun
// First: process.env as scope was started, without the .env files Bun loaded (own-environment.ts).
import "../core/own-environment";
import { Builtins, Cli, UsageError } from "clipanion";
import { CLOSED_PIPE_STATUS, isClosedPipe } from "../core/output";
import { systemError } from "../core/system-error";
import { VERSION } from "../version";
import { commands } from "./commands";
import { queryArgv, queryOptionError } from "./commands/query";

/**
 * Errors are one line on stderr (`scope: ...`), never a usage dump on stdout: a user
 * error is a UsageError, anything else is reported with its message (the stack with
 * SCOPE_DEBUG=1).
 */
class ScopeCli extends Cli {
  /** A write to a pipe whose reader left escaped a command: end quietly (src/core/output.ts). */
  closedPipe = false;

  override error(error: Error): string {
    if (isClosedPipe(error)) {
      this.closedPipe = true;
      return "";
    }
    const message = commandNotFound(error) ?? positionalError(error) ?? missingValueError(process.argv.slice(2), error) ?? queryOptionError(process.argv.slice(2), error.message ?? "") ?? systemError(error) ?? (error.message ?? String(error)).split("\n").find((line) => line.trim()) ?? "unknown error";
    // A trace whose header cannot be read says its path and why, as `scope query` does (core/trace-ending.ts).
    const prefix = error instanceof UsageError || error.name === "UnknownSyntaxError" || error.name === "TraceFileError" ? "" : "error: ";
    process.stderr.write(`scope: ${prefix}${message.trim()}\n`);
    if (process.env.SCOPE_DEBUG && error.stack) process.stderr.write(`${error.stack}\n`);
    return "";
  }
}

/**
 * clipanion's "Command not found" is a lead-in line ("did you mean one of:") and then a
 * list of usages, so its first line alone says nothing. Said in one line instead: for a
 * command scope has, its usage; for a word that is none, the commands there are.
 */
function commandNotFound(error: Error): string | undefined {
  if (error.name !== "UnknownSyntaxError" || !error.message?.startsWith("Command not found")) return undefined;
  const input = (error as { input?: unknown }).input;
  const word = Array.isArray(input) ? input.find((token): token is string => typeof token === "string" && !/^[\u0000\u0001]$/.test(token)) : undefined;
  const names = commands.flatMap((command) => command.paths ?? []).map((path) => path.join(" "));
  if (word !== undefined && names.includes(word)) {
    const candidates = (error as { candidates?: { usage?: unknown }[] }).candidates ?? [];
    const usage = candidates.map((candidate) => String(candidate.usage)).find((line) => line === `scope ${word}` || line.startsWith(`scope ${word} `));
    return `${word}: missing or unexpected arguments${usage ? `; usage: ${usage}` : ""} (scope ${word} --help says more)`;
  }
  return `${word === undefined ? "no command given" : `unknown command "${word}"`}; commands: ${names.join(", ")} (scope --help says more)`;
}

/**
 * clipanion's "Not enough positional arguments." and "Extraneous positional argument" name
 * neither the command nor what it takes. Said with the command and its first example.
 */
function positionalError(error: Error): string | undefined {
  if (error.name !== "UnknownSyntaxError") return undefined;
  const reason = (error.message ?? "").split("\n")[0] ?? "";
  const extra = /^Extraneous positional argument \("(.*)"\)\.?$/.exec(reason);
  if (reason !== "Not enough positional arguments." && !extra) return undefined;
  const input = (error as { input?: unknown }).input;
  const word = Array.isArray(input) ? input.find((token): token is string => typeof token === "string") : undefined;
  const command = commands.find((candidate) => candidate.paths?.some((path) => path.join(" ") === word));
  if (!command || word === undefined) return undefined;
  const example = command.usage?.examples?.[0]?.[1];
  const what = extra ? `unexpected argument ${JSON.stringify(extra[1])}` : "missing arguments";
  return `${word}: ${what}${example ? `; for example: ${example}` : ""} (scope ${word} --help says more)`;
}

/**
 * clipanion takes a token that starts with "-" for an option, so `--max-overhead -3` read as
 * the option missing its value ("Not enough arguments to option --max-overhead."), which
 * hides what was typed. Said with the value, and the form clipanion hands on to the
 * command's own check.
 */
function missingValueError(argv: string[], error: Error): string | undefined {
  const option = /^Not enough arguments to option (\S+?)\.?$/.exec((error.message ?? "").split("\n")[0] ?? "")?.[1];
  if (option === undefined) return undefined;
  const at = argv.indexOf(option);
  const next = at < 0 ? undefined : argv[at + 1];
  if (next === undefined || next === "--" || !next.startsWith("-")) return `${option}: a value is missing (for example ${option}=<value>)`;
  return `${option}: ${JSON.stringify(next)} was read as an option, not as ${option}'s value; write ${option}=${next} to give it as the value`;
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

/**
 * A write to stdout that failed for another reason than a closed pipe (ENOSPC, EIO): the
 * command's output is incomplete, so scope says so in one line and ends with status 1, as
 * cat does. Such errors arrive as 'error' events, uncaught without a listener. Failed
 * writes to stderr are let go: there is nowhere left to say them, and `scope run`'s status
 * stays the program's.
 */
let stdoutFailure: Error | undefined;
process.stdout.on("error", (error) => {
  if (isClosedPipe(error) || stdoutFailure) return;
  stdoutFailure = error;
  process.stderr.write(`scope: error: writing the output failed (${error.message})\n`);
  process.exitCode = 1;
});
process.stderr.on("error", () => {});

let status: number;
try {
  status = await cli.run(queryArgv(process.argv.slice(2)), { colorDepth: colorDepth() });
} catch (error) {
  // clipanion writes its error text to stdout, which may be the closed pipe itself.
  if (!isClosedPipe(error)) throw error;
  status = CLOSED_PIPE_STATUS;
}
process.exitCode = stdoutFailure ? 1 : cli.closedPipe ? CLOSED_PIPE_STATUS : status;
