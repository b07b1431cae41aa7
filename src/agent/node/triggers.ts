/**
 * What makes a thread load the agent's second chunk (node-extras.cjs: HTTP, frameworks,
 * databases; src/agent/node/lazy.ts): the diagnostics channels HTTP subscribes to, and the
 * library files the framework and database integrations hook. Constants and one pure test,
 * in both bundles: the core subscribes and tests with them at start, the integrations use
 * the same.
 */

/** Every channel the HTTP integration handles (src/agent/node/http.ts, httpHandlers). */
export const HTTP_CHANNELS = [
  "net.server.socket",
  "http.server.request.start",
  "http.server.response.finish",
  "net.client.socket",
  "http.client.request.start",
  "http.client.response.finish",
  "undici:request:create",
  "undici:client:sendHeaders",
  "undici:request:headers",
  "undici:request:trailers",
  "undici:request:error",
] as const;

export type HttpChannel = (typeof HTTP_CHANNELS)[number];

/**
 * The channels on which HTTP's first message in a thread can come (the core subscribes
 * these when the first module that publishes on one gets it, lazy.ts): a server's connection or request, a client's socket (before
 * its body: node:http's patches go in then) or request (https: no socket message), fetch's
 * request. Every other channel of HTTP_CHANNELS follows one of these in the same request.
 */
export const HTTP_FIRST_CHANNELS: readonly HttpChannel[] = ["net.server.socket", "http.server.request.start", "net.client.socket", "http.client.request.start", "undici:request:create"];

// The patterns below and the directories' ends are made at their first
// use, not at the core's top level: a regular expression literal there is made in every
// thread, and a module-level array's strings are deserialised with the core's code cache by
// every worker (BENCHMARKS.md "Worker start: the core's top level made at first use").
let frameworkFileMade: RegExp | undefined;
let libraryFileMade: RegExp | undefined;
let wsFileMade: RegExp | undefined;

/** Express 4's layer and router, the router package's layer (Express 5), Fastify's entry file and hooks, @koa/router's entry (14 and later) or router (before), Hono's CommonJS routers and HonoBase, Koa's Application, @nestjs/core's RouterExplorer, RouterProxy and RoutesResolver, Next.js's server (next/dist/server/next-server.js) and its route-module runtimes (next/dist/compiled/next-server), graphql-js's collectFields and locatedError, @trpc/server's CommonJS entry. */
export function frameworkFile(): RegExp {
  return (frameworkFileMade ??= /[\\/]node_modules(?:[\\/].*)?(?:[\\/]lib[\\/]router[\\/](?:layer|index)|[\\/]router[\\/]lib[\\/]layer|[\\/]fastify[\\/]fastify|[\\/]fastify[\\/]lib[\\/]hooks|[\\/]@koa[\\/]router[\\/](?:dist[\\/]index|lib[\\/]router)|[\\/]hono[\\/]dist[\\/]cjs[\\/](?:router[\\/](?:(?:smart|reg-exp|trie|linear|pattern)-router[\\/]router|reg-exp-router[\\/]prepared-router)|hono-base)|[\\/]koa[\\/]lib[\\/]application|[\\/]@nestjs[\\/]core[\\/]router[\\/](?:router-(?:explorer|proxy)|routes-resolver)|[\\/]next[\\/]dist[\\/](?:server[\\/]next-server|compiled[\\/]next-server[\\/](?:app-page|app-route|pages|pages-api)(?:-turbo)?(?:-experimental)?\.runtime\.(?:prod|dev))|[\\/]graphql[\\/](?:execution[\\/]collectFields|error[\\/]locatedError))\.js$|[\\/]node_modules[\\/]@trpc[\\/]server[\\/]dist[\\/]index\.cjs$/);
}

/** The library files whose exports a database integration hooks, by path under node_modules. */
export function libraryFile(): RegExp {
  return (libraryFileMade ??= /[\\/]node_modules[\\/](pg[\\/]lib[\\/](?:client|query)|knex[\\/]lib[\\/]client|pg-pool[\\/]index|postgres[\\/]cjs[\\/]src[\\/](?:query|types|large)|better-sqlite3[\\/]lib[\\/]database|ioredis[\\/]built[\\/]Redis|@redis[\\/]client[\\/]dist[\\/]lib[\\/]client[\\/](?:linked-list|commands-queue|index)|mysql2[\\/]lib[\\/](?:base[\\/])?(?:connection|pool)|sequelize-pool[\\/]lib[\\/]Pool|sequelize[\\/]lib[\\/]dialects[\\/]abstract[\\/]connection-manager)\.js$/);
}

/**
 * The `ws` package's WebSocket class (its client and its server's connections), and engine.io's
 * WebSocket transport (socket.io's server: its broadcasts' frames bypass ws's `send`), hooked
 * with the message group (ws-package.ts).
 */
export function wsFile(): RegExp {
  return (wsFileMade ??= /[\\/]node_modules[\\/](?:ws[\\/]lib|engine\.io[\\/]build[\\/]transports)[\\/]websocket\.js$/);
}

/**
 * The directories the files above are in (`frameworkFile`, `libraryFile` without their file
 * names), as the ends of a path with this platform's separator (the loader's paths have it):
 * Node computes a module's lookup paths from its directory before the file runs, and the
 * core watches only a module in one of these (loaded-files.ts). spec/module-stacks.test.ts
 * checks every file of node_modules the patterns take against these.
 */
let directories: { framework: string[]; library: string[]; ws: string; engineIo: string; nodeModules: string } | undefined;

function hookedDirectories(): { framework: string[]; library: string[]; ws: string; engineIo: string; nodeModules: string } {
  if (directories !== undefined) return directories;
  const separator = process.platform === "win32" ? "\\" : "/";
  const platformPath = (path: string) => path.replaceAll("/", separator);
  return (directories = {
    framework: ["/lib/router", "/router/lib", "/fastify", "/fastify/lib", "/@koa/router/dist", "/koa/lib", "/hono/dist/cjs", "/@nestjs/core/router", "/next/dist/server", "/next/dist/compiled/next-server", "/graphql/execution", "/graphql/error", "/@trpc/server/dist", ...["smart", "reg-exp", "trie", "linear", "pattern"].map((name) => `/hono/dist/cjs/router/${name}-router`)].map(platformPath),
    library: ["/node_modules/pg/lib", "/node_modules/knex/lib", "/node_modules/pg-pool", "/node_modules/postgres/cjs/src", "/node_modules/better-sqlite3/lib", "/node_modules/ioredis/built", "/node_modules/@redis/client/dist/lib/client", "/node_modules/mysql2/lib", "/node_modules/mysql2/lib/base", "/node_modules/sequelize-pool/lib", "/node_modules/sequelize/lib/dialects/abstract"].map(platformPath),
    ws: platformPath("/node_modules/ws/lib"),
    engineIo: platformPath("/node_modules/engine.io/build/transports"),
    nodeModules: platformPath("/node_modules/"),
  });
}

/**
 * Whether a module in `directory` may be a file the enabled integrations hook: the core's
 * test of every CommonJS module Node loads (lazy.ts), so cheap first: the last letter of the
 * directory's name (and of its parent's, for `lib`), which V8 reads inline, turns away most
 * directories; `endsWith` tests then (each a builtin call, ~200 instructions; BENCHMARKS.md
 * "Library files without a frame").
 */
export function isHookedDirectory(directory: string, http: boolean, db: boolean, ws = false): boolean {
  const length = directory.length;
  switch (directory.charCodeAt(length - 1)) {
    case 98: {
      // lib, under router, fastify, pg, better-sqlite3, ws, koa, mysql2, knex or sequelize-pool:
      // the last two letters of its parent (er, fy, pg, e3, ws, oa, l2, ex, ol). One letter let through every "…s/lib" and
      // "…a/lib" (a program's scripts/lib, express/lib), which then built hookedDirectories()
      // in that thread (and the first worker's code cache held it: BENCHMARKS.md "Worker
      // start: what grew the code cache").
      const parent = directory.charCodeAt(length - 5);
      const before = directory.charCodeAt(length - 6);
      if (
        !(
          (parent === 114 && before === 101) ||
          (parent === 121 && before === 102) ||
          (parent === 103 && before === 112) ||
          (parent === 51 && before === 101) ||
          (parent === 115 && before === 119) ||
          (parent === 97 && before === 111) ||
          (parent === 50 && before === 108) ||
          (parent === 120 && before === 101) ||
          (parent === 108 && before === 111)
        )
      )
        return false;
      break;
    }
    case 101: {
      // base, under mysql2's lib ("b/base").
      if (directory.charCodeAt(length - 4) !== 98 || directory.charCodeAt(length - 6) !== 98) return false;
      break;
    }
    case 116: {
      // dist under @koa/router and @trpc/server (r), ioredis' built (b), @redis/client's lib/client (c), sequelize's dialects/abstract (st).
      const before = directory.charCodeAt(length - 6);
      const first = directory.charCodeAt(length - 5);
      if (before !== 114 && first !== 98 && !(before === 99 && first === 108) && !(before === 115 && first === 116)) return false;
      break;
    }
    case 115: {
      // cjs, under Hono's dist ("o/dist/cjs"); engine.io's build/transports ("t…o…s").
      const fourth = directory.charCodeAt(length - 4);
      const tenth = directory.charCodeAt(length - 10);
      if (!((fourth === 47 && tenth === 111) || (fourth === 111 && tenth === 116))) return false;
      break;
    }
    case 110: {
      // execution, under graphql ("…ution"; its error directory passes as a router's "r").
      if (directory.charCodeAt(length - 2) !== 111 || directory.charCodeAt(length - 9) !== 101) return false;
      break;
    }
    case 114: // router, Hono's <name>-router, next/dist/server, next/dist/compiled/next-server, graphql's error
    case 121: // fastify
    case 108: // pg-pool
    case 99: // src
      break;
    default:
      return false;
  }
  const { framework, library, ws: wsDirectory, engineIo, nodeModules } = hookedDirectories();
  if (http) for (const end of framework) if (directory.endsWith(end) && directory.includes(nodeModules)) return true;
  if (db) for (const end of library) if (directory.endsWith(end)) return true;
  return ws && (directory.endsWith(wsDirectory) || directory.endsWith(engineIo));
}

/** Whether a file the program loads is one the enabled integrations hook (its exports handed to them once it ran). */
export function isHookedFile(filename: string, http: boolean, db: boolean, ws = false): boolean {
  if (!filename.includes("node_modules")) return false;
  if (http && (filename.endsWith("layer.js") || filename.endsWith("index.js") || filename.endsWith("fastify.js") || filename.endsWith("hooks.js") || filename.endsWith("router.js") || filename.endsWith("application.js") || filename.endsWith("hono-base.js") || filename.endsWith("explorer.js") || filename.endsWith("proxy.js") || filename.endsWith("resolver.js") || filename.endsWith("next-server.js") || filename.endsWith(".runtime.prod.js") || filename.endsWith(".runtime.dev.js") || filename.endsWith("collectFields.js") || filename.endsWith("locatedError.js") || filename.endsWith("index.cjs")) && frameworkFile().test(filename)) return true;
  if (ws && filename.endsWith("websocket.js") && wsFile().test(filename)) return true;
  return db && libraryFile().test(filename);
}
