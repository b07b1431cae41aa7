/**
 * NODE_OPTIONS from a node command's `--env-file` files. Node applies a NODE_OPTIONS written in
 * an env file (`node --env-file=.env app.js`, a common way to set --max-old-space-size) only
 * when the environment has none, and scope puts its `--require` into NODE_OPTIONS: traced, the
 * file's options were silently dropped. Where scope composes a node command's environment
 * (`scope run`'s top-level program, src/agent/inject.ts; a child the program spawns,
 * child-env.ts), the file's NODE_OPTIONS goes after scope's option instead, as the program's
 * own. Read with the runtime's own parser (`util.parseEnv`, Node ≥ 20.12 and Bun); later files
 * win, as in Node; a file that cannot be read gives nothing (Node itself reports a missing
 * `--env-file`; `--env-file-if-exists` skips it).
 */
// node:fs, node:path and node:util are required when a command names an env file, not at a
// thread's start: the agent's core is loaded into every worker (the worker-start bar).

/** Node's options that take their value as the next argument (the script is the first argument that is none of these); made at first use, not at every thread's start. */
let valueOptions: Set<string> | undefined;
const takesValue = (arg: string) => (valueOptions ??= new Set([
  "-r", "--require", "--import", "--loader", "--experimental-loader", "-e", "--eval", "-p", "--print",
  "--input-type", "-C", "--conditions", "--env-file", "--env-file-if-exists", "--title", "--inspect-port",
  "--debug-port", "--redirect-warnings", "--dns-result-order", "--diagnostic-dir", "--report-dir",
  "--report-directory", "--watch-path", "--test-reporter", "--test-reporter-destination", "--secure-heap",
  "--secure-heap-min", "--openssl-config", "--icu-data-dir", "--heapsnapshot-signal",
])).has(arg);

/** Whether `command` names a Node executable by its name (`node`, `nodejs`, a path to one). */
export function isNodeCommand(command: unknown): boolean {
  return typeof command === "string" && /(^|\/)(node|nodejs)$/.test(command);
}

/** The env files a node command line names before its script, in order. */
export function envFilesOf(args: readonly unknown[]): string[] {
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg !== "string" || arg === "--" || !arg.startsWith("-") || arg === "-") break;
    const match = /^--env-file(-if-exists)?(?:=(.*))?$/s.exec(arg);
    if (match) {
      const file = match[2] ?? args[++i];
      if (typeof file === "string") files.push(file);
    } else if (takesValue(arg)) {
      i++;
    }
  }
  return files;
}

/** The NODE_OPTIONS the env files named by a node command's arguments give (the last file that sets it), read from `cwd`; undefined when none does. */
export function envFileNodeOptions(args: readonly unknown[], cwd: string): string | undefined {
  let value: string | undefined;
  for (const file of envFilesOf(args)) {
    try {
      const { readFileSync } = require("node:fs") as typeof import("node:fs");
      const { resolve } = require("node:path") as typeof import("node:path");
      const { parseEnv } = require("node:util") as typeof import("node:util");
      const parsed = parseEnv(readFileSync(resolve(cwd, file), "utf8")) as Record<string, string | undefined>;
      if (typeof parsed.NODE_OPTIONS === "string") value = parsed.NODE_OPTIONS;
    } catch {
      // Not readable: Node says so itself (--env-file) or skips it (--env-file-if-exists).
    }
  }
  return value;
}
