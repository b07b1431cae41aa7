import { Command, Option, UsageError } from "clipanion";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as t from "typanion";
import { runTraced } from "../../run/session";
import { parseDuration, parseEventGroups, parseRingSize, parseSize, ringSizeError } from "../../run/options";
import { redactionOf, type RedactionSettings } from "../../agent/shared/redact";
import { functionSettings } from "../../instrument/settings";
import { endpointError } from "../../export/otlp-send";
import { parseDurationNs } from "../../core/duration";

export class RunCommand extends Command {
  static override paths = [["run"]];

  static override usage = Command.Usage({
    description: "run a program under tracing and record its runtime events",
    details: `
      Starts \`<command>\` with the scope agent preloaded into every Node.js and Bun process and worker
      thread it creates, records processes, threads, their exits and every message between them into a
      binary trace, and prints a summary when the program ends. Standard streams pass through untouched
      and scope exits with the program's exit code (128 + signal number when a signal killed it; as a
      shell, 127 when the command is not found and 126 when it is there but cannot be run).

      SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to scope alone reach the program, and once it has ended
      every process it started that is still in scope's process group, once each (a signal sent to the
      whole group, as a terminal's Ctrl-C, is not passed on: they have it; a program that runs in a session
      of its own, \`scope run -- setsid node app.js\`, gets it from scope). When the program ends before what
      it started, scope keeps recording those processes until they end, for at most --linger (default 5s;
      a Ctrl-C stops the wait), and names the ones still running then; a shell left running, which may
      start a traced program yet (\`(sleep 1; node worker.js) &\`), is waited for too. A process that
      left the group (setsid: a daemon) and an untraced one (\`sleep 30 &\`) are not waited for.

      Options before the command are scope's; everything from the command on is passed to it unchanged.
    `,
    examples: [
      ["Trace a Node.js program", "scope run -- node app.js"],
      ["Also record the event loop (delay, utilisation, long tasks over 100 ms) and memory (heap, RSS, every GC)", "scope run --events +loop,+memory --long-task 100ms node app.js"],
      ["Trace an npm script into a chosen file", "scope run --out server.bin npm run start"],
      ["Give what the program started up to 30 s to shut down after it ended (default 5 s)", "scope run --linger 30s -- npx next dev"],
      ["Flight recorder: hold the last 30 s, write them on SIGUSR1, an uncaught exception or a non-zero exit", "scope run --flight-recorder 30s -- node server.js"],
      ["Never make the program's threads wait or spill when the drain falls behind, streaming events live", "scope run --mode overwrite --print node app.js"],
      ["Also trace the program's own functions (entry, return, throw)", "scope run --functions node app.js"],
      ["Trace only the functions under src/, entry events only", "scope run --include 'src/**' --level calls node app.js"],
      ["Trace one dependency's functions, wherever the package manager put it", "scope run --package marked node render.js"],
    ],
  });

  out = Option.String("-o,--out", "trace.bin", { description: "Where to write the trace" });
  events = Option.String("--events", { description: "Event groups to record, comma-separated: process,thread,message,http,db,loop,memory, or all (default: all but loop and memory); items that all start with + or - change the default (--events +loop,+memory; --events=-http, with = as the item starts with -)" });
  loopInterval = Option.String("--loop-interval", { description: "How often each thread records its event loop (delay, utilisation) and memory (heap, RSS) samples (default 1s, at least 10ms)" });
  longTask = Option.String("--long-task", { description: "A turn of the event loop at least this long is a long_task event (default 50ms, at least 10ms)" });
  longTaskImmediates = Option.Boolean("--long-task-immediates", false, { description: "Also time every setImmediate callback (exact long tasks of kind immediate; ~0.25 µs per immediate, off by default)" });
  ringSize = Option.String("--ring-size", "16MiB", { description: "Shared ring size (e.g. 4MiB, 64MiB; below 4GiB); rounded down to a power of two per lane, at least 64KiB" });
  mode = Option.String("--mode", "discard", {
    description: "What a full ring does when the drain falls behind: discard new events (counted) or overwrite the oldest (counted); not the flight recorder (--flight-recorder)",
    validator: t.isEnum(["discard", "overwrite"] as const),
  });
  print = Option.Boolean("--print", false, { description: "Also stream decoded events to stderr while the program runs" });
  functions = Option.String("--functions", false, {
    tolerateBoolean: true,
    description: "Trace the program's own functions by source instrumentation; --functions='<json>' (or --functions=@settings.json) passes settings (include, exclude, packages, functions, excludeFunctions, level, rules [{path?, name?, env?, level}], stateful, hotCallsPerSecond, hotSample, previewDepth, previewChars, sourceMaps); the default level is calls when NODE_ENV=production, full otherwise",
  });
  include = Option.Array("--include", {
    description: "Path glob (relative to the current directory) of files whose functions are traced, matched against both the path a file is loaded by and its real path (symlinks resolved); node_modules only when the glob names it or the package; repeatable; implies --functions",
  });
  packages = Option.Array("--package", {
    description: "Trace a package's files wherever they are installed (pnpm, workspaces, npm link, a symlinked node_modules): NAME, @scope/NAME, or NAME/<glob inside the package>; repeatable; implies --functions",
  });
  functionNames = Option.Array("--function", { description: "Function-name glob (\"render\", \"Parser.*\"); only matching functions are traced; repeatable; implies --functions" });
  exclude = Option.Array("--exclude", { description: "Path glob of files never instrumented; repeatable; implies --functions" });
  level = Option.String("--level", {
    description: "Function tracing level: calls (entry only, cheapest) or full (entry, return, throw, values); implies --functions",
    validator: t.isEnum(["off", "calls", "full"] as const),
  });

  hotCallsPerSecond = Option.String("--hot-calls-per-second", {
    description: "Hot-function guard: a function called more often than this per second (per thread) is sampled, 1 call in 100 recorded, and the trace says so (function_sampled); 0 turns the guard off; default 10000; implies --functions",
  });

  // Safety limits: past any of them recording stops, the program runs on, the trace says why.
  maxEvents = Option.String("--max-events", { description: "Stop recording after this many records (the program runs on; the trace says why)" });
  maxSize = Option.String("--max-size", { description: "Stop recording before the trace file passes this size (e.g. 512MiB; at least 64KiB)" });
  duration = Option.String("--duration", { description: "Stop recording this long after the start (e.g. 30s, 5m, 250ms)" });
  linger = Option.String("--linger", {
    description: "Once the program has ended, wait this long (default 5s; 0: not at all) for the processes it started that are still running in scope's process group (an npx's server still shutting down, a script's `node worker.js &`), recording them; the ones still running then are named. A Ctrl-C stops the wait. A process that left the group (setsid, a daemon) or records nothing (a shell's `sleep 30 &`) is not waited for",
  });

  flightRecorder = Option.String("--flight-recorder", {
    description: "Hold about the last <duration> of records in memory (e.g. 30s) and write them to the trace only on SIGUSR1 to scope run, an uncaught exception or unhandled rejection in any traced process or thread, or a non-zero exit; the trace says what triggered each write",
  });
  flightMemory = Option.String("--flight-memory", { description: "Memory the flight recorder may hold (default 256MiB, at least 1MiB): past it the oldest records go even inside the window" });

  failOpen = Option.Boolean("--fail-open", false, { description: "When tracing cannot start (/dev/shm full or read-only, the trace file not writable), run the program untraced instead of refusing" });

  maxOverhead = Option.String("--max-overhead", {
    description: "Overhead governor: hold the time each thread spends in function tracing under this percent of its wall time, stepping the costliest functions down (full → calls → sampled → off) and back up when load falls; each step is a function_level event; implies --functions",
  });

  redactKeys = Option.Array("--redact-keys", { description: "More secret keys (comma-separated, repeatable; substrings, any case) whose values previews and URLs show as [redacted], besides password, token, secret, key, authorization, cookie, credential, session" });
  redactPatterns = Option.Array("--redact-pattern", { description: "A regular expression whose matches are replaced by [redacted] in every recorded string (previews, URLs, query texts, error messages, command lines); repeatable" });
  redactFile = Option.String("--redact-file", { description: "Redaction settings from a JSON file: {\"keys\": [...], \"patterns\": [...], \"off\": false}, the same as --redact-keys, --redact-pattern and --no-redact (which add to it)" });
  redact = Option.Boolean("--redact", true, { description: "--no-redact records secret-looking keys' values and SQL literals as they are (never the default); --redact-keys and --redact-pattern still apply" });

  propagate = Option.Boolean("--propagate", false, {
    description: "Add a W3C traceparent header to outgoing HTTP requests (node:http/https, fetch; not when the program set one), so the server's trace names the request that reached it; off by default: it changes what servers receive",
  });
  async = Option.String("--async", false, {
    tolerateBoolean: true,
    description: "Async causality: which timer, I/O completion, message port or promise was created by which and when each ran, so `scope dump --why <event#>` can walk an event's causes. --async (= callbacks): timers, immediates, nextTick, I/O, message ports; --async=promises adds every promise (costly on promise-heavy code: scope bench's async workloads). Bun: timers, immediates, nextTick and queueMicrotask only",
  });

  otlp = Option.String("--otlp", { description: "Also send the trace's spans (requests, queries, messages) to this OTLP/HTTP endpoint while the program runs, e.g. http://127.0.0.1:4318/v1/traces: batched, retried while it is down, never holding up the program; what could not be sent is counted in the summary (the trace file has everything)" });
  otlpFormat = Option.String("--otlp-format", { description: "protobuf (default) or json, with --otlp" });
  otlpFunctions = Option.Boolean("--otlp-functions", false, { description: "With --otlp: function calls as INTERNAL spans too" });
  serviceName = Option.String("--service-name", { description: "With --otlp: the service.name resource attribute (default: the program's script name)" });

  program = Option.String({ name: "command" });
  args = Option.Proxy();

  async execute(): Promise<number> {
    const ringBytes = parseRingSize(this.ringSize);
    if (ringBytes === undefined) throw new UsageError(ringSizeError(this.ringSize));
    const limits = parseLimits(this.maxEvents, this.maxSize, this.duration);
    const parsed = this.events === undefined ? undefined : parseEventGroups(this.events);
    if (parsed !== undefined && !Array.isArray(parsed)) throw new UsageError(`--events: ${parsed.error}`);
    const events = parsed;
    const hot = this.hotCallsPerSecond === undefined ? undefined : /^\d+$/.test(this.hotCallsPerSecond.trim()) ? Number(this.hotCallsPerSecond) : Number.NaN;
    const budget = this.maxOverhead === undefined ? undefined : /^\d+(\.\d+)?%?$/.test(this.maxOverhead.trim()) ? Number.parseFloat(this.maxOverhead) : Number.NaN;
    // `--functions {"level":"calls"} node app.js` (a space, not "="): the settings would be run as the command.
    if (this.functions === true && /^[{@]/.test(this.program)) {
      throw new UsageError(`--functions takes its settings after "=": --functions='${this.program}' (with a space, "${this.program}" would be run as the command)`);
    }
    const functions = functionSettings({ functions: this.functions, include: this.include, exclude: this.exclude, packages: this.packages, functionNames: this.functionNames, level: this.level, hotCallsPerSecond: hot, maxOverhead: budget, root: process.cwd() });
    if (typeof functions === "object") throw new UsageError(`--functions: ${functions.error}`);
    const flight = parseFlight(this.flightRecorder, this.flightMemory, this.print, this.mode);
    const otlp = parseOtlp(this.otlp, this.otlpFormat, this.otlpFunctions, this.serviceName);
    const lingerMs = this.linger === undefined ? undefined : parseLinger(this.linger);
    return runTraced({
      argv: [this.program, ...this.args],
      out: this.out,
      events,
      functions,
      ringBytes,
      mode: this.mode,
      print: this.print,
      stdout: this.context.stdout,
      stderr: this.context.stderr,
      colorEnabled: this.context.colorDepth > 1,
      ...limits,
      failOpen: this.failOpen,
      flight,
      redact: redactionSettings(this.redactKeys, this.redactPatterns, this.redact, this.redactFile),
      otlp,
      async: asyncLevel(this.async),
      propagate: this.propagate,
      loop: parseLoop(this.loopInterval, this.longTask, this.longTaskImmediates),
      lingerMs,
      lingerText: this.linger?.trim(),
    });
  }
}

/** --async[=callbacks|promises]; absent: off. */
function asyncLevel(value: string | boolean): "callbacks" | "promises" | undefined {
  if (value === false) return undefined;
  if (value === true) return "callbacks";
  if (value === "callbacks" || value === "promises") return value;
  throw new UsageError(`--async: expected callbacks or promises, got "${value}"`);
}

/** --loop-interval, --long-task, checked (at least 10 ms each); undefined when neither is given (the agents' defaults). */
function parseLoop(interval: string | undefined, longTask: string | undefined, immediates: boolean) {
  if (interval === undefined && longTask === undefined && !immediates) return undefined;
  const read = (flag: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 10 || ms > 2 ** 31 - 1) throw new UsageError(`${flag}: expected a duration of at least 10ms such as 1s or 250ms, got "${text}"`);
    return ms;
  };
  return { intervalMs: read("--loop-interval", interval, 1000), thresholdMs: read("--long-task", longTask, 50), immediates };
}

/** --linger, checked: a duration (0 for none), at most a day. */
function parseLinger(text: string): number {
  const ns = parseDurationNs(text);
  const ms = ns === undefined ? undefined : Number(ns) / 1e6;
  if (ms === undefined || ms > 86_400_000) throw new UsageError(`--linger: expected a duration such as 5s, 500ms or 0, got "${text}"`);
  return Math.round(ms);
}

/** --max-events, --max-size, --duration, checked: a malformed one is a usage error. */
function parseLimits(maxEvents: string | undefined, maxSize: string | undefined, duration: string | undefined) {
  const limits: { maxEvents?: number; maxSizeBytes?: number; durationMs?: number } = {};
  if (maxEvents !== undefined) {
    if (!/^\d+$/.test(maxEvents.trim()) || Number(maxEvents) < 1) throw new UsageError(`--max-events: expected a whole number of records, got "${maxEvents}"`);
    limits.maxEvents = Number(maxEvents);
  }
  if (maxSize !== undefined) {
    const bytes = parseSize(maxSize);
    if (bytes === undefined || bytes < 64 * 1024) throw new UsageError(`--max-size: expected a size of at least 64KiB such as 512MiB, got "${maxSize}"`);
    limits.maxSizeBytes = bytes;
  }
  if (duration !== undefined) {
    const ms = parseDuration(duration);
    if (ms === undefined) throw new UsageError(`--duration: expected a duration such as 30s, 5m or 250ms, got "${duration}"`);
    limits.durationMs = ms;
  }
  return limits;
}

/** --flight-recorder, --flight-memory, checked: a malformed one, or one that cannot go with --print or --mode overwrite, is a usage error. */
function parseFlight(window: string | undefined, memory: string | undefined, print: boolean, mode: string) {
  if (window === undefined) {
    if (memory !== undefined) throw new UsageError("--flight-memory: only with --flight-recorder");
    return undefined;
  }
  const windowMs = parseDuration(window);
  if (windowMs === undefined || windowMs > 2 ** 32 - 1) throw new UsageError(`--flight-recorder: expected a duration such as 30s, 5m or 500ms, got "${window}"`);
  if (print) throw new UsageError("--flight-recorder holds records in the drain thread until a trigger; --print cannot stream them, use one or the other");
  if (mode === "overwrite") throw new UsageError("--flight-recorder keeps the ring in discard mode so the window loses nothing; --mode overwrite cannot go with it");
  let memoryBytes = 256 * 1024 ** 2;
  if (memory !== undefined) {
    const bytes = parseSize(memory);
    if (bytes === undefined || bytes < 1024 ** 2 || bytes > 1024 ** 4) throw new UsageError(`--flight-memory: expected a size from 1MiB to 1024GiB such as 256MiB, got "${memory}"`);
    memoryBytes = bytes;
  }
  return { windowMs, memoryBytes };
}

/** --redact-keys, --redact-pattern, --no-redact as SCOPE_REDACT's settings (undefined: the defaults); a bad pattern is a usage error. */
function redactionSettings(keys: string[] | undefined, patterns: string[] | undefined, redact: boolean, file: string | undefined): RedactionSettings | undefined {
  const settings: RedactionSettings = file === undefined ? {} : readRedactionFile(file);
  if (keys?.length) settings.keys = [...(settings.keys ?? []), ...keys.flatMap((list) => list.split(",")).map((key) => key.trim()).filter(Boolean)];
  if (patterns?.length) settings.patterns = [...(settings.patterns ?? []), ...patterns];
  if (!redact) settings.off = true;
  if (Object.keys(settings).length === 0) return undefined;
  try {
    redactionOf(settings);
  } catch (error) {
    throw new UsageError(`--redact-pattern: not a regular expression (${(error as Error).message})`);
  }
  return settings;
}

/** --redact-file: {keys?: string[], patterns?: string[], off?: boolean}; every problem is one usage line naming the file. */
function readRedactionFile(name: string): RedactionSettings {
  const path = resolve(name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--redact-file: cannot read ${path} (${code === "ENOENT" ? "no such file" : (error as Error).message})`);
  }
  const strings = (value: unknown) => value === undefined || (Array.isArray(value) && value.every((item) => typeof item === "string"));
  const object = parsed as Record<string, unknown>;
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`--redact-file: ${path} must hold a JSON object`);
  const unknown = Object.keys(object).find((key) => !["keys", "patterns", "off"].includes(key));
  if (unknown !== undefined) throw new UsageError(`--redact-file: ${path}: unknown setting "${unknown}" (known: keys, patterns, off)`);
  if (!strings(object.keys) || !strings(object.patterns) || (object.off !== undefined && typeof object.off !== "boolean")) {
    throw new UsageError(`--redact-file: ${path}: "keys" and "patterns" must be arrays of strings, "off" true or false`);
  }
  return { ...(object.keys ? { keys: object.keys as string[] } : {}), ...(object.patterns ? { patterns: object.patterns as string[] } : {}), ...(object.off ? { off: true } : {}) };
}

/** --otlp and its companions, checked: an endpoint must be an http(s) URL. */
function parseOtlp(endpoint: string | undefined, format: string | undefined, functions: boolean, serviceName: string | undefined) {
  if (endpoint === undefined) {
    if (format !== undefined || functions || serviceName !== undefined) throw new UsageError("--otlp-format, --otlp-functions and --service-name go with --otlp");
    return undefined;
  }
  const problem = endpointError(endpoint);
  if (problem) throw new UsageError(problem);
  if (format !== undefined && format !== "protobuf" && format !== "json") throw new UsageError(`--otlp-format: expected protobuf or json, got "${format}"`);
  return { endpoint, format: (format ?? "protobuf") as "protobuf" | "json", functions, serviceName };
}

