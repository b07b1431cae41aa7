/**
 * Runs fixtures in real Node processes with and without load-time instrumentation
 * (spec/fixtures/instrument/record-preload.ts + the ESM loader, bundled once per test
 * file) and decodes the function events the runtime recorded.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MatchConfig } from "../src/instrument/match";

export const instrumentFixtures = join(import.meta.dir, "fixtures", "instrument");
const root = join(import.meta.dir, "..");

let scratch: string | undefined;
let built: Promise<{ preload: string; loader: string }> | undefined;

export function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), "scope-instrument-"));
  return scratch;
}

export function cleanup(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
  built = undefined;
}

async function bundle(entry: string, outdir: string, format: "cjs" | "esm", name: string): Promise<string> {
  const result = await Bun.build({ entrypoints: [entry], outdir, target: "node", format, naming: name, external: ["oxc-parser"] });
  if (!result.success) throw new Error(result.logs.map(String).join("\n"));
  return join(outdir, name);
}

/** The preload and the ESM loader as Node runs them. */
export function buildHooks(): Promise<{ preload: string; loader: string }> {
  built ??= (async () => {
    const dir = join(scratchDir(), "hooks");
    return {
      preload: await bundle(join(instrumentFixtures, "record-preload.ts"), dir, "cjs", "preload.cjs"),
      loader: await bundle(join(root, "src", "instrument", "esm-loader.ts"), dir, "esm", "loader.mjs"),
    };
  })();
  return built;
}

export interface FunctionEvent {
  kind: "call" | "return" | "throw" | "settle" | "yield" | "resume";
  fn: string;
  /** Preview (call: arguments; return/yield/resume/settle: value) or "Type: message". */
  value?: string;
  rejected?: boolean;
  ordinal: number;
}

/** A function_listener record: `fn` null when the handler is not an instrumented function (id 0). */
export interface ListenerRecord {
  fn: string | null;
  event: string;
  method: string;
  /** The handler's own name, recorded when its id is 0. */
  handler?: string;
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
  table: { id: number; name: string; file: string; line: number; column: number; flags: number }[];
  events: FunctionEvent[];
  listeners: ListenerRecord[];
  errors: number;
  /** Events per kind name (also in count-only runs). */
  counts: Record<string, number>;
}

const kindNames: Record<number, FunctionEvent["kind"] | "listener"> = { 33: "call", 34: "return", 35: "throw", 36: "settle", 37: "yield", 38: "resume", 40: "listener" };

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== "NODE_OPTIONS" && !name.startsWith("SCOPE_")) env[name] = value;
  }
  return env;
}

/** Runs `node <file>`; with `config`, under the instrumenting preload. */
export async function runNode(file: string, config?: MatchConfig, opts: { cwd?: string; args?: string[]; nodeArgs?: string[]; countOnly?: boolean } = {}): Promise<Run> {
  const env = cleanEnv();
  const argv = ["node", ...(opts.nodeArgs ?? [])];
  const eventsPath = join(scratchDir(), `events-${Math.random().toString(36).slice(2)}.json`);
  if (config) {
    const hooks = await buildHooks();
    argv.push("--require", hooks.preload);
    env.SCOPE_TEST_CONFIG = JSON.stringify(config);
    env.SCOPE_TEST_LOADER = hooks.loader;
    env.SCOPE_TEST_EVENTS = eventsPath;
    if (opts.countOnly) env.SCOPE_TEST_COUNT_ONLY = "1";
  }
  argv.push(file, ...(opts.args ?? []));
  const child = Bun.spawn(argv, { cwd: opts.cwd ?? join(instrumentFixtures, "cases"), env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const status = await child.exited;
  const run: Run = { status, stdout, stderr, table: [], events: [], listeners: [], errors: 0, counts: {} };
  if (!config) return run;
  const raw = JSON.parse(readFileSync(eventsPath, "utf8")) as { events: number[][]; strings: [number, string][]; errors: number; counts: Record<number, number> };
  for (const [kind, count] of Object.entries(raw.counts)) run.counts[kind === "32" ? "table" : kindNames[Number(kind)]!] = count;
  const strings = new Map(raw.strings);
  const names = new Map<number, string>();
  run.errors = raw.errors;
  for (const [kind, flags, a, b, c, d, e] of raw.events as [number, number, number, number, number, number, number][]) {
    if (kind === 32) {
      names.set(a, strings.get(b)!);
      run.table.push({ id: a, name: strings.get(b)!, file: strings.get(c)!, line: d, column: e, flags });
      continue;
    }
    if (kind === 40) {
      const record: ListenerRecord = { fn: a === 0 ? null : (names.get(a) ?? `#${a}`), event: strings.get(b)!, method: strings.get(c)! };
      if (e !== 0) record.handler = strings.get(e);
      run.listeners.push(record);
      continue;
    }
    const event: FunctionEvent = { kind: kindNames[kind] as FunctionEvent["kind"], fn: names.get(a) ?? `#${a}`, ordinal: b };
    if (kind === 35 || (kind === 36 && flags & 1)) event.value = `${strings.get(c)}: ${strings.get(d) ?? ""}`;
    else if (c !== 0) event.value = strings.get(c);
    if (kind === 36 && flags & 1) event.rejected = true;
    run.events.push(event);
  }
  return run;
}

/** Events as short lines ("call add [1,2]"), for whole-sequence comparisons. */
export function lines(events: FunctionEvent[], filter?: (event: FunctionEvent) => boolean): string[] {
  return events.filter(filter ?? (() => true)).map((e) => `${e.kind} ${e.fn}${e.value === undefined ? "" : ` ${e.value}`}`);
}

/** What a Bun run under spec/fixtures/instrument/bun/record-preload-bun.ts recorded. */
export interface BunRecorded {
  status: number;
  stdout: string;
  stderr: string;
  /** [kind, flags, a, b, c, d, e] per event, in order, and the string table. */
  events: number[][];
  strings: Map<number, string>;
}

/**
 * Runs `file` with Bun from the fixtures' bun directory: untouched without `config`,
 * else with the recording preload (the plugin and runtime on an in-memory sink).
 */
export async function runBunRecorded(file: string, config?: object): Promise<BunRecorded> {
  const bunDir = join(instrumentFixtures, "bun");
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && name !== "BUN_OPTIONS" && !name.startsWith("SCOPE_")) env[name] = value;
  const argv = [process.execPath];
  const eventsPath = join(scratchDir(), `bun-events-${Math.random().toString(36).slice(2)}.json`);
  if (config) {
    argv.push("--preload", join(bunDir, "record-preload-bun.ts"));
    env.SCOPE_TEST_CONFIG = JSON.stringify(config);
    env.SCOPE_TEST_EVENTS = eventsPath;
  }
  argv.push(file);
  const child = Bun.spawn(argv, { cwd: bunDir, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const status = await child.exited;
  if (!config) return { status, stdout, stderr, events: [], strings: new Map() };
  const raw = JSON.parse(readFileSync(eventsPath, "utf8")) as { events: number[][]; strings: [number, string][] };
  return { status, stdout, stderr, events: raw.events, strings: new Map(raw.strings) };
}
