/**
 * Signals `scope run` was started with ignored, kept ignored for the program.
 *
 * An ignored signal (SIG_IGN) stays ignored across exec: `nohup` ignores SIGHUP, a shell's
 * background job (`cmd &` in a script) SIGINT and SIGQUIT, and a program started so survives
 * them. Bun.spawn, as libuv, sets every signal back to its default in a child, so a program
 * started by scope run would die of them where it would not untraced (Node resets them at its
 * own start anyway; Bun, Python, a shell keep them). So the mask is read at scope's start (Bun
 * keeps an inherited SIG_IGN until a handler is installed), and the program is started through
 * coreutils' `env --ignore-signal=…` (8.31 and later), which ignores them again and execs the
 * program with the environment untouched (a shell would not do: dash drops variables whose
 * names are not shell names and adds PWD, bash sets SHLVL and `_`). Only when something was
 * ignored, the program would exec (else Bun.spawn's own error, said in scope's words) and this
 * `env` takes the option; otherwise it is spawned directly, as before. SIGPIPE and SIGXFSZ are
 * Bun's own ignores, not told apart from inherited ones: left out.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";

/** SIGPIPE (13) and SIGXFSZ (25): Bun ignores them in its own process. */
const BUNS_OWN = new Set([13, 25]);

/** Signal numbers ignored when this module was loaded (scope's start), from /proc/self/status SigIgn. */
export const ignoredAtStart: readonly number[] = readIgnored();

function readIgnored(): number[] {
  let mask: bigint;
  try {
    const match = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "latin1"));
    if (!match) return [];
    mask = BigInt(`0x${match[1]}`);
  } catch {
    return [];
  }
  const ignored: number[] = [];
  for (let signal = 1; signal <= 64; signal++) {
    if ((mask & (1n << BigInt(signal - 1))) !== 0n && !BUNS_OWN.has(signal)) ignored.push(signal);
  }
  return ignored;
}

/**
 * coreutils' env when it takes --ignore-signal (and so --block-signal: both came in 8.31),
 * asked once, only when needed; null: none here.
 */
let envWithIgnore: string | null | undefined;

export function ignoringEnv(): string | null {
  if (envWithIgnore !== undefined) return envWithIgnore;
  envWithIgnore = null;
  for (const path of ["/usr/bin/env", "/bin/env"]) {
    try {
      const probe = Bun.spawnSync([path, "--ignore-signal=HUP", "true"], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: { PATH: "/usr/bin:/bin" } });
      if (probe.exitCode === 0) return (envWithIgnore = path);
    } catch {
      // Not there: the next one.
    }
  }
  return envWithIgnore;
}

/**
 * The command that starts `argv` (found at `path`, what exec() would run) with the signals scope
 * was started with ignored still ignored; `argv` itself when none were, when exec() would not
 * start it, or when this system's env cannot (`unkept` then lists them, for a line saying so).
 */
export function startIgnoring(argv: readonly string[], path: string | null, ignored: readonly number[] = ignoredAtStart): { argv: string[]; unkept: readonly number[] } {
  if (ignored.length === 0 || path === null || !execs(path)) return { argv: [...argv], unkept: [] };
  const env = ignoringEnv();
  if (env === null) return { argv: [...argv], unkept: ignored };
  return { argv: [env, `--ignore-signal=${ignored.join(",")}`, "--", ...argv], unkept: [] };
}

/**
 * Whether exec() would start this file: an ELF executable, or a script whose #! interpreter is
 * an executable file. Where it would not, the program is spawned directly, so that Bun's spawn
 * fails and scope run says why in its own words.
 */
export function execs(path: string): boolean {
  let head: Buffer;
  try {
    if (!statSync(path).isFile()) return false;
    const fd = openSync(path, "r");
    try {
      head = Buffer.alloc(256);
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  if (head[0] === 0x7f && head.toString("latin1", 1, 4) === "ELF") return true;
  if (head.toString("latin1", 0, 2) !== "#!") return false;
  const interpreter = /^#!\s*(\S+)/.exec(head.toString("latin1").split("\n")[0]!)?.[1];
  if (!interpreter) return false;
  try {
    const stat = statSync(interpreter);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
