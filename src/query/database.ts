/**
 * Opening a trace as a database: the cached one when it still describes the trace, else
 * a fresh load (load.ts) written to a temporary file beside the cache and renamed over
 * it, so a reader never sees half a database and two loads at once do not collide.
 * Queries run on a read-only connection: a user's SQL cannot change the cache.
 */
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { pidAlive } from "../core/pid";
import { systemReason } from "../core/system-error";
import { endingNotice } from "../core/trace-ending";
import { notATraceFile, TraceFileError } from "../core/trace-file";
import { cachePathFor, ownedByOthers, sameIdentity, traceIdentity, type TraceIdentity } from "./cache";
import { TraceLoader, type LoadSummary } from "./load";
import { INDEXES, SCHEMA_VERSION, TABLES, VIEWS } from "./schema";

export interface TraceDatabase {
  db: Database;
  tracePath: string;
  /** The database file (null: held in memory only). */
  databasePath: string | null;
  /** True when an earlier load was reused. */
  fromCache: boolean;
  /** Milliseconds spent loading (0 from the cache). */
  loadMs: number;
  /** Rows of `events`. */
  events: number;
  /** "closed", "not_closed" (still being written, or the collector stopped early) or "failed" (damaged). */
  state: string;
  /** What the user should be told about the trace (not closed, damaged), or null. */
  warning: string | null;
  /** The exit status for how the trace ended, once the rows are out (core/trace-ending.ts). */
  status: number;
  close(): void;
}

export interface OpenOptions {
  /** Keep the database in a file for the next open (default true); false: in memory. */
  cache?: boolean;
  /** Called before a load starts (not when the cache is used): where the database goes, null for memory. */
  onLoad?: (databasePath: string | null) => void;
}

/** A trace that cannot be opened at all: the message is one line for `scope: ...`. */
export class TraceOpenError extends Error {
  override name = "TraceOpenError";
}

function identityOf(path: string): TraceIdentity {
  const other = notATraceFile(path);
  if (other !== undefined) throw new TraceOpenError(`${path}: ${other}`);
  try {
    return traceIdentity(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw new TraceOpenError(`${path}: no such file`);
    if (code === "EISDIR") throw new TraceOpenError(`${path}: is a directory`);
    if (code === "EACCES") throw new TraceOpenError(`${path}: permission denied`);
    throw new TraceOpenError(`${path}: ${(error as Error).message}`);
  }
}

function metaValue(db: Database, key: string): unknown {
  return (db.query("SELECT value FROM meta WHERE key = ?").get(key) as { value: unknown } | null)?.value;
}

/** The cached database at `path` when it was built by this schema version from this very trace. */
function reusable(path: string, identity: TraceIdentity): Database | null {
  if (!existsSync(path) || ownedByOthers(path)) return null;
  let db: Database | null = null;
  try {
    db = new Database(path, { readonly: true });
    const kept: TraceIdentity = {
      size: Number(metaValue(db, "trace_size")),
      mtimeMs: Number(metaValue(db, "trace_mtime_ms")),
      ino: Number(metaValue(db, "trace_ino")),
      fingerprint: String(metaValue(db, "trace_fingerprint")),
    };
    if (Number(metaValue(db, "schema_version")) === SCHEMA_VERSION && sameIdentity(kept, identity)) return db;
  } catch {
    // Not a database of ours, or damaged: rebuilt.
  }
  db?.close();
  return null;
}

/** Loads `tracePath` into a new database at `path` (":memory:" allowed); returns it open for writing. */
export function buildDatabase(tracePath: string, path: string, identity: TraceIdentity): { db: Database; summary: LoadSummary } {
  const db = new Database(path, { create: true });
  try {
    // A new file, written once and renamed into place: nothing to roll back to, nothing to
    // sync. (journal_mode OFF is refused by Bun's SQLite, built in defensive mode: MEMORY.)
    db.exec("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -262144;");
    db.exec("BEGIN");
    db.exec(TABLES);
    db.exec(VIEWS);
    const summary = new TraceLoader(db).load(tracePath);
    db.exec(INDEXES);
    const meta = db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)");
    meta.run("schema_version", SCHEMA_VERSION);
    meta.run("trace_size", identity.size);
    meta.run("trace_mtime_ms", identity.mtimeMs);
    meta.run("trace_ino", identity.ino);
    meta.run("trace_fingerprint", identity.fingerprint);
    meta.finalize();
    db.exec("COMMIT");
    return { db, summary };
  } catch (error) {
    db.close();
    if (error instanceof TraceFileError) throw new TraceOpenError(error.message);
    throw error;
  }
}

function warningOf(db: Database, tracePath: string): { state: string; warning: string | null; status: number; events: number } {
  const state = String(metaValue(db, "state"));
  const events = Number(metaValue(db, "events"));
  const error = metaValue(db, "error");
  // How the trace ended, said as every reading command says it (core/trace-ending.ts).
  const { line, status } = endingNotice(tracePath, { damage: error ? String(error) : state === "failed" ? "damaged" : null, closed: state === "closed" }, { count: events, done: "loaded" });
  return { state, warning: line, status, events };
}

/** Temporary files of loads whose process is gone (killed mid-load): `<db>.<pid>.<ms>.tmp[-journal]`. */
function removeStaleTemporaries(databasePath: string): void {
  const dir = dirname(databasePath);
  const prefix = `${basename(databasePath)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)\.\d+\.tmp(-journal)?$/.exec(name.slice(prefix.length));
    if (!match) continue;
    if (pidAlive(Number(match[1]))) continue; // still loading
    rmSync(join(dir, name), { force: true });
  }
}

/**
 * A file system step of keeping the database at `databasePath`; its failure (a directory in
 * the way: EISDIR from the rename) is one line naming that path and what to do, not the
 * temporary file's bare error.
 */
function cacheStep(databasePath: string, step: () => void): void {
  try {
    step();
  } catch (error) {
    const reason = systemReason(error as Error);
    if (reason === undefined) throw error;
    throw cannotKeep(databasePath, reason, (error as NodeJS.ErrnoException).code === "EISDIR");
  }
}

function cannotKeep(databasePath: string, reason: string, directory: boolean): TraceOpenError {
  return new TraceOpenError(`cannot keep the query database at ${databasePath}: ${reason}; ${directory ? "move or remove that directory, or " : ""}use --no-cache (loads into memory, keeps nothing)`);
}

/**
 * Opens `tracePath` as a database: from the cache when it is current, else loaded (and
 * cached unless `cache: false`). Throws TraceOpenError for a missing or unreadable trace.
 */
export function openTrace(tracePath: string, options: OpenOptions = {}): TraceDatabase {
  const identity = identityOf(tracePath);
  const started = performance.now();
  let db: Database;
  let databasePath: string | null = null;
  let fromCache = false;
  if (options.cache === false) {
    options.onLoad?.(null);
    db = buildDatabase(tracePath, ":memory:", identity).db;
  } else {
    databasePath = cachePathFor(tracePath);
    const cached = reusable(databasePath, identity);
    if (cached) {
      db = cached;
      fromCache = true;
    } else {
      // Said before a load that could not be kept, not after it.
      if (statSync(databasePath, { throwIfNoEntry: false })?.isDirectory()) throw cannotKeep(databasePath, "it is a directory (EISDIR)", true);
      options.onLoad?.(databasePath);
      removeStaleTemporaries(databasePath);
      const temporary = `${databasePath}.${process.pid}.${Date.now()}.tmp`;
      const keep = databasePath;
      try {
        // The database holds what the trace holds (arguments, SQL, messages): created with
        // the trace's permissions (scope run writes traces 0600), not the umask's default 0644.
        cacheStep(keep, () => writeFileSync(temporary, "", { mode: statSync(tracePath).mode & 0o666, flag: "wx" }));
        buildDatabase(tracePath, temporary, identity).db.close();
        cacheStep(keep, () => renameSync(temporary, keep));
      } catch (error) {
        rmSync(temporary, { force: true });
        throw error;
      }
      db = new Database(databasePath, { readonly: true });
    }
  }
  const { state, warning, status, events } = warningOf(db, tracePath);
  return {
    db,
    tracePath,
    databasePath,
    fromCache,
    loadMs: fromCache ? 0 : performance.now() - started,
    events,
    state,
    warning,
    status,
    close: () => db.close(),
  };
}
