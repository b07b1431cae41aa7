/**
 * Step 2 of the pipeline: which files and which functions are instrumented, and at
 * which level. Globs by path (relative to `root`, `/`-separated) and by function name
 * ("Class.method", "name", "<anonymous>"). `node_modules` is excluded unless an include
 * pattern names it. Later rules win, so a general default can be narrowed per pattern.
 */

/** off: untouched; calls: entry events only (cheapest); full: entry, return/throw, values. */
export type Level = "off" | "calls" | "full";

export interface Rule {
  /** Path glob; all files when absent. */
  path?: string;
  /** Function-name glob; all functions when absent. */
  name?: string;
  /** Environment glob (NODE_ENV; "development" when unset); every environment when absent. */
  env?: string;
  level: Level;
}

export interface MatchConfig {
  /** Directory paths are relative to; default process.cwd(). */
  root?: string;
  /** Path globs of files to instrument; default everything under root. */
  include?: string[];
  /** Path globs never instrumented (after include). */
  exclude?: string[];
  /** Function-name globs; default all. */
  functions?: string[];
  /** Function-name globs never instrumented. */
  excludeFunctions?: string[];
  /** Level when no rule says otherwise; default from the environment (see defaultLevel). */
  level?: Level;
  /** Per-pattern levels, later ones winning. */
  rules?: Rule[];
  /**
   * Class (or object variable) name globs whose methods are stateful handlers: at "full"
   * their call and return events carry a snapshot of the receiver's own data fields.
   */
  stateful?: string[];
  /** Hot-function guard (runtime.ts): calls per second per function per thread; 0: off. Default 10000. */
  hotCallsPerSecond?: number;
  /** Once hot, 1 call in this many is recorded; 0: counted only. Default 100. */
  hotSample?: number;
  /**
   * Inline source maps in instrumented files and Node's source-map support turned on, so
   * stack traces show original columns (default true). false: no map, Node's setting left
   * as the program has it, so `error.stack` keeps V8's own frame format; lines are still
   * the original ones, columns after an insertion on the same line are shifted.
   */
  sourceMaps?: boolean;
  /** Value previews at "full" (arguments, values, state): nesting depth (default 3, at most 16). */
  previewDepth?: number;
  /** ... and length in characters (default 96, at most 4096). */
  previewChars?: number;
}

/**
 * The level when neither `level` nor a rule says otherwise, by NODE_ENV: production →
 * calls (entry events only: the cheapest that still traces); development, test, unset
 * and anything else → full.
 */
export function defaultLevel(environment: string | undefined): Level {
  return environment === "production" ? "calls" : "full";
}

/** The environment rules' `env` globs match: NODE_ENV, "development" when unset or empty. */
export function environmentName(environment: string | undefined): string {
  return environment || "development";
}

/** A glob as a RegExp: `**` any path segments, `*` within one segment, `?` one char, `{a,b}`. */
export function globToRegExp(glob: string, separator = "/"): RegExp {
  const notSep = separator === "/" ? "[^/]" : ".";
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (char === "*") out += `${notSep}*`;
    else if (char === "?") out += notSep;
    else if (char === "{") {
      const close = glob.indexOf("}", i);
      if (close < 0) out += "\\{";
      else {
        out += `(?:${glob.slice(i + 1, close).split(",").map(escape).join("|")})`;
        i = close;
      }
    } else out += escape(char);
  }
  return new RegExp(`^${out}$`);
}

function escape(text: string): string {
  return text.replace(/[.+^${}()|[\]\\*?]/g, "\\$&");
}

export class Matcher {
  readonly root: string;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  private readonly includesNodeModules: boolean;
  private readonly functions: RegExp[];
  private readonly excludeFunctions: RegExp[];
  private readonly level: Level;
  private readonly rules: { path?: RegExp; name?: RegExp; level: Level }[];
  private readonly stateful: RegExp[];
  /** MatchConfig.sourceMaps (default true). */
  readonly sourceMaps: boolean;

  constructor(config: MatchConfig = {}) {
    this.root = (config.root ?? process.cwd()).replace(/\\/g, "/").replace(/\/+$/, "");
    this.sourceMaps = config.sourceMaps !== false;
    this.include = (config.include ?? ["**"]).map((glob) => globToRegExp(glob));
    this.exclude = (config.exclude ?? []).map((glob) => globToRegExp(glob));
    this.includesNodeModules = (config.include ?? []).some((glob) => glob.includes("node_modules"));
    this.functions = (config.functions ?? []).map((glob) => globToRegExp(glob, ""));
    this.excludeFunctions = (config.excludeFunctions ?? []).map((glob) => globToRegExp(glob, ""));
    this.level = config.level ?? defaultLevel(process.env.NODE_ENV);
    this.stateful = (config.stateful ?? []).map((glob) => globToRegExp(glob, ""));
    const environment = environmentName(process.env.NODE_ENV);
    const rules = (config.rules ?? []).filter((rule) => rule.env === undefined || globToRegExp(rule.env, "").test(environment));
    this.rules = rules.map((rule) => ({
      path: rule.path === undefined ? undefined : globToRegExp(rule.path),
      name: rule.name === undefined ? undefined : globToRegExp(rule.name, ""),
      level: rule.level,
    }));
  }

  /** The path as the globs see it: relative to root when under it, else absolute. */
  relative(file: string): string {
    const path = file.replace(/^file:\/\//, "").replace(/\\/g, "/");
    return path.startsWith(`${this.root}/`) ? path.slice(this.root.length + 1) : path;
  }

  /** Whether any function of `file` may be instrumented. */
  file(file: string): boolean {
    const path = this.relative(file);
    if (!this.includesNodeModules && /(^|\/)node_modules\//.test(path)) return false;
    if (!this.include.some((re) => re.test(path))) return false;
    if (this.exclude.some((re) => re.test(path))) return false;
    return this.fileLevelCeiling(path) !== "off";
  }

  /** The level of function `name` in `file` ("off" when it is not instrumented). */
  function(file: string, name: string): Level {
    if (this.functions.length > 0 && !this.functions.some((re) => re.test(name))) return "off";
    if (this.excludeFunctions.some((re) => re.test(name))) return "off";
    const path = this.relative(file);
    let level = this.level;
    for (const rule of this.rules) {
      if ((rule.path === undefined || rule.path.test(path)) && (rule.name === undefined || rule.name.test(name))) level = rule.level;
    }
    return level;
  }

  /** Whether the methods of class (or object) `name` are stateful handlers. */
  isStateful(name: string): boolean {
    return this.stateful.length > 0 && this.stateful.some((re) => re.test(name));
  }

  /** "off" only when every rule that could apply to this path turns it off. */
  private fileLevelCeiling(path: string): Level {
    let level = this.level;
    let anyOn = level !== "off";
    for (const rule of this.rules) {
      if (rule.path !== undefined && !rule.path.test(path)) continue;
      if (rule.name === undefined) {
        level = rule.level;
        anyOn = level !== "off";
      } else if (rule.level !== "off") anyOn = true;
    }
    return anyOn ? "calls" : "off";
  }
}
