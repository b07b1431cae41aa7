/**
 * Step 2 of the pipeline: which files and which functions are instrumented, and at
 * which level. Globs by path (relative to `root`, `/`-separated) and by function name
 * ("Class.method", "name", "<anonymous>"); packages by name (`packages`). Later rules
 * win, so a general default can be narrowed per pattern.
 *
 * A file has several paths (filePaths): the path it was loaded by (Node hands the hooks
 * the real path, Bun and --preserve-symlinks may not), its real path, and the path it has
 * through a symlink the user may be thinking of ("logical": `node_modules` linked to a
 * directory elsewhere, a package linked by `npm link` or pnpm, a hoisted workspace's
 * `node_modules` in a directory above root). A glob matches when it matches any of them.
 * `node_modules` is left out unless an include pattern names it, or names the file's
 * package as a literal path segment (`**` + `/marked/**`), or a `packages` entry selects it.
 * A file's package is the `name` of the nearest package.json above its real path.
 */

import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";

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
  /** Path globs never instrumented (after include and packages). */
  exclude?: string[];
  /**
   * Packages whose files are instrumented, wherever their real path is (pnpm's store,
   * hoisted workspaces, `npm link`, a symlinked node_modules): "name", "@scope/name", a
   * glob over names ("@babel/*"), or a name and a glob inside the package
   * ("marked/lib/**"). With `include` too, a file either selects is instrumented.
   */
  packages?: string[];
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
  /** The overhead governor's budget in percent of each thread's wall time (governor.ts); absent: none. */
  maxOverhead?: number;
  /**
   * Inline source maps in instrumented files and Node's source-map support turned on, so
   * stack traces show original columns (default true). false: no map, Node's setting left
   * as the program has it, so `error.stack` keeps V8's own frame format; lines are still
   * the original ones, columns after an insertion on the same line are shifted.
   */
  sourceMaps?: boolean;
  /**
   * Set by the Node hooks (node-hooks.ts), not by users: stack positions are restored by
   * callsites.ts for every formatter, Node's own included (Node ≥ 20.19 calls whatever is at
   * `Error.prepareStackTrace`), so a file without a source map of its own gets no map of
   * scope's: its column shifts alone (print.ts). A file with an input map keeps the chained one.
   */
  shiftsForStacks?: boolean;
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

/**
 * The traced program's NODE_ENV, read as it runs. Not `process.env.NODE_ENV` written out:
 * Bun.build folds that expression into the agent bundles as the building process's value
 * ("development" when unset), so a dist/scope built so ignored NODE_ENV=production.
 */
export function programNodeEnv(): string | undefined {
  const env: Record<string, string | undefined> = process.env;
  return env.NODE_ENV;
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

/** A `packages` entry: a glob over package names and, optionally, one over paths inside the package. */
export interface PackagePattern {
  name: RegExp;
  /** Literal name ("marked", "@scope/name"); undefined when the name has glob characters. */
  literal?: string;
  inside?: RegExp;
}

const GLOB_CHARS = /[*?{[]/;

/**
 * A path glob as a file's paths are written (relative to root inside it, absolute outside):
 * `./src/**` and `../lib/**` resolved against root, an absolute glob inside root made
 * relative; anything else as given.
 */
export function rootedGlob(glob: string, root: string): string {
  if (!/^\.\.?(\/|$)/.test(glob) && !glob.startsWith("/")) return glob;
  const absolute = posix.normalize(glob.startsWith("/") ? glob : `${root}/${glob}`);
  if (absolute === root) return "";
  return absolute.startsWith(`${root}/`) ? absolute.slice(root.length + 1) : absolute;
}

/** "marked" → marked; "@scope/name/lib/**" → @scope/name + lib/**. */
export function parsePackagePattern(text: string): PackagePattern {
  const parts = text.replace(/\\/g, "/").split("/").filter((part) => part !== "");
  const nameParts = parts[0]?.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameParts).join("/");
  const inside = parts.slice(nameParts).join("/");
  return {
    name: globToRegExp(name),
    literal: GLOB_CHARS.test(name) ? undefined : name,
    inside: inside === "" ? undefined : globToRegExp(inside),
  };
}

/** The package a file belongs to: the nearest package.json with a `name` above its real path. */
export interface PackageInfo {
  name: string;
  /** The directory of that package.json (real path). */
  dir: string;
}

/** The paths a file is known by, each `/`-separated, relative to root when under it. */
export interface FilePaths {
  /** As loaded (the hooks' file name, or URL made a path). */
  loaded: string;
  /** The real path (absolute; the same as `loaded` when nothing on the way is a symlink). */
  real: string;
  /** Every distinct form the globs are tested on: loaded, real, and logical ones. */
  forms: string[];
  /** Whether any form lies in a node_modules directory. */
  inNodeModules: boolean;
  /** The package (nearest package.json with a name), when there is one. */
  package: PackageInfo | undefined;
}

/** What Matcher.select found for one file. */
export interface Selection {
  /** Instrumented (include or packages, not excluded, not turned off by the rules). */
  selected: boolean;
  /** Indexes into `include` of the globs that match it (node_modules rule applied). */
  includes: number[];
  /** Indexes into `packages` of the entries that match it. */
  packages: number[];
  paths: FilePaths;
}

interface IncludeGlob {
  re: RegExp;
  /** The glob names node_modules: it may select files in node_modules. */
  namesNodeModules: boolean;
  /** Its literal path segments (no glob characters), for the package-name rule. */
  literals: Set<string>;
}

function toPath(file: string): string {
  let path = file;
  if (path.startsWith("file:")) {
    try {
      path = fileURLToPath(path);
    } catch {
      path = path.replace(/^file:\/\//, "");
    }
  }
  return path.replace(/\\/g, "/");
}

/** Whether Node hands the loaders real paths: it does unless told to keep symlinks. */
export function nodeGivesRealPaths(): boolean {
  const flags = [...(process.execArgv ?? []), ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  return !flags.some((flag) => flag.startsWith("--preserve-symlinks")) && !process.env.NODE_PRESERVE_SYMLINKS;
}

function parentOf(dir: string): string {
  const slash = dir.lastIndexOf("/");
  return slash <= 0 ? "/" : dir.slice(0, slash);
}

const NODE_MODULES_SEGMENT = /(^|\/)node_modules\//;
/**
 * Bun's global install cache (`~/.bun/install/cache/<name>@<version>@@@1/`): with no
 * node_modules up the tree Bun auto-installs there and runs packages from there, so its
 * files are dependencies, under the node_modules rule (auditbun: a .tsx entry's JSX runtime,
 * React from the cache, was traced as the program's own, 130 functions).
 */
const BUN_INSTALL_CACHE_SEGMENT = /\/\.bun\/install\/cache\//;

/** The package name a path implies: the segment (or @scope/name) after its last node_modules/. */
export function packageNameInPath(path: string): string | undefined {
  const at = path.lastIndexOf("node_modules/");
  if (at < 0 || (at > 0 && path[at - 1] !== "/")) return undefined;
  const rest = path.slice(at + "node_modules/".length).split("/");
  if (rest.length < 2) return undefined;
  return rest[0]!.startsWith("@") ? (rest.length >= 3 ? `${rest[0]}/${rest[1]}` : undefined) : rest[0];
}

/** FilePaths, the package looked up when first asked (packages, the node_modules rule, the report). */
class KnownPaths implements FilePaths {
  readonly inNodeModules: boolean;
  private pkg: PackageInfo | undefined | null = null;

  constructor(
    private readonly matcher: Matcher,
    readonly loaded: string,
    readonly real: string,
    readonly forms: string[],
  ) {
    this.inNodeModules = forms.some((form) => NODE_MODULES_SEGMENT.test(form)) || matcher.inBunInstallCache(real);
  }

  get package(): PackageInfo | undefined {
    if (this.pkg === null) this.pkg = this.matcher.packageOf(this.real);
    return this.pkg;
  }
}

export class Matcher {
  readonly root: string;
  private readonly rootSlash: string;
  private readonly include: IncludeGlob[];
  private readonly includeGiven: boolean;
  private readonly exclude: RegExp[];
  readonly packagePatterns: PackagePattern[];
  private readonly functions: RegExp[];
  private readonly excludeFunctions: RegExp[];
  private readonly level: Level;
  private readonly rules: { path?: RegExp; name?: RegExp; level: Level }[];
  private readonly stateful: RegExp[];
  /** MatchConfig.sourceMaps (default true). */
  readonly sourceMaps: boolean;
  /** MatchConfig.shiftsForStacks. */
  readonly shiftsForStacks: boolean;
  /** The path globs whose literal directory prefixes may be symlinks (logical paths). */
  private readonly globs: string[];
  /** [real directory, logical path relative to root ("" = root)], longest real first. */
  private links: [string, string][] | undefined;
  /** Whether the symlinks inside the node_modules directories were added to `links`. */
  private linkedPackagesRead = false;
  private readonly realDirs = new Map<string, string>();
  private readonly packageDirs = new Map<string, PackageInfo | null>();
  /** The last file's selection (the hooks and instrument() ask twice per file). */
  private last: Selection | undefined;
  private lastFile: string | undefined;
  /**
   * The hooks are given real paths (Node's CommonJS and ESM loaders resolve symlinks unless
   * --preserve-symlinks): no realpath call per directory. Set by node-hooks.ts/esm-loader.ts.
   */
  loadedIsReal = false;
  /** Called with each file's selection when it is first worked out (the selection report, selection.ts). */
  onSelect: ((file: string, selection: Selection) => void) | undefined;
  /**
   * Called with the names of a file's functions that `functions` left out, when the file is
   * transformed (instrument.ts) or its transform is read from the cache (cache.ts).
   */
  onFiltered: ((names: string[]) => void) | undefined;
  /** Called with a selected file the hooks could not instrument, and why (vm-hooks.ts; the selection report). */
  onUntraced: ((file: string, selection: Selection, why: string) => void) | undefined;

  constructor(config: MatchConfig = {}) {
    this.root = toPath(config.root ?? process.cwd()).replace(/\/+$/, "");
    this.rootSlash = `${this.root}/`;
    this.sourceMaps = config.sourceMaps !== false;
    this.shiftsForStacks = config.shiftsForStacks === true;
    this.includeGiven = (config.include?.length ?? 0) > 0;
    const packages = config.packages ?? [];
    const rooted = (glob: string) => rootedGlob(glob, this.root);
    this.include = (config.include ?? (packages.length > 0 ? [] : ["**"])).map(rooted).map((glob) => ({
      re: globToRegExp(glob),
      // A glob that names a place outside root (`../lib/**`, an absolute path) chose it: a
      // workspace's sibling package there is also `node_modules/<name>` through its link.
      namesNodeModules: glob.includes("node_modules") || glob.startsWith("/"),
      literals: new Set(glob.split("/").filter((part) => part !== "" && !GLOB_CHARS.test(part))),
    }));
    this.exclude = (config.exclude ?? []).map(rooted).map((glob) => globToRegExp(glob));
    this.packagePatterns = packages.map(parsePackagePattern);
    this.functions = (config.functions ?? []).map((glob) => globToRegExp(glob, ""));
    this.excludeFunctions = (config.excludeFunctions ?? []).map((glob) => globToRegExp(glob, ""));
    this.level = config.level ?? defaultLevel(programNodeEnv());
    this.stateful = (config.stateful ?? []).map((glob) => globToRegExp(glob, ""));
    const environment = environmentName(programNodeEnv());
    const rules = (config.rules ?? []).filter((rule) => rule.env === undefined || globToRegExp(rule.env, "").test(environment));
    this.rules = rules.map((rule) => ({
      path: rule.path === undefined ? undefined : globToRegExp(rooted(rule.path)),
      name: rule.name === undefined ? undefined : globToRegExp(rule.name, ""),
      level: rule.level,
    }));
    this.globs = [...(config.include ?? []), ...(config.exclude ?? []), ...rules.flatMap((rule) => (rule.path === undefined ? [] : [rule.path]))].map(rooted);
  }

  /** Whether files in node_modules may be selected at all (Bun's load filter, aot's walk). */
  get selectsNodeModules(): boolean {
    return this.packagePatterns.length > 0 || this.include.some((glob) => glob.namesNodeModules || (this.includeGiven && glob.literals.size > 0));
  }

  /**
   * Package names a file in node_modules may belong to for it to be selected (the literal
   * `packages` names and include globs' literal segments), or undefined when any may
   * (an include glob names node_modules, or a package entry is a glob over names).
   */
  nodeModulesNames(): string[] | undefined {
    if (this.include.some((glob) => glob.namesNodeModules) || this.packagePatterns.some((pattern) => pattern.literal === undefined)) return undefined;
    const names = new Set<string>();
    for (const pattern of this.packagePatterns) names.add(pattern.literal!);
    if (this.includeGiven) {
      for (const glob of this.include) {
        const literals = [...glob.literals];
        for (let i = 0; i < literals.length; i++) {
          names.add(literals[i]!);
          if (literals[i]!.startsWith("@") && i + 1 < literals.length) names.add(`${literals[i]}/${literals[i + 1]}`);
        }
      }
    }
    return [...names];
  }

  /** The path as the globs see it: relative to root when under it, else absolute. */
  relative(file: string): string {
    const path = toPath(file);
    return path.startsWith(`${this.root}/`) ? path.slice(this.root.length + 1) : path;
  }

  /** Whether any function of `file` may be instrumented. */
  file(file: string): boolean {
    return this.select(file).selected;
  }

  /** Which include globs and packages select `file`, and whether it is instrumented. */
  select(file: string): Selection {
    if (this.lastFile === file && this.last) return this.last;
    const selection = this.peek(file);
    this.lastFile = file;
    this.last = selection;
    try {
      this.onSelect?.(file, selection);
    } catch {
      // The report is never worth a file.
    }
    return selection;
  }

  /** A selected file left as it is, and why: the selection report names it so (not a match). */
  untraced(file: string, selection: Selection, why: string): void {
    try {
      this.onUntraced?.(file, selection, why);
    } catch {
      // The report is never worth a file.
    }
  }

  /** `select` without telling onSelect (nor keeping it as the last): vm-hooks.ts first asks whether it can take the file. */
  peek(file: string): Selection {
    const paths = this.paths(file);
    const includes: number[] = [];
    for (let i = 0; i < this.include.length; i++) {
      const glob = this.include[i]!;
      if (!paths.forms.some((form) => glob.re.test(form))) continue;
      if (paths.inNodeModules && !glob.namesNodeModules && !this.namesPackage(glob, paths)) continue;
      includes.push(i);
    }
    const packages: number[] = [];
    const pkg = this.packagePatterns.length > 0 ? paths.package : undefined;
    if (pkg) {
      for (let i = 0; i < this.packagePatterns.length; i++) {
        const pattern = this.packagePatterns[i]!;
        if (!pattern.name.test(pkg.name)) continue;
        if (pattern.inside && !pattern.inside.test(paths.real.startsWith(`${pkg.dir}/`) ? paths.real.slice(pkg.dir.length + 1) : paths.real)) continue;
        packages.push(i);
      }
    }
    const selected =
      (includes.length > 0 || packages.length > 0) &&
      !paths.forms.some((form) => this.exclude.some((re) => re.test(form))) &&
      this.fileLevelCeiling(paths.forms) !== "off";
    return { selected, includes, packages, paths };
  }

  /** A glob that does not name node_modules still selects a package it names as a literal segment. */
  private namesPackage(glob: IncludeGlob, paths: FilePaths): boolean {
    if (!this.includeGiven || glob.literals.size === 0) return false;
    const names = new Set<string>();
    if (paths.package) names.add(paths.package.name);
    for (const form of paths.forms) {
      const name = packageNameInPath(form);
      if (name) names.add(name);
    }
    for (const name of names) {
      if (name.split("/").every((part) => glob.literals.has(part))) return true;
    }
    return false;
  }

  /** Whether a real path lies in Bun's install cache (the default place, or BUN_INSTALL_CACHE_DIR). */
  inBunInstallCache(real: string): boolean {
    if (BUN_INSTALL_CACHE_SEGMENT.test(real)) return true;
    const dir = process.env.BUN_INSTALL_CACHE_DIR;
    return dir !== undefined && dir !== "" && real.startsWith(`${toPath(dir).replace(/\/+$/, "")}/`);
  }

  /** The paths `file` is known by (see the header), its package, and whether it is in node_modules. */
  paths(file: string): FilePaths {
    const loaded = toPath(file);
    const real = this.loadedIsReal ? loaded : this.realPath(loaded);
    const forms = [this.relativePath(loaded)];
    const add = (form: string) => {
      if (!forms.includes(form)) forms.push(form);
    };
    add(this.relativePath(real));
    for (const logical of this.logicalPaths(real)) add(logical);
    if (!this.linkedPackagesRead && ((!real.startsWith(this.rootSlash) && forms.every((form) => !NODE_MODULES_SEGMENT.test(form))) || real.includes("/node_modules/.pnpm/"))) {
      // Outside root and not in a node_modules: maybe a package linked in (npm link); in
      // pnpm's store: the package's path through its link (node_modules/<name>).
      this.readLinkedPackages();
      for (const logical of this.logicalPaths(real)) add(logical);
    }
    return new KnownPaths(this, loaded, real, forms);
  }

  private relativePath(path: string): string {
    return path.startsWith(this.rootSlash) ? path.slice(this.rootSlash.length) : path;
  }

  /** The real path of a directory (once per directory), or undefined when it does not exist. */
  private realDir(dir: string): string | undefined {
    let real = this.realDirs.get(dir);
    if (real === undefined) {
      try {
        // The native call: one syscall, where the JavaScript one lstats every component.
        real = toPath(realpathSync.native(dir));
      } catch {
        real = "";
      }
      this.realDirs.set(dir, real);
    }
    return real === "" ? undefined : real;
  }

  /** The real path, its directory resolved once per directory. */
  private realPath(path: string): string {
    if (!path.startsWith("/")) return path;
    const slash = path.lastIndexOf("/");
    const dir = this.realDir(slash <= 0 ? "/" : path.slice(0, slash));
    if (dir === undefined) return path;
    return `${dir === "/" ? "" : dir}/${path.slice(slash + 1)}`;
  }

  private logicalPaths(real: string): string[] {
    const out: string[] = [];
    for (const [dir, logical] of this.linkTable()) {
      if (!real.startsWith(`${dir}/`)) continue;
      const rest = real.slice(dir.length + 1);
      out.push(logical === "" ? rest : `${logical}/${rest}`);
    }
    return out;
  }

  /**
   * Real directories and the path relative to root they are reached by: root's own real
   * path; the node_modules of root and of every directory above it (a hoisted workspace's
   * packages are `node_modules/<name>` to a program in a sub-package); and each directory
   * named by a glob's literal prefix that is a symlink (`node_modules/marked` under pnpm).
   */
  private linkTable(): [string, string][] {
    if (this.links) return this.links;
    const links = new Map<string, string>();
    const add = (path: string, logical: string) => {
      const real = this.realDir(path);
      if (real !== undefined && (real !== path || logical === "node_modules") && !links.has(real)) links.set(real, logical);
    };
    add(this.root, "");
    for (let dir = this.root; ; dir = parentOf(dir)) {
      add(`${dir === "/" ? "" : dir}/node_modules`, "node_modules");
      if (dir === "/") break;
    }
    for (const glob of this.globs) {
      if (glob.startsWith("/")) continue;
      const parts = glob.split("/");
      const literal: string[] = [];
      for (const part of parts.slice(0, -1)) {
        if (GLOB_CHARS.test(part) || part === "" || part === "." || part === "..") break;
        literal.push(part);
      }
      for (let n = literal.length; n > 0; n--) add(`${this.root}/${literal.slice(0, n).join("/")}`, literal.slice(0, n).join("/"));
    }
    this.links = [...links].sort((a, b) => b[0].length - a[0].length);
    return this.links;
  }

  /** The symlinks in the node_modules of root and the directories above it (npm link, pnpm). */
  private readLinkedPackages(): void {
    this.linkedPackagesRead = true;
    const table = this.linkTable();
    const known = new Set(table.map(([dir]) => dir));
    const link = (path: string, logical: string) => {
      const real = this.realDir(path);
      if (real !== undefined && real !== path && !known.has(real)) {
        known.add(real);
        table.push([real, logical]);
      }
    };
    for (let dir = this.root; ; dir = parentOf(dir)) {
      const modules = `${dir === "/" ? "" : dir}/node_modules`;
      let entries: import("node:fs").Dirent[] = [];
      try {
        entries = readdirSync(modules, { withFileTypes: true });
      } catch {
        // No node_modules here.
      }
      for (const entry of entries.slice(0, 4096)) {
        if (entry.name.startsWith("@") && entry.isDirectory()) {
          try {
            for (const scoped of readdirSync(`${modules}/${entry.name}`, { withFileTypes: true }).slice(0, 4096)) {
              if (scoped.isSymbolicLink()) link(`${modules}/${entry.name}/${scoped.name}`, `node_modules/${entry.name}/${scoped.name}`);
            }
          } catch {
            // Unreadable scope directory.
          }
        } else if (entry.isSymbolicLink()) link(`${modules}/${entry.name}`, `node_modules/${entry.name}`);
      }
      if (dir === "/") break;
    }
    table.sort((a, b) => b[0].length - a[0].length);
  }

  /** The nearest package.json with a `name` at or above the real path's directory (cached per directory). */
  packageOf(real: string): PackageInfo | undefined {
    if (!real.startsWith("/")) return undefined;
    const visited: string[] = [];
    let found: PackageInfo | null = null;
    for (let dir = parentOf(real); ; dir = parentOf(dir)) {
      const known = this.packageDirs.get(dir);
      if (known !== undefined) {
        found = known;
        break;
      }
      visited.push(dir);
      let name: unknown;
      try {
        name = (JSON.parse(readFileSync(`${dir === "/" ? "" : dir}/package.json`, "utf8")) as { name?: unknown }).name;
      } catch {
        name = undefined;
      }
      if (typeof name === "string" && name !== "") {
        found = { name, dir };
        break;
      }
      if (dir === "/") break;
    }
    for (const dir of visited) this.packageDirs.set(dir, found);
    return found ?? undefined;
  }

  /** The level of function `name` in `file` ("off" when it is not instrumented). */
  function(file: string, name: string): Level {
    if (this.functions.length > 0 && !this.functions.some((re) => re.test(name))) return "off";
    if (this.excludeFunctions.some((re) => re.test(name))) return "off";
    let level = this.level;
    if (this.rules.length === 0) return level;
    const forms = this.select(file).paths.forms;
    for (const rule of this.rules) {
      if ((rule.path === undefined || forms.some((form) => rule.path!.test(form))) && (rule.name === undefined || rule.name.test(name))) level = rule.level;
    }
    return level;
  }

  /** Whether `functions` (function-name globs) was given. */
  get hasFunctionGlobs(): boolean {
    return this.functions.length > 0;
  }

  /** Whether a function-name glob (`functions`) lets `name` through; true without any. */
  functionSelected(name: string): boolean {
    return this.functions.length === 0 || this.functions.some((re) => re.test(name));
  }

  /** Whether the methods of class (or object) `name` are stateful handlers. */
  isStateful(name: string): boolean {
    return this.stateful.length > 0 && this.stateful.some((re) => re.test(name));
  }

  /** "off" only when every rule that could apply to this path turns it off. */
  private fileLevelCeiling(forms: string[]): Level {
    let level = this.level;
    let anyOn = level !== "off";
    for (const rule of this.rules) {
      if (rule.path !== undefined && !forms.some((form) => rule.path!.test(form))) continue;
      if (rule.name === undefined) {
        level = rule.level;
        anyOn = level !== "off";
      } else if (rule.level !== "off") anyOn = true;
    }
    return anyOn ? "calls" : "off";
  }
}
