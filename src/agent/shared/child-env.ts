/**
 * A child the program starts with an `env` of its own is traced like one that inherits the
 * environment: the trace of a process tree is what `scope run` was asked for (ARCHITECTURE.md,
 * "environment of its own"). Build tools, test runners and frameworks start their workers
 * with `{ ...process.env, NODE_OPTIONS: "--max-old-space-size=..." }`, which drops scope's
 * `--require`, and some with a minimal environment (`{ PATH }`), which drops everything.
 *
 * The child gets what a child inheriting the environment gets: the agents' options in front
 * of the NODE_OPTIONS and BUN_OPTIONS the program gave it (composed by src/agent/inject.ts,
 * as `scope run` composes them for the top-level program), and each of scope's variables
 * (SCOPE_VARIABLES) that its env leaves out, with this process's value. Every other
 * variable, and any of scope's the program did give, is the program's. Called by the agents'
 * spawn hooks (node/hooks.ts for node:child_process in both runtimes, bun/install.ts for
 * Bun.spawn/Bun.spawnSync) on a copy of the program's options, never on its objects.
 */
import { addAgentOptions, agentOptions, BUN_AGENT_FILE, NODE_AGENT_FILE, SCOPE_VARIABLES, type AgentOptions } from "../inject";

let directory: string | undefined;
let options: AgentOptions | undefined;

/** The directory of this process's agent, where the other runtime's is too (src/core/assets.ts). */
export function setAgentDirectory(dir: unknown): void {
  if (typeof dir === "string" && dir !== "") directory = dir;
}

/**
 * A copy of the program's `env` for a child, with scope's part put back; undefined when
 * there is none to put back (this process was not started by `scope run`: no SCOPE_RING,
 * or its agent's directory is unknown), then the program's env goes as it is.
 * `inherited`: the runtime reads the env's inherited enumerable properties too (Node's
 * child_process, `for...in`); Bun.spawn reads its own ones only. Values are copied as they
 * are, so the runtime converts them (or refuses them) as it would have.
 */
export function envWithScope(env: object, inherited: boolean, nodeOptions?: string): Record<string, unknown> | undefined {
  const own = process.env;
  const options = agentOptionsHere();
  if (options === undefined || !own.SCOPE_RING) return undefined;
  // No prototype: a key named __proto__ stays a variable.
  const copy = Object.create(null) as Record<string, unknown>;
  const source = env as Record<string, unknown>;
  if (inherited) {
    for (const name in source) copy[name] = source[name];
  } else {
    for (const name of Object.keys(source)) copy[name] = source[name];
  }
  for (const name of SCOPE_VARIABLES) {
    const value = own[name];
    if (copy[name] === undefined && value !== undefined) copy[name] = value;
  }
  // A node command's --env-file NODE_OPTIONS (the caller read it: env-file.ts), as the program's own.
  if (nodeOptions !== undefined) copy.NODE_OPTIONS = nodeOptions;
  addAgentOptions(copy, options);
  return copy;
}

/** This process's agents' options (the same a child gets), once the agent's directory is known. */
function agentOptionsHere(): AgentOptions | undefined {
  if (directory === undefined) return undefined;
  const separator = process.platform === "win32" ? "\\" : "/";
  return (options ??= agentOptions(directory + separator + NODE_AGENT_FILE, directory + separator + BUN_AGENT_FILE));
}

/**
 * Whether a node child would have had no NODE_OPTIONS untraced, so that Node would apply the
 * one in its --env-file: its own `env` has none, or it inherits this process's, which holds
 * scope's option alone.
 */
export function lacksNodeOptions(env: unknown): boolean {
  if (typeof env === "object" && env !== null) return (env as Record<string, unknown>).NODE_OPTIONS === undefined;
  return process.env.NODE_OPTIONS === agentOptionsHere()?.node;
}
