/**
 * The summary's hint for an include glob that matched nothing because it names TypeScript
 * sources the program did not load: a project built with tsc (NestJS's `nest build`, any
 * `tsc` with an outDir) runs the compiled JavaScript, so `--include 'src/**'` selects nothing
 * there. When the glob's leading directory (in the working directory) holds TypeScript files,
 * the line says so, with the directory tsconfig.json's `outDir` names when it names one. A
 * Next.js project (a `.next/server` beside the glob's directory: `next build`'s output, which
 * `next start` runs) gets Next's directory instead: its route bundles for `app/` and `pages/`
 * (`.next/server/app/**`), the whole server build for any other directory (bundled into
 * Next's chunks), Turbopack's chunks (`.next/server/chunks/**`) for a Turbopack build; minified
 * unless next.config's `experimental.serverMinification` is false (nextHint).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const TYPESCRIPT = /\.(?:ts|tsx|mts|cts)$/;
/** Files and directories looked at, at most, for a TypeScript file under the glob's directory. */
const LOOK_LIMIT = 200;

/** The hint for include glob `glob` in `cwd`, or undefined when it does not apply. */
export function compiledHint(glob: string, cwd: string): string | undefined {
  const directory = leadingDirectory(glob);
  if (directory === undefined) return undefined;
  const where = join(cwd, directory);
  if (!isDirectory(where) || !holdsTypeScript(where)) return undefined;
  const named = directory.replace(/\/+$/, "");
  const next = nextHint(named, cwd);
  if (next !== undefined) return next;
  const outDir = tsconfigOutDir(cwd);
  if (outDir === undefined || outDir === named) return `(${named}/ holds TypeScript the program did not load: it ran a compiled copy; name the directory the compiler wrote, with --include '<that directory>/**')`;
  return `(${named}/ holds TypeScript the program did not load: it ran tsc's output, tsconfig.json's outDir "${outDir}": --include '${outDir}/**')`;
}

/**
 * The hint for a Next.js project's directory `named` (`app`, `src/app`, `lib`, …), or undefined
 * when `cwd` holds no `.next/server`. Webpack's build (Next 15's default) bundles each route's
 * code into its entry under `.next/server/app` (`pages`), shared code into `.next/server`'s
 * chunks; Turbopack's (Next 16's default: its runtime in `.next/server/chunks`) puts all code in
 * `.next/server/chunks`, the entries under `app/` only load them.
 */
function nextHint(named: string, cwd: string): string | undefined {
  const server = join(cwd, ".next", "server");
  if (!isDirectory(server)) return undefined;
  const routes = /^(?:src\/)?(app|pages)(?:\/|$)/.exec(named);
  const built = existsSync(join(server, "chunks", "[turbopack]_runtime.js")) ? ".next/server/chunks/**" : routes !== null ? `.next/server/${routes[1]}/**` : ".next/server/**";
  return `(${named}/ holds TypeScript the program did not load: Next.js ran its build, .next/server: --include '${built}'; its code is minified unless next.config's experimental.serverMinification is false)`;
}

/** The glob's literal directories before its first wildcard ("src" of "src/**", "apps/api/src" of "apps/api/src/*.ts"), relative ones only. */
function leadingDirectory(glob: string): string | undefined {
  const text = glob.startsWith("./") ? glob.slice(2) : glob;
  if (text.startsWith("/") || text.startsWith("../") || text.includes("node_modules")) return undefined;
  const parts = text.split("/");
  const literal: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (/[*?[\]{}!]/.test(part)) break;
    literal.push(part);
  }
  return literal.length > 0 && literal.every((part) => part !== "" && part !== "." && part !== "..") ? literal.join("/") : undefined;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether a TypeScript file (not a declaration file) is under `root`, breadth first, within LOOK_LIMIT entries. */
function holdsTypeScript(root: string): boolean {
  const queue = [root];
  let looked = 0;
  while (queue.length > 0 && looked < LOOK_LIMIT) {
    const directory = queue.shift()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (++looked > LOOK_LIMIT) break;
      if (entry.isFile() && TYPESCRIPT.test(entry.name) && !entry.name.endsWith(".d.ts")) return true;
      if (entry.isDirectory() && entry.name !== "node_modules" && !entry.name.startsWith(".")) queue.push(join(directory, entry.name));
    }
  }
  return false;
}

/** tsconfig.json's compilerOptions.outDir in `cwd` (its comments and trailing commas allowed), without a leading "./" or a trailing "/". */
function tsconfigOutDir(cwd: string): string | undefined {
  const path = join(cwd, "tsconfig.json");
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  // The outDir's string, wherever it is: the file is JSON with comments, which JSON.parse refuses.
  const match = /"outDir"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
  if (!match) return undefined;
  const outDir = match[1]!.replace(/^\.\//, "").replace(/\/+$/, "");
  return outDir === "" || outDir === "." ? undefined : outDir;
}
