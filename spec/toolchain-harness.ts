/**
 * Real tool chains for the toolchain tests: pinned packages from npm, installed once into
 * spec/.cache/toolchain/<set>-<hash> (gitignored; Babel 6 and 7 each get their own tree,
 * they conflict), and small projects written into a scratch directory that link to them.
 * Every package, dependencies of dependencies too, is pinned by a committed lockfile
 * (spec/fixtures/toolchain/<set>.package-lock.json, installed by `npm ci`): a range resolved
 * at install time once met a registry whose index named a version it did not yet serve.
 * The locks were made with `npm install --package-lock-only --before=2026-11-28`: nothing
 * days-new, which a registry mirror may not have yet.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { repoRoot } from "./harness";

/** Exact versions: the tests pin what they run. */
export const toolSets = {
  babel6: { "babel-register": "6.26.0", "babel-core": "6.26.3", "babel-preset-env": "1.7.0", "source-map-support": "0.5.21" },
  babel7: { "@babel/register": "7.29.13", "@babel/core": "7.29.16", "@babel/preset-env": "7.29.14", "source-map-support": "0.5.21" },
  typescript: { "ts-node": "10.9.2", typescript: "5.9.3", "source-map-support": "0.5.21" },
  tsx: { tsx: "4.23.15" },
  // vite-node (vitest ≤ 3) runs a project's files through node:vm (node-hooks.ts installVmHooks).
  vitest: { vitest: "3.2.4" },
  // jest runs a project's files through vm.Script in the test environment's context (vm-hooks.ts).
  jest: { jest: "29.7.0", "@babel/preset-env": "7.29.14", "@babel/preset-typescript": "7.29.16" },
  jest30: { jest: "30.5.2" },
  // The undici package's own client API beside fetch (spec/http-undici.test.ts).
  undici: { undici: "7.30.2" },
  // Elysia on Bun.serve: the routes it serves itself, through memoirist (spec/web-elysia.test.ts).
  elysia: { elysia: "1.4.30" },
  // knex's own pool (tarn) in front of pg (spec/db-knex.test.ts).
  knex: { knex: "3.3.0", pg: "8.23.1" },
  // Sequelize 6's own pool (sequelize-pool) in front of pg (spec/db-sequelize.test.ts).
  sequelize: { sequelize: "6.37.8", pg: "8.23.1" },
  // socket.io 4 server and client in one program (spec/websocket-socketio.test.ts).
  socketio: { "socket.io": "4.8.4", "socket.io-client": "4.8.4" },
  // NestJS 11 on Express and on Fastify (spec/web-nest.test.ts).
  nest: { "@nestjs/common": "11.2.12", "@nestjs/core": "11.2.12", "@nestjs/platform-express": "11.2.12", "@nestjs/platform-fastify": "11.2.8", "reflect-metadata": "0.2.2", rxjs: "7.8.2" },
  // Apollo Server 5 on graphql-js 16: operations as routes, resolver errors (spec/web-graphql.test.ts).
  graphql: { "@apollo/server": "5.5.1", graphql: "16.15.0" },
  // tRPC 11's server and client: procedures as routes, failed calls (spec/web-trpc.test.ts).
  trpc: { "@trpc/server": "11.25.2", "@trpc/client": "11.25.2" },
} as const;

export type ToolSet = keyof typeof toolSets;

const cacheRoot = join(repoRoot, "spec", ".cache", "toolchain");

/** The set's node_modules, installed with npm on first use (written aside, then renamed). */
export async function installTools(set: ToolSet): Promise<string> {
  const dependencies = toolSets[set];
  const lockfile = join(repoRoot, "spec", "fixtures", "toolchain", `${set}.package-lock.json`);
  const hash = createHash("sha256").update(JSON.stringify(dependencies)).update(readFileSync(lockfile)).digest("hex").slice(0, 12);
  const dir = join(cacheRoot, `${set}-${hash}`);
  if (existsSync(join(dir, "node_modules", ".scope-complete"))) return join(dir, "node_modules");
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, "package.json"), JSON.stringify({ name: `scope-toolchain-${set}`, private: true, dependencies }, null, 2));
  copyFileSync(lockfile, join(staging, "package-lock.json"));
  const npm = Bun.spawn(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], {
    cwd: staging,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [out, err, code] = await Promise.all([new Response(npm.stdout).text(), new Response(npm.stderr).text(), npm.exited]);
  if (code !== 0) throw new Error(`npm install for ${set} failed (${code}): ${out}${err}`);
  writeFileSync(join(staging, "node_modules", ".scope-complete"), "");
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return join(dir, "node_modules");
}

/** Writes `files` (relative paths) under `dir` and links `node_modules` to the tool set's. */
export function writeProject(dir: string, nodeModules: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  // Its own package.json: not an ES module scope of some parent.
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "toolchain-project", private: true }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  symlinkSync(nodeModules, join(dir, "node_modules"), "dir");
  return dir;
}

/** 1-based line and column of the first `needle` (after `after`, when given) in `text`. */
export function placeOf(text: string, needle: string, after = ""): [number, number] {
  const from = after ? text.indexOf(after) : 0;
  if (from < 0) throw new Error(`${after} not in the source`);
  const at = text.indexOf(needle, from + after.length);
  if (at < 0) throw new Error(`${needle} not in the source`);
  const before = text.slice(0, at).split("\n");
  return [before.length, before[before.length - 1]!.length + 1];
}
