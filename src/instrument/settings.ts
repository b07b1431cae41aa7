/**
 * `scope run --functions[=<json>|=@<file>] [--include <glob>]... [--package <name>]... [--function <glob>]... [--exclude <glob>]... [--level <level>]`
 * → the SCOPE_FUNCTIONS value (JSON of MatchConfig) the agent reads (agent.ts), or
 * undefined when function tracing is off. `@<file>` reads the same JSON from a file
 * (relative to the current directory; its globs are relative to the root as inline
 * JSON's are). Checked here, in scope, so a mistake is one usage line instead of a
 * silently untraced program.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Level, MatchConfig } from "./match";

export interface FunctionFlags {
  /** false: not given; true: given bare; a string: `--functions=<json>` or `--functions=@<file>`. */
  functions: string | boolean | undefined;
  include?: string[];
  exclude?: string[];
  /** `--package NAME` (or "NAME/glob inside it"), repeatable. */
  packages?: string[];
  /** `--function GLOB` (function names), repeatable. */
  functionNames?: string[];
  level?: Level;
  /** `--hot-calls-per-second N`: the hot-function guard's limit (0: off). */
  hotCallsPerSecond?: number;
  /** `--max-overhead P`: the governor's budget, percent of wall time per thread. */
  maxOverhead?: number;
  /** The directory path globs are relative to; absent: the agent's (or aot.ts's) default. */
  root?: string;
}

// shiftsForStacks is set by the Node hooks, never by users.
const KEYS: Record<Exclude<keyof MatchConfig, "shiftsForStacks">, "string" | "strings" | "packages" | "level" | "rules" | "count" | "boolean" | "percent"> = {
  root: "string",
  include: "strings",
  exclude: "strings",
  packages: "packages",
  functions: "strings",
  excludeFunctions: "strings",
  level: "level",
  rules: "rules",
  stateful: "strings",
  hotCallsPerSecond: "count",
  hotSample: "count",
  maxOverhead: "percent",
  previewDepth: "count",
  previewChars: "count",
  sourceMaps: "boolean",
};
const LEVELS = ["off", "calls", "full"];

export function functionSettings(flags: FunctionFlags): string | undefined | { error: string } {
  const implied =
    (flags.include?.length ?? 0) > 0 ||
    (flags.exclude?.length ?? 0) > 0 ||
    (flags.packages?.length ?? 0) > 0 ||
    (flags.functionNames?.length ?? 0) > 0 ||
    flags.level !== undefined ||
    flags.hotCallsPerSecond !== undefined ||
    flags.maxOverhead !== undefined;
  if (!flags.functions && !implied) return undefined;
  let config: MatchConfig = {};
  if (typeof flags.functions === "string" && flags.functions.startsWith("@")) {
    const read = readSettingsFile(flags.functions.slice(1));
    if ("error" in read) return read;
    config = read.config;
  } else if (typeof flags.functions === "string" && flags.functions.trim() !== "" && flags.functions !== "1") {
    const parsed = parseSettings(flags.functions);
    if ("error" in parsed) return parsed;
    config = parsed.config;
  }
  for (const [flag, patterns] of [["--include", flags.include], ["--exclude", flags.exclude], ["--function", flags.functionNames]] as const) {
    if (patterns?.some((pattern) => pattern.trim() === "")) return { error: `${flag}: an empty pattern matches nothing; give a glob, e.g. ${flag === "--function" ? "--function 'handle*'" : `${flag} 'src/**'`}` };
  }
  if (flags.include?.length) config.include = [...(config.include ?? []), ...flags.include];
  if (flags.exclude?.length) config.exclude = [...(config.exclude ?? []), ...flags.exclude];
  for (const name of flags.packages ?? []) {
    const problem = packageProblem(name);
    if (problem) return { error: `--package ${JSON.stringify(name)}: ${problem}` };
  }
  if (flags.packages?.length) config.packages = [...(config.packages ?? []), ...flags.packages];
  if (flags.functionNames?.length) config.functions = [...(config.functions ?? []), ...flags.functionNames];
  if (flags.level) config.level = flags.level;
  if (flags.hotCallsPerSecond !== undefined) {
    if (!Number.isInteger(flags.hotCallsPerSecond) || flags.hotCallsPerSecond < 0) return { error: "--hot-calls-per-second must be a whole number ≥ 0 (0: no guard)" };
    config.hotCallsPerSecond = flags.hotCallsPerSecond;
  }
  if (flags.maxOverhead !== undefined) {
    if (!(flags.maxOverhead > 0 && flags.maxOverhead <= 100)) return { error: "--max-overhead must be a percentage above 0 and at most 100, e.g. 5" };
    config.maxOverhead = flags.maxOverhead;
  }
  if (flags.root !== undefined) config.root ??= flags.root;
  return JSON.stringify(config);
}

function parseSettings(text: string): { config: MatchConfig } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { error: `expected JSON settings, e.g. '{"include":["src/**"],"level":"calls"}' (${(error as Error).message})` };
  }
  const problem = checkConfig(parsed);
  return problem ? { error: problem } : { config: parsed as MatchConfig };
}

/** `--functions=@<file>`: the settings JSON in a file; every error names the file. */
function readSettingsFile(name: string): { config: MatchConfig } | { error: string } {
  if (name.trim() === "") return { error: "expected a settings file after @, e.g. --functions=@scope.json" };
  const path = resolve(name);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : (error as Error).message;
    return { error: `cannot read settings file ${path} (${reason})` };
  }
  const parsed = parseSettings(text);
  return "error" in parsed ? { error: `${path}: ${parsed.error}` } : parsed;
}

function checkConfig(value: unknown): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "settings must be a JSON object";
  for (const [key, field] of Object.entries(value)) {
    const kind = KEYS[key as keyof typeof KEYS];
    if (!kind) return `unknown setting "${key}" (known: ${Object.keys(KEYS).join(", ")})`;
    if (kind === "string" && typeof field !== "string") return `"${key}" must be a string`;
    if ((kind === "strings" || kind === "packages") && !(Array.isArray(field) && field.every((item) => typeof item === "string"))) return `"${key}" must be an array of strings`;
    if (kind === "strings" && (field as string[]).some((item) => item.trim() === "")) return `"${key}": an empty pattern matches nothing`;
    if (kind === "packages") {
      for (const name of field as string[]) {
        const problem = packageProblem(name);
        if (problem) return `"packages": ${JSON.stringify(name)}: ${problem}`;
      }
    }
    if (kind === "count" && !(Number.isInteger(field) && (field as number) >= 0)) return `"${key}" must be a whole number ≥ 0`;
    if (kind === "boolean" && typeof field !== "boolean") return `"${key}" must be true or false`;
    if (kind === "percent" && !(typeof field === "number" && field > 0 && field <= 100)) return `"${key}" must be a percentage above 0 and at most 100`;
    if (kind === "level" && !LEVELS.includes(field as string)) return `"${key}" must be one of ${LEVELS.join(", ")}`;
    if (kind === "rules") {
      const ok = Array.isArray(field) && field.every((rule) => rule && typeof rule === "object" && LEVELS.includes(rule.level) && ["path", "name", "env"].every((k) => rule[k] === undefined || typeof rule[k] === "string") && Object.keys(rule).every((k) => ["path", "name", "env", "level"].includes(k)));
      if (!ok) return `"rules" must be an array of {path?, name?, env?, level}`;
    }
  }
  return undefined;
}

/** Why a package entry ("name", "@scope/name", either followed by a glob inside it) is not one. */
export function packageProblem(text: string): string | undefined {
  const parts = text.split("/");
  if (text.trim() === "" || parts[0] === "") return 'expected a package name, e.g. marked, @scope/name or "marked/lib/**"';
  if (parts[0]!.startsWith("@") && (parts.length < 2 || parts[1] === "" || parts[0] === "@")) return "a scoped name is @scope/name";
  if (parts[0] === "." || parts[0] === ".." || parts[0] === "node_modules") return "expected a package name (its path is found from its package.json); for a path use --include";
  return undefined;
}
