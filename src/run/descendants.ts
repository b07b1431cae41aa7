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
 * another user's environ is not readable), ~2 ms for 145 processes; looked at once when the
 * program has ended, every 25 ms while scope waits, and when a signal is passed on to them.
 *
 * Which of them belong to the run's job is decided the way a terminal or a supervisor's group
 * signal decides it: the ones still in scope's process group. One that left it (setsid, as
 * Node's `detached: true` or a daemon does; setpgid, as a shell's job control does) asked to
 * live on its own: no group signal reaches it, and scope neither passes signals to it nor waits
 * for it; it is named at the end when it is still running.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface RunProcess {
  pid: number;
  /** Its command name (/proc/<pid>/stat's comm). */
  name: string;
  /** Still in scope's process group (the run's job); false: it left it (setsid, setpgid). */
  inGroup: boolean;
}

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

function processGroup(): number {
  ownGroup ??= Number(statFields("self")?.fields[2] ?? 0);
  return ownGroup;
}

/**
 * The run's processes alive now (zombies are not: they have ended), scope's own and `except`
 * left out. `ringPath` is the run's SCOPE_RING.
 */
export function runProcesses(ringPath: string, except: ReadonlySet<number> = new Set()): RunProcess[] {
  const marker = Buffer.from(`SCOPE_RING=${ringPath}\0`);
  const group = processGroup();
  const found: RunProcess[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(name);
    if (pid === process.pid || except.has(pid)) continue;
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
    found.push({ pid, name: stat.name, inGroup: Number(stat.fields[2]) === group });
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

/**
 * Waits, after the direct child ended, until no process of the run is left in scope's group,
 * or `lingerMs` passed, or recording stopped (`recording()` false). Returns what is still running then: `held` (in the group, waited for
 * the whole grace) and `detached` (left the group: not waited for).
 */
export async function lingerForRun(
  ringPath: string,
  lingerMs: number,
  except: ReadonlySet<number>,
  recording: () => boolean = () => true,
  /** Called once, with what it waits for, when the wait has run LINGER_SAY_AFTER_MS and goes on. */
  waiting: (held: RunProcess[]) => void = () => {},
): Promise<{ held: RunProcess[]; detached: RunProcess[]; waitedMs: number }> {
  const started = performance.now();
  const deadline = started + lingerMs;
  let alive = runProcesses(ringPath, except);
  const detached = new Map<number, RunProcess>();
  let said = false;
  for (;;) {
    for (const process of alive) if (!process.inGroup) detached.set(process.pid, process);
    const held = alive.filter((process) => process.inGroup);
    // Recording that stopped (a limit, scope stop, --duration) has nothing more to wait for.
    if (held.length === 0 || performance.now() >= deadline || !recording()) {
      // The detached ones still running at the end (some may have ended meanwhile).
      const still = new Set(alive.map((process) => process.pid));
      return { held, detached: [...detached.values()].filter((process) => still.has(process.pid)), waitedMs: performance.now() - started };
    }
    if (!said && performance.now() - started >= LINGER_SAY_AFTER_MS && deadline - performance.now() > LINGER_LOOK_MS) {
      said = true;
      waiting(held);
    }
    await Bun.sleep(Math.min(LINGER_LOOK_MS, Math.max(1, deadline - performance.now())));
    alive = runProcesses(ringPath, except);
  }
}

const named = (processes: readonly RunProcess[]) => processes.map((process) => `${process.pid} (${process.name})`).join(", ");

const plural = (count: number, one: string, many: string) => (count === 1 ? `1 ${one}` : `${count} ${many}`);

/** The one line said while scope waits for what the program left running in its group. */
export function waitingLine(held: readonly RunProcess[], lingerText: string): string {
  return `scope: the program ended; waiting up to ${lingerText} for ${plural(held.length, "process", "processes")} it started: ${named(held)} (--linger <duration> changes how long)`;
}

/**
 * The one line each for what the run left running: processes in the group still running after
 * the grace (their later records and their endings are not in the trace), and processes that
 * left the group (not waited for).
 */
export function lingerLines(result: { held: RunProcess[]; detached: RunProcess[] }, lingerText: string): string[] {
  const lines: string[] = [];
  if (result.held.length > 0) {
    lines.push(
      `scope: ${plural(result.held.length, "process", "processes")} the program started still running ${lingerText === "0" ? "when it ended (--linger 0: not waited for)" : `${lingerText} after it ended (--linger ${lingerText})`}: ${named(result.held)}; what ${result.held.length === 1 ? "it records" : "they record"} from now on is not in the trace (--linger <duration> waits longer)`,
    );
  }
  if (result.detached.length > 0) {
    lines.push(
      `scope: ${plural(result.detached.length, "process", "processes")} the program started in a session or process group of ${result.detached.length === 1 ? "its" : "their"} own (detached, a daemon) left running, not waited for: ${named(result.detached)}; what ${result.detached.length === 1 ? "it records" : "they record"} from now on is not in the trace`,
    );
  }
  return lines;
}
