/**
 * What `scope attach` learns about a pid before it touches it, from /proc only: whether
 * it may attach, and how to reach the inspector. Every refusal is one line (the caller
 * prints it as `scope: ...` and exits non-zero) and is decided before any signal is sent:
 * SIGUSR1 to a process that does not handle it ends the process (its default action).
 */
import { existsSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename } from "node:path";

export interface Target {
  pid: number;
  exe: string;
  cwd: string;
  /** The port its inspector takes when SIGUSR1 opens it (--inspect-port, else 9229). */
  inspectPort: number;
  argv: string[];
}

export class Refusal extends Error {}

/** Bit of SIGUSR1 (10) in /proc/<pid>/status's signal masks. */
const SIGUSR1_BIT = 1n << 9n;
const MIN_NODE_MAJOR = 20;

export function inspectTarget(pid: number): Target {
  if (!Number.isInteger(pid) || pid <= 0) throw new Refusal(`expected a process id, got "${pid}"`);
  if (pid === process.pid) throw new Refusal("scope cannot attach to itself");
  let owner: number;
  try {
    owner = statSync(`/proc/${pid}`).uid;
  } catch {
    throw new Refusal(`no process with pid ${pid}`);
  }
  const me = process.getuid?.() ?? 0;
  if (owner !== me) throw new Refusal(`pid ${pid} belongs to another user (uid ${owner}); scope attaches only to processes of its own user`);
  let exe: string;
  let argv: string[];
  let cwd: string;
  let status: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((part, i, all) => part !== "" || i < all.length - 1);
    cwd = readlinkSync(`/proc/${pid}/cwd`);
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch (error) {
    // EACCES with the process still there: it is ours but not dumpable (a node binary given
    // file capabilities, setcap cap_net_bind_service, or prctl(PR_SET_DUMPABLE, 0)), and
    // scope has no CAP_SYS_PTRACE: /proc hides its executable, so nothing can be checked.
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === "EACCES" || code === "EPERM") && existsSync(`/proc/${pid}`)) {
      throw new Refusal(`pid ${pid} cannot be inspected: /proc/${pid}/exe is not readable (${code}; a process with file capabilities, or made non-dumpable, hides it from its own user without CAP_SYS_PTRACE)`);
    }
    throw new Refusal(`no process with pid ${pid} (it ended)`);
  }
  if (/^State:\s+Z/m.test(status)) throw new Refusal(`pid ${pid} has ended (a zombie waiting for its parent)`);
  const name = basename(exe);
  if (/^bun(-debug|-profile)?(\.exe)?$/.test(name)) {
    throw new Refusal(`pid ${pid} is a Bun process: Bun opens no inspector on SIGUSR1 (only with --inspect at start) and speaks WebKit's protocol; trace it with \`scope run\``);
  }
  if (!/^node(js)?\d*$/.test(name)) throw new Refusal(`pid ${pid} is not a Node.js process (${exe})`);
  const environment = readEnvironment(pid);
  const nodeOptions = tokens(environment.NODE_OPTIONS ?? "");
  const options = [...nodeOptions, ...nodeArguments(argv)];
  if (options.some((option) => option === "--disable-sigusr1")) {
    throw new Refusal(`pid ${pid} was started with --disable-sigusr1: its inspector cannot be opened from outside; start it with --inspect, or trace it with \`scope run\``);
  }
  // SIGUSR1 not caught: Node was started without its inspector signal (--disable-sigusr1, a
  // build without inspector, or the program's own SIGUSR1 listener added and removed).
  if ((signalMask(status, "SigCgt") & SIGUSR1_BIT) === 0n || (signalMask(status, "SigIgn") & SIGUSR1_BIT) !== 0n) {
    throw new Refusal(`pid ${pid} does not handle SIGUSR1 (started with --disable-sigusr1, or its inspector is off): sending it would end the process, so scope does not`);
  }
  const major = nodeMajor(exe);
  if (major !== undefined && major < MIN_NODE_MAJOR) throw new Refusal(`pid ${pid} runs Node.js ${major}; scope attach needs Node.js ${MIN_NODE_MAJOR} or newer`);
  return { pid, exe, cwd, inspectPort: inspectPort(options), argv };
}

function readEnvironment(pid: number): Record<string, string> {
  const environment: Record<string, string> = {};
  try {
    for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const equals = entry.indexOf("=");
      if (equals > 0) environment[entry.slice(0, equals)] = entry.slice(equals + 1);
    }
  } catch {
    // Not readable: no NODE_OPTIONS to look at.
  }
  return environment;
}

/** Node's own options: argv after the executable, up to the script (or -e/-p and its code). */
function nodeArguments(argv: string[]): string[] {
  const options: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-")) break;
    options.push(arg);
    if (arg === "-e" || arg === "--eval" || arg === "-p" || arg === "--print" || arg === "-r" || arg === "--require" || arg === "--import") i++;
  }
  return options;
}

function tokens(text: string): string[] {
  return text.split(/\s+/).filter(Boolean).map((token) => token.replace(/^["']|["']$/g, ""));
}

/** --inspect-port=N, --inspect=[host:]N, --debug-port=N; else Node's default 9229. */
export function inspectPort(options: string[]): number {
  let port = 9229;
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    const match = /^--(?:inspect-port|debug-port|inspect|inspect-brk|inspect-wait)(?:=(.*))?$/.exec(option);
    if (!match) continue;
    const value = match[1] ?? (/^--(inspect-port|debug-port)$/.test(option) ? options[++i] : undefined);
    if (value === undefined) continue;
    const digits = /(?:^|:)(\d+)$/.exec(value);
    if (digits) port = Number(digits[1]);
  }
  return port;
}

function signalMask(status: string, field: string): bigint {
  const match = new RegExp(`^${field}:\\s*([0-9a-f]+)`, "m").exec(status);
  return match ? BigInt(`0x${match[1]}`) : 0n;
}

/** The Node.js major version of an executable (`<exe> --version`); undefined when it cannot say. */
function nodeMajor(exe: string): number | undefined {
  try {
    const result = Bun.spawnSync([exe, "--version"], { stdout: "pipe", stderr: "ignore", env: {} });
    const match = /^v(\d+)\./.exec(result.stdout.toString());
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
