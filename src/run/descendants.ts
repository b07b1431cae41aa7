/**
 * The processes a `scope run` started, beyond its direct child (ARCHITECTURE.md "Exits: every
 * ending in the trace", "Descendants that outlive the program"): what its signals reach and
 * what it waits for once the direct child has ended.
 *
 * A process of the run is one whose environment carries this run's `SCOPE_RING=<ring path>`
 * (the ring's path has a random part, so no other run's process has it): every process the
 * program started inherits it at fork, traced or not yet (a node still loading its agent), and
 * the agents put it back for children started with an environment of their own
 * (src/agent/shared/child-env.ts). Found by a look over /proc (the processes of scope's user:
 * another user's environ is not readable), ~1 ms for 110 processes (scripts/bench-run-look.ts);
 * looked at once when the program has ended, every 25 ms while scope waits, and when a signal
 * is passed on to them.
 *
 * Which of them belong to the run's job is decided the way a terminal or a supervisor's group
 * signal decides it: the ones still in scope's process group, and, when the program itself left
 * it (`scope run -- setsid node app.js`), the ones in the program's own session or group, which
 * no group signal of scope's reaches either. One that left them (setsid, as Node's `detached:
 * true` or a daemon does; setpgid, as a shell's job control does) asked to live on its own:
 * scope neither passes signals to it nor waits for it; it is named at the end when it is still
 * running.
 *
 * Waited for: the ones that record, with the ring mapped (/proc/<pid>/maps) or a node or bun
 * younger than STARTING_MS started with an agent (still loading it: its NODE_OPTIONS,
 * BUN_OPTIONS or arguments name one); and a shell (sh, bash, ...) or a wrapper about to exec
 * its command (nice, env, ...), which may start a traced program yet (`(sleep 1; node
 * worker.js) &`, `nice node worker.js &`). Any other untraced process that inherited
 * SCOPE_RING (a shell's `sleep 30 &`, a node with its NODE_OPTIONS emptied) writes nothing that
 * a wait would keep.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { basename, isAbsolute } from "node:path";
import { quoteOption } from "../agent/inject";
import { counted } from "../core/counted";

/**
 * Where a process of the run is: `group`, scope's process group (the program is spawned into
 * it); `own`, the program's own session or process group, when the program itself left scope's
 * group (`scope run -- setsid node app.js`, a program that calls setpgid): its job still; or
 * `detached`, a session or group another process of the run made (Node's `detached: true`, a
 * daemon): on its own.
 */
export type Place = "group" | "own" | "detached";

export interface RunProcess {
  pid: number;
  /** Its command name (/proc/<pid>/stat's comm). */
  name: string;
  place: Place;
  /**
   * Records into the run's ring: it has the ring mapped (/proc/<pid>/maps), or it is a runtime
   * the agent goes into (node, bun) started less than STARTING_MS ago, which may still be loading
   * the agent. False: an untraced process (a shell's `sleep 30 &`, a browser), which
   * inherited SCOPE_RING but writes nothing; it is passed signals as the job's, never waited for.
   */
  records: boolean;
  /**
   * An untraced shell (the executable sh, dash, bash, ...), xargs, or a wrapper not yet become
   * its command (nice, env, setsid, ...): it writes nothing itself but may start a program that
   * does (`(sleep 1; node worker.js) &` after the program ended), so it is waited for as one
   * that records is; one that ran out of commands has ended (STARTER_NAME).
   */
  starts: boolean;
}

/**
 * What marks a process of one run: its `SCOPE_RING` (`ring`), and the agents' files (`agents`),
 * one of which a node or bun that will record names in its NODE_OPTIONS, BUN_OPTIONS or
 * arguments before it has the ring mapped.
 */
export interface RunMarks {
  ring: string;
  agents: { node: string; bun: string };
}

/** How long a node or bun of the run that has not mapped the ring yet is taken as still starting. */
const STARTING_MS = 3000;

/**
 * The executables the agent goes into, by file name: node, nodejs, node22, bun, bun.exe (the
 * npm package's), bun-profile. A process of the run running one may still be starting.
 */
const RUNTIME_NAME = /^(node|bun)/i;

/**
 * What may start a traced program yet, by executable file name (busybox's by its command name):
 * a shell (it runs a sequence: `(sleep 1; node worker.js) &`, a loop, `a && b`), xargs (one
 * command after another), and the wrappers that exec their command (`nice node app.js &`: found
 * between the fork and the exec, it is node a moment later; at nice 10 on a loaded host, for
 * tens of ms). Not `timeout` or `time`, which start theirs at once and stay its parent (the child
 * is found), nor a `make`: not covered.
 */
const STARTER_NAME = /^(sh|ash|dash|bash|zsh|ksh|ksh93|mksh|yash|posh|fish|xargs|env|nice|nohup|setsid|stdbuf|taskset|ionice|chrt)$/;

/** scope's own process group, read once. */
let ownGroup: number | undefined;

function statFields(pid: number | "self"): { name: string; fields: string[] } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "latin1");
    const close = text.lastIndexOf(")");
    return { name: text.slice(text.indexOf("(") + 1, close), fields: text.slice(close + 2).split(" ") };
  } catch {
    return undefined;
  }
}

/** scope's process group. */
export function processGroup(): number {
  ownGroup ??= Number(statFields("self")?.fields[2] ?? 0);
  return ownGroup;
}

/** The process group of `pid` now; undefined when it has gone. */
export function groupOf(pid: number): number | undefined {
  const stat = statFields(pid);
  return stat === undefined ? undefined : Number(stat.fields[2]);
}

/** Seconds since boot (/proc/uptime), for a process's age from its start time. */
function uptimeSeconds(): number {
  try {
    return Number(readFileSync("/proc/uptime", "latin1").split(" ")[0]);
  } catch {
    return 0;
  }
}

/** Clock ticks a second (stat's starttime unit): 100 on Linux everywhere scope runs. */
const CLOCK_TICKS = 100;

/**
 * The processes found holding the ring, by pid with their start time (a pid reused meanwhile
 * starts later): a process keeps the ring mapped to its end, so its maps (~8 KB for a node) are
 * read until it has it, not at every look while scope waits. For one ring at a time.
 */
const holders = { ring: "", started: new Map<number, string>() };

function holdsRing(pid: number, ring: string, started: string): boolean {
  if (holders.ring !== ring) {
    holders.ring = ring;
    holders.started.clear();
  }
  if (holders.started.get(pid) === started) return true;
  try {
    if (readFileSync(`/proc/${pid}/maps`).indexOf(ring) < 0) return false;
  } catch {
    return false;
  }
  holders.started.set(pid, started);
  return true;
}

/** The file name of `pid`'s executable; "" when it cannot be read (gone, a kernel thread). */
function executable(pid: number): string {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return "";
  }
}

/** The variable each runtime reads its agent from (src/agent/inject.ts puts it there). */
const AGENT_VARIABLE = { node: "NODE_OPTIONS=", bun: "BUN_OPTIONS=" } as const;

/** The value of `name` (with its `=`) in an environ's NUL-separated entries; undefined when absent. */
function variable(environ: Buffer, name: string): Buffer | undefined {
  let at = environ.indexOf(name);
  // Not the first entry: the one whose name starts after a NUL (not a value that holds the text).
  if (at > 0) at = environ.indexOf(`\0${name}`) + 1 || -1;
  if (at < 0) return undefined;
  const end = environ.indexOf(0, at);
  return environ.subarray(at + name.length, end < 0 ? environ.length : end);
}

/**
 * Whether a node or bun not yet holding the ring was started with its agent: named in its
 * NODE_OPTIONS (--require) or BUN_OPTIONS (--preload), as src/agent/inject.ts puts it, or in its
 * arguments (a top-level bun's --preload). Each inherits both variables, so only its own counts.
 * One started without (NODE_OPTIONS emptied by a shell, replaced by a program), or while the
 * kill switch's file (its SCOPE_DISABLE_FILE, relative to its cwd as its agent reads it) exists,
 * stays untraced: waiting for it keeps nothing.
 */
function loadsAgent(pid: number, file: string, environ: Buffer, agents: RunMarks["agents"]): boolean {
  const disable = variable(environ, "SCOPE_DISABLE_FILE=")?.toString();
  if (disable && existsSync(isAbsolute(disable) ? disable : `/proc/${pid}/cwd/${disable}`)) return false;
  const runtime = /^bun/i.test(file) ? "bun" : "node";
  const agent = agents[runtime];
  const options = variable(environ, AGENT_VARIABLE[runtime]);
  // As inject.ts writes it: quoted for NODE_OPTIONS (a path's backslashes and quotes escaped).
  if (options?.includes(agent) || options?.includes(quoteOption(agent).slice(1, -1))) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`).includes(agent);
  } catch {
    return false;
  }
}

/** Whether an untraced process may start a traced program yet (STARTER_NAME). */
function mayStart(name: string, file: string): boolean {
  return STARTER_NAME.test(file) || (file === "busybox" && STARTER_NAME.test(name));
}

/**
 * The run's processes alive now (zombies are not: they have ended), scope's own and the
 * program's (`programPid`, scope's direct child) left out.
 */
export function runProcesses(run: RunMarks, programPid: number): RunProcess[] {
  const ringPath = run.ring;
  const marker = Buffer.from(`SCOPE_RING=${ringPath}\0`);
  const group = processGroup();
  const found: RunProcess[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return found;
  }
  let uptime: number | undefined;
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(name);
    if (pid === process.pid || pid === programPid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // another user's, or gone
    }
    const at = environ.indexOf(marker);
    if (at < 0 || (at > 0 && environ[at - 1] !== 0)) continue;
    const stat = statFields(pid);
    if (!stat || stat.fields[0] === "Z" || stat.fields[0] === "X") continue;
    const [processGroupId, session] = [Number(stat.fields[2]), Number(stat.fields[3])];
    const place: Place = processGroupId === group ? "group" : processGroupId === programPid || session === programPid ? "own" : "detached";
    let records = holdsRing(pid, ringPath, stat.fields[19]!);
    let starts = false;
    if (!records) {
      // An untraced one's executable: one readlink (1.2 µs CPU), then its own agent variable only for a young runtime.
      const file = executable(pid);
      uptime ??= uptimeSeconds();
      records = RUNTIME_NAME.test(file) && (uptime - Number(stat.fields[19]) / CLOCK_TICKS) * 1000 < STARTING_MS && loadsAgent(pid, file, environ, run.agents);
      starts = !records && mayStart(stat.name, file);
    }
    found.push({ pid, name: stat.name, place, records, starts });
  }
  return found;
}

/** Sends `signal` to each pid (one that has gone meanwhile is skipped). */
export function signalEach(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone since the look.
    }
  }
}

/** How often the wait looks whether the run's processes have ended. */
const LINGER_LOOK_MS = 25;

/**
 * How long the wait runs before it says so (waitingLine): a graceful shutdown that ends sooner
 * passes unannounced; a longer silent pause after the program ended looked like a hang.
 */
const LINGER_SAY_AFTER_MS = 500;

/** What the wait left: see lingerForRun. */
export interface Lingered {
  /** Recording processes (and shells) of the run's job still running when the wait ended. */
  held: RunProcess[];
  /** Recording processes in a session or group of their own (a daemon): not waited for. */
  detached: RunProcess[];
  waitedMs: number;
  /** The signal (a Ctrl-C's SIGINT, a Ctrl-\'s SIGQUIT) that stopped the wait before its end. */
  stoppedBy?: string;
}

/** What a wait is for: a process that records, or a shell (a wrapper) that may start one (RunProcess). */
const waitedFor = (process: RunProcess) => process.records || process.starts;

/**
 * Waits, after the direct child ended, until no recording process (nor shell) of the run's job
 * (scope's group, the program's own) is left, or `lingerMs` passed, or recording stopped
 * (`recording()` false), or a signal stopped the wait (`stoppedBy()`: a Ctrl-C). Other untraced
 * processes of the job (`sleep 30 &`) are not waited for: they record nothing.
 */
export async function lingerForRun(
  run: RunMarks,
  lingerMs: number,
  programPid: number,
  recording: () => boolean = () => true,
  /** Called once, with what it waits for, when the wait has run LINGER_SAY_AFTER_MS and goes on. */
  waiting: (held: RunProcess[]) => void = () => {},
  stoppedBy: () => string | undefined = () => undefined,
  /** Called once, before the first pause, when there is something to wait for. */
  begins: () => void = () => {},
): Promise<Lingered> {
  const started = performance.now();
  const deadline = started + lingerMs;
  let alive = runProcesses(run, programPid).filter(waitedFor);
  const detached = new Map<number, RunProcess>();
  let said = false;
  let waitedOnce = false;
  for (;;) {
    // A detached shell is not named: it records nothing, and what it starts is a daemon's.
    for (const process of alive) if (process.place === "detached" && process.records) detached.set(process.pid, process);
    const held = alive.filter((process) => process.place !== "detached");
    const stopped = stoppedBy();
    // Recording that stopped (a limit, scope stop, --duration) has nothing more to wait for.
    if (held.length === 0 || performance.now() >= deadline || !recording() || stopped !== undefined) {
      // The detached ones still running at the end (some may have ended meanwhile).
      const still = new Set(alive.map((process) => process.pid));
      const detachedNow = [...detached.values()].filter((process) => still.has(process.pid));
      return { held, detached: detachedNow, waitedMs: performance.now() - started, ...(held.length > 0 && stopped !== undefined ? { stoppedBy: stopped } : {}) };
    }
    if (waitedOnce === false) {
      waitedOnce = true;
      begins();
    }
    if (!said && performance.now() - started >= LINGER_SAY_AFTER_MS && deadline - performance.now() > LINGER_LOOK_MS) {
      said = true;
      waiting(held);
    }
    await Bun.sleep(Math.min(LINGER_LOOK_MS, Math.max(1, deadline - performance.now())));
    alive = runProcesses(run, programPid).filter(waitedFor);
  }
}

const named = (processes: readonly RunProcess[]) => processes.map((process) => `${process.pid} (${process.name})`).join(", ");


/**
 * The one line said while scope waits for what the program left running in its group.
 * `interrupted`: a Ctrl-C came before (the one that ended the program, or one pressed as it
 * ended, which cannot be told from it): it did not stop the wait, the next one does.
 */
export function waitingLine(held: readonly RunProcess[], lingerText: string, interrupted = false): string {
  return `scope: the program ended; waiting up to ${lingerText} for ${counted(held.length, "process", "processes")} it started: ${named(held)} (Ctrl-C ${interrupted ? "again " : ""}stops waiting; --linger <duration> changes how long)`;
}

/**
 * The one line each for what the run left running: processes in the group still running after
 * the grace or when a Ctrl-C stopped the wait (their later records and their endings are not in
 * the trace), and processes that left the group (not waited for).
 */
export function lingerLines(result: Lingered, lingerText: string): string[] {
  const lines: string[] = [];
  const { held, detached } = result;
  const records = (processes: readonly RunProcess[]) => {
    const one = processes.length === 1;
    // A shell records nothing itself: what it starts from now on runs untraced (the ring is gone).
    if (processes.every((process) => process.starts)) return `what ${one ? "it starts" : "they start"} from now on is not traced`;
    const either = processes.some((process) => process.starts) ? " or start" : "";
    return `what ${one ? "it records" : `they record${either}`} from now on is not in the trace`;
  };
  if (held.length > 0 && result.stoppedBy !== undefined) {
    lines.push(`scope: ${counted(held.length, "process", "processes")} the program started still running when ${result.stoppedBy} stopped the wait for ${held.length === 1 ? "it" : "them"}: ${named(held)}; ${records(held)}`);
  } else if (held.length > 0) {
    lines.push(
      `scope: ${counted(held.length, "process", "processes")} the program started still running ${lingerText === "0" ? "when it ended (--linger 0: not waited for)" : `${lingerText} after it ended (--linger ${lingerText})`}: ${named(held)}; ${records(held)} (--linger <duration> waits longer)`,
    );
  }
  if (detached.length > 0) {
    lines.push(
      `scope: ${counted(detached.length, "process", "processes")} the program started in a session or process group of ${detached.length === 1 ? "its" : "their"} own (detached, a daemon) left running, not waited for: ${named(detached)}; ${records(detached)}`,
    );
  }
  return lines;
}
