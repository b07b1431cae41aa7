/**
 * Database integrations load when the program loads the library they trace, not before:
 * `Module._extensions[".js"]` (the CommonJS loader's per-file step, also for a CommonJS
 * package an ES module imports) is wrapped once (scope attach; a Node thread's core has its
 * own frameless hook, lazy.ts; a Bun thread hooks require, src/agent/bun/library-files.ts,
 * and hands over the same files through `databaseFiles`), and after a file
 * of pg, pg-pool, postgres (its CommonJS build), mysql2, better-sqlite3, ioredis, node-redis (4 or 5), knex or Sequelize's pool ran, its exports are
 * handed to that library's module (required only then: the bundler keeps each one
 * lazy). A program that loads none of them pays one path test per CommonJS file it loads.
 */
import type { DbRecorder } from "../../shared/db";
import { assignPatch } from "../../shared/patches";
import { libraryFile } from "../triggers";

type Extension = (module: { exports: unknown }, filename: string) => unknown;

/**
 * `loaded`: files the program loaded already, with their exports (scope attach: from
 * require.cache), hooked now; the files it loads from now on are hooked as they load.
 */
export function hookDatabaseLibraries(db: DbRecorder, Module: { _extensions?: Record<string, Extension> }, loaded?: Iterable<[string, unknown]>): void {
  if (loaded !== undefined) {
    for (const [filename, exports] of loaded) {
      const match = libraryFile().exec(filename);
      if (match) db.recorder.safe(() => onLibraryFile(db, match[1]!.replaceAll("\\", "/"), exports, filename, true));
      // Statements the program prepared already: their class from the addon's exports.
      else if (sqliteAddon.test(filename)) db.recorder.safe(() => onSqliteAddon(db, exports));
    }
  }
  const extensions = Module._extensions;
  const original = extensions?.[".js"];
  if (!extensions || typeof original !== "function") return;
  const onFile = databaseFiles(db);
  const load = function (this: unknown, module: { exports: unknown }, filename: string) {
    // Any other file: the original in tail position (tailCall in shared/patches.ts).
    if (typeof filename !== "string" || !libraryFile().test(filename)) return Reflect.apply(original, this, arguments);
    const result = Reflect.apply(original, this, arguments);
    onFile(filename, module.exports);
    return result;
  };
  Object.defineProperty(load, "name", { value: original.name, configurable: true });
  Object.defineProperty(load, "length", { value: original.length, configurable: true });
  assignPatch(extensions, ".js", load);
}

/**
 * The integrations' hook of one loaded library file (its exports, after it ran): what the
 * wrapper above calls for each file, and the Node agent's core for each file it sees load
 * (lazy.ts), which wraps `Module._extensions` itself.
 */
export function databaseFiles(db: DbRecorder): (filename: string, exports: unknown) => void {
  return (filename, exports) => {
    const match = libraryFile().exec(filename);
    if (match) db.recorder.safe(() => onLibraryFile(db, match[1]!.replaceAll("\\", "/"), exports, filename));
  };
}

/** better-sqlite3's native addon (its exports name the Statement class). */
const sqliteAddon = /[\\/]node_modules[\\/]better-sqlite3[\\/]build[\\/][^\\/]+[\\/]better_sqlite3\.node$/;

function onSqliteAddon(db: DbRecorder, exports: unknown): void {
  const proto = (exports as { Statement?: { prototype?: unknown } } | null)?.Statement?.prototype;
  if (proto !== null && typeof proto === "object") (require("./better-sqlite3") as typeof import("./better-sqlite3")).hookStatementPrototype(db, proto);
}

/** `late`: a file the program loaded before `scope attach` (its library may have made clients already). */
function onLibraryFile(db: DbRecorder, file: string, exports: unknown, filename: string, late = false): void {
  switch (file) {
    case "pg/lib/client":
      return (require("./pg") as typeof import("./pg")).hookPgClient(db, exports);
    case "pg/lib/query":
      return (require("./pg") as typeof import("./pg")).hookPgQuery(db, exports);
    case "pg-pool/index":
      return (require("./pg") as typeof import("./pg")).hookPgPool(db, exports);
    case "postgres/cjs/src/query":
      return (require("./postgres") as typeof import("./postgres")).hookPostgresQuery(db, (exports as { Query?: unknown })?.Query);
    case "postgres/cjs/src/types":
      return (require("./postgres") as typeof import("./postgres")).hookPostgresTypes(db, exports, late);
    case "postgres/cjs/src/large":
      return (require("./postgres") as typeof import("./postgres")).hookPostgresLarge(db, exports);
    case "mysql2/lib/base/connection":
    case "mysql2/lib/connection":
      return (require("./mysql2") as typeof import("./mysql2")).hookMysql2Connection(db, exports);
    case "mysql2/lib/base/pool":
    case "mysql2/lib/pool":
      return (require("./mysql2") as typeof import("./mysql2")).hookMysql2Pool(db, exports);
    case "better-sqlite3/lib/database":
      return (require("./better-sqlite3") as typeof import("./better-sqlite3")).hookBetterSqlite3(db, exports);
    case "sequelize-pool/lib/Pool":
      return (require("./sequelize") as typeof import("./sequelize")).hookSequelizePool(db, filename, exports);
    case "sequelize/lib/dialects/abstract/connection-manager":
      return (require("./sequelize") as typeof import("./sequelize")).hookSequelizeConnectionManager(db, exports);
    case "knex/lib/client":
      return (require("./knex") as typeof import("./knex")).hookKnexClient(db, exports);
    case "ioredis/built/Redis":
      (require("./ioredis") as typeof import("./ioredis")).hookIoredis(db, exports);
      return (require("./ioredis") as typeof import("./ioredis")).hookIoredisPubSub(db, filename);
    case "@redis/client/dist/lib/client/linked-list":
      return (require("./node-redis") as typeof import("./node-redis")).hookNodeRedisList(db, exports);
    case "@redis/client/dist/lib/client/commands-queue":
      (require("./node-redis") as typeof import("./node-redis")).hookNodeRedisQueue(exports);
      (require("./node-redis4") as typeof import("./node-redis4")).hookNodeRedis4Queue(db, filename, exports);
      return (require("./node-redis") as typeof import("./node-redis")).hookNodeRedisPubSub(db, filename);
    case "@redis/client/dist/lib/client/index":
      (require("./node-redis") as typeof import("./node-redis")).hookNodeRedisClient(db, exports, late);
      return (require("./node-redis4") as typeof import("./node-redis4")).hookNodeRedis4Client(db, exports, late);
  }
}
