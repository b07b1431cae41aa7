/**
 * How `scope run` starts a command so that every Node and Bun process it creates, and
 * every worker thread, loads the agent: through the environment, which child
 * processes inherit (npm, npx, shells and Node's own child_process all pass it on).
 *
 * A child the program starts with an `env` of its own gets the same options in front of its
 * NODE_OPTIONS/BUN_OPTIONS and the SCOPE_ variables it left out, from the agents
 * (src/agent/shared/child-env.ts, with addAgentOptions and SCOPE_VARIABLES below).
 *
 * - Node: `--require "<node agent>"` prepended to NODE_OPTIONS (an existing value is
 *   kept after it). Node applies NODE_OPTIONS preloads to worker threads as well.
 * - Bun: `--preload=<bun agent>` prepended to BUN_OPTIONS (unquoted), which Bun 1.4 reads for
 *   `bun <file>`, `bun run`, `bun test` and the bun processes those start. With `=`: Bun 1.4.5's
 *   `bun run` (a file or a package.json script) reads a BUN_OPTIONS flag whose value is the next
 *   word as having no value and prints its usage instead of running anything (auditbun). Bun does not apply
 *   preloads to its workers; the Bun agent passes itself to each new Worker.
 * - SCOPE_RING, SCOPE_ADDON, SCOPE_LIBSCOPE, SCOPE_EVENTS tell the agent where to write;
 *   SCOPE_REDACT what to redact beyond the defaults (src/agent/shared/redact.ts).
 * - SCOPE_FUNCTIONS (function tracing settings, JSON), SCOPE_ESM_LOADER (the bundled ESM
 *   loader) and SCOPE_TRANSFORM_CACHE (where transformed sources are kept) turn on
 *   function tracing (src/instrument/agent.ts); children and workers inherit them.
 *   SCOPE_OXC_BINDING names the oxc-parser binding the bundled parser opens for
 *   TypeScript (src/instrument/oxc-binding.ts); not NAPI_RS_NATIVE_LIBRARY_PATH, which
 *   every napi-rs package the program loads would obey.
 * - SCOPE_ASYNC (`callbacks` or `promises`) turns on async causality (src/agent/node/async.ts,
 *   src/agent/bun/async.ts); absent, the agents install nothing for it.
 */

import { envFileNodeOptions, isNodeCommand } from "./shared/env-file";
import type { RedactionSettings } from "./shared/redact";

export interface LaunchOptions {
  argv: string[];
  env: Record<string, string | undefined>;
  ringPath: string;
  assets: { nodeAgent: string; bunAgent: string; addon: string; libscope: string; esmLoader?: string; functionsAgent?: string; oxcBinding?: string };
  /** Event groups (process, thread, message); all when absent. */
  events?: string[];
  /** Function tracing settings (JSON of src/instrument/match.ts MatchConfig); off when absent. */
  functions?: string;
  /** Private directory for cached transforms (function tracing only). */
  transformCache?: string;
  /** SCOPE_REDACT (src/agent/shared/redact.ts); the defaults when absent. */
  redact?: RedactionSettings;
  /** SCOPE_ASYNC: the async causality level (scope run --async); off when absent. */
  async?: "callbacks" | "promises";
  /** SCOPE_PROPAGATE=1: outgoing HTTP requests get a `traceparent` header (scope run --propagate). */
  propagate?: boolean;
  /** SCOPE_LOOP (src/agent/shared/loop.ts): the loop/memory sample interval, the long-task threshold, whether immediates are timed; the defaults when absent. */
  loop?: { intervalMs: number; thresholdMs: number; immediates?: boolean };
}

export interface Launch {
  argv: string[];
  env: Record<string, string>;
}

/** Quotes a path the way Node's NODE_OPTIONS (and Bun's BUN_OPTIONS) parser reads it. */
export function quoteOption(path: string): string {
  return `"${path.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The agents' file names, side by side in one directory (src/core/assets.ts): an agent finds the other runtime's from its own. */
export const NODE_AGENT_FILE = "node.cjs";
export const BUN_AGENT_FILE = "bun.mjs";

/** Every variable prepareLaunch sets for the agents besides NODE_OPTIONS and BUN_OPTIONS (it clears them all first: the one list). */
export const SCOPE_VARIABLES = [
  "SCOPE_RING",
  "SCOPE_ADDON",
  "SCOPE_LIBSCOPE",
  "SCOPE_EVENTS",
  "SCOPE_REDACT",
  "SCOPE_ASYNC",
  "SCOPE_PROPAGATE",
  "SCOPE_LOOP",
  "SCOPE_FUNCTIONS",
  "SCOPE_ESM_LOADER",
  "SCOPE_FUNCTIONS_AGENT",
  "SCOPE_OXC_BINDING",
  "SCOPE_TRANSFORM_CACHE",
] as const;

export interface AgentOptions {
  /** `--require "<node agent>"`, for NODE_OPTIONS. */
  node: string;
  /** The node agent's path (what `node` requires). */
  nodeAgent: string;
  /** `--preload=<bun agent>`, for BUN_OPTIONS; absent when the path has whitespace. */
  bun?: string;
}

export function agentOptions(nodeAgent: string, bunAgent: string): AgentOptions {
  // Bun splits BUN_OPTIONS on whitespace and reads no quotes: a path with a space cannot
  // go there; a top-level `bun` command then gets --preload as an argument instead.
  return { node: `--require ${quoteOption(nodeAgent)}`, nodeAgent, bun: /\s/.test(bunAgent) ? undefined : `--preload=${bunAgent}` };
}

function prependOption(existing: unknown, option: string, file?: string): string {
  // A value that is not a string (a child's `env` given by the program): as the runtime reads it.
  const text = existing === undefined || existing === null ? "" : `${existing}`;
  if (text.trim() === "") return option;
  if (text.includes(option) || (file !== undefined && requiresFile(text, file))) return text;
  return `${option} ${text}`;
}

/**
 * Whether NODE_OPTIONS `text` requires `file` already, in any form Node reads: `--require F`,
 * `--require=F`, `-r F`, F quoted or not. A program that parsed scope's option and wrote it
 * back its own way (Next.js gives its workers `--require=F`) keeps it as it is: one more
 * `--require "F"` in front is harmless to Node, but Next reads the two as one option whose
 * value is "F F", and its next worker then fails to start (Cannot find module 'F F').
 */
function requiresFile(text: string, file: string): boolean {
  if (!text.includes(file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1))) return false;
  const tokens = nodeOptionTokens(text);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === `--require=${file}` || ((token === "--require" || token === "-r") && tokens[i + 1] === file)) return true;
  }
  return false;
}

/** NODE_OPTIONS split as Node splits it: on spaces outside double quotes, a backslash in quotes escaping the next character, the quotes dropped. */
function nodeOptionTokens(text: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let started = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted && char === "\\" && i + 1 < text.length) {
      current += text[++i];
    } else if (char === '"') {
      quoted = !quoted;
      started = true;
    } else if (char === " " && !quoted) {
      if (started) tokens.push(current);
      current = "";
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (started) tokens.push(current);
  return tokens;
}

/**
 * Puts the agents' options in front of env's NODE_OPTIONS and BUN_OPTIONS (a value already
 * there is kept after them): for the program `scope run` starts, and for a child the
 * program starts with an `env` of its own (src/agent/shared/child-env.ts).
 */
export function addAgentOptions(env: Record<string, unknown>, options: AgentOptions): void {
  env.NODE_OPTIONS = prependOption(env.NODE_OPTIONS, options.node, options.nodeAgent);
  if (options.bun !== undefined) env.BUN_OPTIONS = prependOption(env.BUN_OPTIONS, options.bun);
}

export function prepareLaunch(opts: LaunchOptions): Launch {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.env)) if (value !== undefined) env[name] = value;
  // `node --env-file=.env app.js`: the file's NODE_OPTIONS, which Node applies only when the
  // environment has none, is the program's own, after scope's option (shared/env-file.ts).
  if (env.NODE_OPTIONS === undefined && isNodeCommand(opts.argv[0])) {
    const fromFile = envFileNodeOptions(opts.argv.slice(1), process.cwd());
    if (fromFile !== undefined) env.NODE_OPTIONS = fromFile;
  }
  const options = agentOptions(opts.assets.nodeAgent, opts.assets.bunAgent);
  addAgentOptions(env, options);
  const argv = [...opts.argv];
  if (options.bun === undefined && argv.length > 1 && /(^|\/)bun(\.exe)?$/.test(argv[0]!)) argv.splice(1, 0, `--preload=${opts.assets.bunAgent}`);
  // What an outer scope (or the user) left in the environment is not the agents' settings here.
  for (const name of SCOPE_VARIABLES) delete env[name];
  env.SCOPE_RING = opts.ringPath;
  env.SCOPE_ADDON = opts.assets.addon;
  env.SCOPE_LIBSCOPE = opts.assets.libscope;
  if (opts.events && opts.events.length > 0) env.SCOPE_EVENTS = opts.events.join(",");
  if (opts.redact) env.SCOPE_REDACT = JSON.stringify(opts.redact);
  if (opts.async) env.SCOPE_ASYNC = opts.async;
  if (opts.propagate) env.SCOPE_PROPAGATE = "1";
  if (opts.loop) env.SCOPE_LOOP = `${opts.loop.intervalMs},${opts.loop.thresholdMs}${opts.loop.immediates ? ",1" : ""}`;
  if (opts.functions !== undefined) {
    env.SCOPE_FUNCTIONS = opts.functions;
    if (opts.assets.esmLoader) env.SCOPE_ESM_LOADER = opts.assets.esmLoader;
    if (opts.assets.functionsAgent) env.SCOPE_FUNCTIONS_AGENT = opts.assets.functionsAgent;
    if (opts.assets.oxcBinding) env.SCOPE_OXC_BINDING = opts.assets.oxcBinding;
    if (opts.transformCache) env.SCOPE_TRANSFORM_CACHE = opts.transformCache;
  }
  return { argv, env };
}
