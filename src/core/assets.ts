/**
 * The files scope hands to traced programs: libscope.so (bun:ffi), scope.node (the
 * Node-API addon), oxc-parser's native binding (TypeScript) and the agent bundles. A
 * separate `node` process cannot read Bun's embedded file system, so the compiled
 * executable extracts them once to a private cache directory (0700), keyed by version
 * and content hash. Running from source they come from zig-out/, node_modules and a
 * fresh agent bundle.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import type { BunPlugin } from "bun";
import { EXTRAS_ENTRY, EXTRAS_FILE, EXTRAS_SHARED, EXTRAS_SHARED_PREFIX, WALK_ENTRY, WALK_FILE } from "../agent/node/chunks";
import { BUN_AGENT_FILE, NODE_AGENT_FILE } from "../agent/inject";
import { BUNDLE_FILE, codeCacheLoader, wrappedBundle } from "../agent/node/code-cache";
import { VERSION } from "../version";
import * as layout from "./layout";
import { setLibscopePath } from "./native";
import { systemReason } from "./system-error";
import { pidAlive } from "./pid";
import { oxcBindingPlugin } from "./oxc-plugin";

/**
 * Native libraries: the file name they are extracted as and the variable that overrides
 * them from source. libscope and scope.node are built by `zig build` into zig-out/lib;
 * oxc-parser's binding comes from its per-platform package (oxcBindingSource).
 */
const libraries = {
  libscope: { out: "libscope.so", env: "SCOPE_LIBSCOPE" },
  addon: { out: "scope.node", env: "SCOPE_ADDON" },
  oxcBinding: { out: "oxc-parser.node", env: "SCOPE_OXC_BINDING" },
} as const;

/** Agent entry points, relative to the repo; scripts/build.ts bundles the same ones. */
export const agentEntries = {
  // Side by side: each agent names the other runtime's from its own directory (src/agent/shared/child-env.ts).
  nodeAgent: { entry: "src/agent/node/main.ts", out: NODE_AGENT_FILE, target: "node", format: "cjs" },
  bunAgent: { entry: "src/agent/bun/main.ts", out: BUN_AGENT_FILE, target: "bun", format: "esm" },
  // Node's module.register runs it on the loader hooks thread: its own bundle.
  esmLoader: { entry: "src/instrument/esm-loader.ts", out: "esm-loader.mjs", target: "node", format: "esm" },
  // Function tracing (parser, transform), loaded by the Node agent only with --functions:
  // every traced process and worker would otherwise parse it at start.
  functionsAgent: { entry: "src/instrument/agent.ts", out: "functions.cjs", target: "node", format: "cjs" },
  // `scope attach`: loaded into a running Node process through its inspector (src/attach/agent.ts).
  attachAgent: { entry: "src/attach/agent.ts", out: "attach.cjs", target: "node", format: "cjs" },
} as const;

/**
 * Files written by bundleAgent beside an entry's own: the Node agent's node.cjs is a small
 * loader of node-bundle.cjs (src/agent/node/code-cache.ts).
 */
const agentCompanions = {
  nodeAgentBundle: { of: "nodeAgent", out: BUNDLE_FILE },
  // The agent's second chunk, loaded when a thread first needs HTTP, a framework or a database (src/agent/node/lazy.ts).
  nodeAgentExtras: { of: "nodeAgent", out: EXTRAS_FILE },
  // The preview walk, loaded at a thread's first preview (src/agent/node/walk-load.ts).
  nodeAgentWalk: { of: "nodeAgent", out: WALK_FILE },
} as const;

export type AssetName = keyof typeof libraries | keyof typeof agentEntries | keyof typeof agentCompanions;
/** Absolute paths of every file scope hands to traced programs. */
export type Assets = Record<AssetName, string>;

function fileName(name: AssetName): string {
  if (name in libraries) return libraries[name as keyof typeof libraries].out;
  if (name in agentCompanions) return agentCompanions[name as keyof typeof agentCompanions].out;
  return agentEntries[name as keyof typeof agentEntries].out;
}

/** The bundled agents (bundleAgent's paths, by entry) with the companion files written beside them. */
export function agentFiles(agents: Record<keyof typeof agentEntries, string>): Record<keyof typeof agentEntries | keyof typeof agentCompanions, string> {
  const companions = Object.entries(agentCompanions).map(([name, { of, out }]) => [name, join(dirname(agents[of]), out)]);
  return { ...agents, ...(Object.fromEntries(companions) as Record<keyof typeof agentCompanions, string>) };
}

const repoRoot = join(import.meta.dir, "..", "..");
const compiled = typeof SCOPE_ASSET_HASH === "string" && SCOPE_ASSET_HASH.length > 0;
let cached: Assets | undefined;

export async function assets(): Promise<Assets> {
  if (!cached) {
    cached = compiled ? extractEmbedded() : await buildFromSource();
    setLibscopePath(cached.libscope);
  }
  return cached;
}

/** The private cache root (XDG_CACHE_HOME or ~/.cache, then `scope`). */
export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "scope");
}

/** A directory only we can write to; refuses one that another user could have planted. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const stat = lstatSync(path);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(`cache directory ${path} is not a directory owned by this user`);
  }
  chmodSync(path, 0o700);
}

let extracted: Assets | undefined;

function extractEmbedded(): Assets {
  if (extracted) return extracted;
  const { embedded } = require("./embedded") as typeof import("./embedded");
  const root = cacheRoot();
  try {
    ensurePrivateDir(root);
  } catch (error) {
    // A service account's HOME is often missing or read-only: say where else the files can go.
    const why = systemReason(error as Error) ?? (error as Error).message;
    throw new Error(`cannot make scope's cache directory ${root}: ${why}; scope unpacks its native library and agent there; set XDG_CACHE_HOME to a directory this user can write`);
  }
  const dir = join(root, `${VERSION}-${SCOPE_ASSET_HASH}`);
  const names = Object.keys(embedded) as AssetName[];
  if (!existsSync(join(dir, ".complete"))) {
    // Extract into a fresh directory, then rename: a concurrent scope never sees half a set.
    const staging = mkdtempSync(join(root, ".staging-"));
    for (const name of names) {
      writeFileSync(join(staging, fileName(name)), readFileSync(embedded[name]), { mode: 0o700 });
    }
    writeFileSync(join(staging, ".complete"), "");
    try {
      renameSync(staging, dir);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(join(dir, ".complete"))) throw error;
    }
  }
  extracted = Object.fromEntries(names.map((name) => [name, join(dir, fileName(name))])) as Assets;
  return extracted;
}

/**
 * oxc-parser's binding for this platform in node_modules (the package oxc-parser's own
 * loader would pick: @oxc-parser/binding-<platform>-<arch>[-<libc>]); undefined when
 * none is installed.
 */
export function oxcBindingSource(): string | undefined {
  const base = `@oxc-parser/binding-${process.platform}-${process.arch}`;
  const candidates = process.platform === "linux" ? [`${base}-gnu`, `${base}-musl`] : process.platform === "win32" ? [`${base}-msvc`] : [base];
  for (const name of candidates) {
    try {
      return require.resolve(name, { paths: [repoRoot] });
    } catch {
      // Not installed for this libc; try the next.
    }
  }
  return undefined;
}

/**
 * Where the scope process itself loads oxc-parser's binding (`scope instrument` on
 * TypeScript): the compiled CLI is bundled with oxcBindingPlugin(this module), so its
 * copy of oxc-parser opens the extracted asset; from source oxc-parser loads as usual.
 */
export function oxcBindingPath(): string | undefined {
  return compiled ? extractEmbedded().oxcBinding : oxcBindingSource();
}

let transformBuild: Promise<string> | undefined;

/** What makes the transform cache's entries: the cache with instrument(), and Bun's module facts (bun-commonjs.ts). */
const transformEntries = ["src/instrument/cache.ts", "src/instrument/bun-commonjs.ts"];

/**
 * The id of the instrumenter: 16 hex digits of the SHA-256 of the sources transformEntries
 * import, followed through their relative imports and require() calls (the cache,
 * instrument() and everything they use: transform, print, bun-module-kind), and of the
 * name and version of every package they reach (oxc-parser's, with its native binding;
 * meriyah, magic-string). Defined as SCOPE_TRANSFORM_BUILD in every agent bundle, it keys
 * the transform cache (cache.ts) and the module facts beside it: an entry is reused only by
 * the build that made it, with no format number to remember to bump. Computed once per build
 * (scripts/build.ts, a source checkout's start: a few ms, reading the files with Bun's
 * import scanner, not bundling them), never by the traced program.
 */
export function transformBuildId(): Promise<string> {
  transformBuild ??= Promise.resolve().then(() => {
    const hash = createHash("sha256");
    const scanner = new Bun.Transpiler({ loader: "ts" });
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      hash.update(relative(repoRoot, file)).update("\0").update(text).update("\0");
      if (!/\.[cm]?[jt]s$/.test(file)) return; // package.json, a .proto: text only
      for (const { path } of scanner.scanImports(text)) {
        if (path.startsWith(".")) visit(sourceFile(join(dirname(file), path)));
        else if (!path.startsWith("node:") && !path.startsWith("bun")) packages.add(path.startsWith("@") ? path.split("/", 2).join("/") : path.split("/", 1)[0]!);
      }
    };
    for (const entry of transformEntries) visit(join(repoRoot, entry));
    for (const name of [...packages].sort()) {
      const manifest = JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")) as { version?: string };
      hash.update(`${name}@${manifest.version}\0`);
    }
    return hash.digest("hex").slice(0, 16);
  });
  return transformBuild;
}

/** A relative import's file: as written (a .json, .proto), or with .ts, or its directory's index.ts. */
function sourceFile(path: string): string {
  for (const candidate of [`${path}.ts`, join(path, "index.ts"), path]) if (existsSync(candidate) && !lstatSync(candidate).isDirectory()) return candidate;
  throw new Error(`transformBuildId: no source file for ${relative(repoRoot, path)}`);
}

/**
 * Bundles one agent entry to `outDir`; throws with the bundler's messages on failure.
 * `build`: the transform cache's build id (transformBuildId unless a test gives another).
 */
export async function bundleAgent(which: keyof typeof agentEntries, outDir: string, build?: string): Promise<string> {
  const spec = agentEntries[which];
  const result = await Bun.build({
    entrypoints: [join(repoRoot, spec.entry)],
    target: spec.target,
    format: spec.format,
    minify: false,
    naming: spec.out,
    outdir: outDir,
    define: { SCOPE_TRANSFORM_BUILD: JSON.stringify(build ?? (await transformBuildId())) },
    // oxc-parser's JavaScript is bundled; its binding is opened from $SCOPE_OXC_BINDING.
    plugins: [oxcBindingPlugin(), ...(which === "nodeAgent" ? [agentKindsPlugin()] : [])],
  });
  if (!result.success) throw new Error(`bundling ${spec.entry} failed: ${result.logs.map(String).join("; ")}`);
  const out = join(outDir, spec.out);
  // Every Node thread loads it: node.cjs becomes a loader that compiles the bundle, moved
  // beside it, through a V8 code cache (src/agent/node/code-cache.ts); the second chunk
  // and walk chunks (src/agent/node/chunks.ts) are written beside them, in the same wrapped form.
  if (which === "nodeAgent") {
    writeFileSync(join(outDir, BUNDLE_FILE), wrappedBundle(readFileSync(out, "utf8")));
    writeFileSync(out, codeCacheLoader());
    writeFileSync(join(outDir, EXTRAS_FILE), wrappedBundle(await bundleChunk(EXTRAS_ENTRY, EXTRAS_SHARED)));
    writeFileSync(join(outDir, WALK_FILE), wrappedBundle(await bundleChunk(WALK_ENTRY, EXTRAS_SHARED)));
  }
  return out;
}

/** One of the Node agent's lazily loaded chunks as CommonJS source; the modules it shares with the core (`sharedPaths`) stay `require`s of their EXTRAS_SHARED_PREFIX ids. */
async function bundleChunk(entry: string, sharedPaths: readonly string[]): Promise<string> {
  const shared = new Map(sharedPaths.map((path) => [join(repoRoot, path), `${EXTRAS_SHARED_PREFIX}${path}`]));
  const sharedPlugin: BunPlugin = {
    name: "scope-extras-shared",
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const id = shared.get(join(dirname(args.importer), `${args.path}.ts`));
        return id === undefined ? undefined : { path: id, external: true };
      });
    },
  };
  const result = await Bun.build({ entrypoints: [join(repoRoot, entry)], target: "node", format: "cjs", minify: false, plugins: [sharedPlugin, agentKindsPlugin()] });
  if (!result.success) throw new Error(`bundling ${entry} failed: ${result.logs.map(String).join("; ")}`);
  const [output] = result.outputs;
  if (output === undefined || result.outputs.length !== 1) throw new Error(`bundling ${entry} gave ${result.outputs.length} files`);
  return output.text();
}

/**
 * Layout constants the Node agent would iterate, kept as plain objects: none (node/async.ts
 * lists AsyncType's members by access, asyncTypes(): an object built at every thread's start
 * costs ~6 K instructions a property in a new worker, BENCHMARKS.md "Thirteenth look").
 */
export const AGENT_KINDS_KEPT: ReadonlySet<string> = new Set<string>();

/**
 * src/agent/shared/kinds.ts as the Node agent's bundles see it: its re-export of
 * src/core/layout.ts replaced by the same values as TS enums (numbers as constants), which
 * the bundler inlines at each member access and leaves out as objects. Built in every thread
 * at start, layout's objects cost ~1 M instructions a worker (EventKind alone has ~60
 * properties; BENCHMARKS.md, "Worker start: the second chunk"). Throws on a name it cannot
 * turn into an enum, so the build fails instead of the agent.
 */
export function agentKindsSource(text: string): string {
  const match = /export \{([^}]*)\} from "\.\.\/\.\.\/core\/layout";/.exec(text);
  if (!match) throw new Error("src/agent/shared/kinds.ts: its re-export of src/core/layout.ts was not found");
  const identifier = /^[A-Za-z_$][\w$]*$/;
  const lines = match[1]!.split(",").map((part) => {
    const [name, alias = name] = part.trim().split(/\s+as\s+/) as [string, string?];
    const value = (layout as Record<string, unknown>)[name];
    if (typeof value === "number") return `export const ${alias} = ${value};`;
    const entries = value !== null && typeof value === "object" ? Object.entries(value) : [];
    if (entries.length === 0 || !entries.every(([key, member]) => identifier.test(key) && Number.isSafeInteger(member))) {
      throw new Error(`src/agent/shared/kinds.ts: ${name} is not a number or an object of integers`);
    }
    if (AGENT_KINDS_KEPT.has(name)) return `export const ${alias} = ${JSON.stringify(value)};`;
    return `export enum ${alias} { ${entries.map(([key, member]) => `${key} = ${member}`).join(", ")} }`;
  });
  return text.slice(0, match.index) + lines.join("\n") + text.slice(match.index + match[0].length);
}

function agentKindsPlugin(): BunPlugin {
  return {
    name: "scope-agent-kinds",
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]agent[\\/]shared[\\/]kinds\.ts$/ }, (args) => ({ loader: "ts", contents: agentKindsSource(readFileSync(args.path, "utf8")) }));
    },
  };
}

/** A source checkout's agent bundles: scope-dev-agent-<pid of the scope that built them>-<random>. */
const DEV_AGENT_PREFIX = "scope-dev-agent-";
const devAgentDir = /^scope-dev-agent-(\d+)-/;

/**
 * The dev agent directories some live process (other than this one) names in its
 * environment (/proc/<pid>/environ: NODE_OPTIONS' --require, BUN_OPTIONS' --preload). A
 * traced program can outlive its scope (a detached child, a daemon): its new Node
 * processes inherit NODE_OPTIONS and cannot start if the preloaded file is gone ("Cannot
 * find module .../node.cjs"). Processes of other users are not readable and not counted.
 */
function devAgentDirsInUse(): Set<string> {
  const used = new Set<string>();
  const prefix = join(tmpdir(), DEV_AGENT_PREFIX);
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return used;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, "latin1");
    } catch {
      continue; // gone, or not ours to read
    }
    for (let at = environ.indexOf(prefix); at !== -1; at = environ.indexOf(prefix, at + 1)) {
      const end = environ.indexOf("/", at + prefix.length);
      if (end !== -1) used.add(environ.slice(at, end));
    }
  }
  return used;
}

/**
 * The bundles of a source-checkout scope that ended without its exit handler (SIGKILL, a
 * test's timeout), or that a traced process still named when it ended, removed by the next
 * one once no process names them; a live scope's, another user's, and names without a pid
 * (before it was in the name) are left alone.
 */
function removeDeadDevAgentDirs(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  const uid = process.getuid?.();
  let inUse: Set<string> | undefined;
  for (const name of names) {
    const match = devAgentDir.exec(name);
    if (match === null || pidAlive(Number(match[1]))) continue;
    inUse ??= devAgentDirsInUse();
    if (inUse.has(join(tmpdir(), name))) continue;
    const path = join(tmpdir(), name);
    try {
      if (uid !== undefined && lstatSync(path).uid !== uid) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Raced with another scope's sweep: leave it.
    }
  }
}

async function buildFromSource(): Promise<Assets> {
  const lib = (name: "libscope" | "addon") => {
    const override = process.env[libraries[name].env];
    if (override) return override;
    const path = join(repoRoot, "zig-out/lib", libraries[name].out);
    if (!existsSync(path)) throw new Error(`${basename(path)} not built; run \`zig build -Doptimize=ReleaseFast\``);
    return path;
  };
  // Optional: without it ("") TypeScript files run untouched, with one warning line each.
  const oxcBinding = process.env[libraries.oxcBinding.env] || oxcBindingSource() || "";
  removeDeadDevAgentDirs();
  const outDir = mkdtempSync(join(tmpdir(), `${DEV_AGENT_PREFIX}${process.pid}-`));
  // Removed at exit unless a process of the traced tree that outlived the program still
  // names it (a detached child; the next scope removes it once none does).
  process.once("exit", () => {
    if (!devAgentDirsInUse().has(outDir)) rmSync(outDir, { recursive: true, force: true });
  });
  const agents = Object.keys(agentEntries) as (keyof typeof agentEntries)[];
  const bundled = await Promise.all(agents.map((name) => bundleAgent(name, outDir)));
  return {
    libscope: lib("libscope"),
    addon: lib("addon"),
    oxcBinding,
    ...agentFiles(Object.fromEntries(agents.map((name, i) => [name, bundled[i]!])) as Record<keyof typeof agentEntries, string>),
  };
}

/**
 * The private directory of cached function transforms (src/instrument/cache.ts), one per
 * scope version (the key holds the version too; this keeps old entries easy to remove).
 */
export function transformCacheDir(): string {
  const root = cacheRoot();
  ensurePrivateDir(root);
  const dir = join(root, `transforms-${VERSION}`);
  ensurePrivateDir(dir);
  return dir;
}

/** For `scope doctor`: whether this binary runs compiled with embedded assets. */
export const isCompiled = compiled;
