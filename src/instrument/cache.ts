/**
 * The transform cache: what `instrument()` made of a file, kept on disk so the next start
 * of the program pays a hash instead of a parse. Keyed by the SHA-256 of everything the
 * result depends on: scope's version and the instrumenter's build (TRANSFORM_BUILD), the
 * settings (and NODE_ENV, which picks the default level), the file's name as the source map
 * gives it, the module goal, the source, and, when the source names an external source map (`//# sourceMappingURL=x.js.map`), that
 * map's text (the output's map is chained onto it: a rebuilt map must not reuse an entry).
 * The directory is the private cache scope created (0700, src/core/assets.ts cacheRoot);
 * scope passes it in SCOPE_TRANSFORM_CACHE. Entries are written to a temporary name and
 * renamed, so a concurrent reader (another process of the tree) sees a whole entry or none.
 * A cache that cannot be read or written is skipped: the file is transformed as usual.
 *
 * V8 code cache (CommonJS under Node, node-hooks.ts): next to an entry of code instrumented
 * in the script goal, `<key>.v8` holds V8's cached data for that code, made after the
 * module first ran (so the functions its start compiled are in it): a later start
 * compiles the 9 MB of typescript.js in ~45 ms instead of ~300 (BENCHMARKS.md,
 * "Start-up"). V8 checks its version and flags but only the length of the source, so the
 * file starts with the id of the entry it was made for (a random id written into the
 * entry's header); an entry rewritten since makes its old code cache unused.
 *
 * Size: an entry's mtime is its last use (written, or read while older than an hour: at
 * most one utime per entry per hour, whatever the number of processes). `scope run` calls
 * pruneTransformCache once at start, in its own process: over the bound
 * (SCOPE_TRANSFORM_CACHE_MAX, default 256 MiB) the least recently used entries go, those
 * of other scope versions' `transforms-*` directories included (never used again, so
 * they go first), until the total is under 3/4 of the bound.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fstatSync, futimesSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, unlinkSync, write as writeFd, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseSize } from "../run/options";
import { VERSION } from "../version";
import { instrument, type InstrumentOptions, type Instrumented } from "./instrument";
import { programNodeEnv } from "./match";
import { findInputMap } from "./print";
import { hasEvaluatorText, mayLoadModules } from "./loads-modules";
import { PREFAULT_SOURCE_MIN, prefaultFunction, prefaultParse } from "./oxc-raw";
import { sourceDigest } from "./transform";

/** Sources larger than this are not cached (one entry must not fill the disk). */
const ENTRY_BYTES_MAX = 64 * 1024 * 1024;

/** `instrument` through `cache` when there is one. */
export function instrumentVia(cache: TransformCache | undefined, code: string, file: string, options: InstrumentOptions): Cached {
  if (cache) return cache.instrument(code, file, options);
  const result = instrument(code, file, options);
  return { ...result, loadsModules: loadsModulesOf(result, code) };
}

/** Whether the source could load an ES module (loads-modules.ts), with the parser's word on import() when it parsed it. */
function loadsModulesOf(result: Instrumented, code: string, evaluator?: boolean): boolean {
  return mayLoadModules(code, result.status === "instrumented" ? result.dynamicImport === true : undefined, evaluator);
}

/**
 * A cache in `dir` for these settings, or none when there is no directory or it cannot be
 * made. `writeLater`: entries are written off the thread (writeLater below).
 */
export function openTransformCache(dir: string | undefined, settings: unknown, options: { writeLater?: boolean } = {}): TransformCache | undefined {
  if (!dir) return undefined;
  try {
    return new TransformCache(dir, settings, options.writeLater === true);
  } catch {
    return undefined;
  }
}

/** Where the V8 code cache of an entry lives, and the entry's id it must carry. */
export interface CodeCacheSlot {
  path: string;
  id: string;
}

/**
 * What a cached entry holds: enough for the hooks, without the function list or the map
 * object. `codeCache`: code instrumented in the script goal, kept in the cache.
 * `loadsModules`: the source could load an ES module (loads-modules.ts; node-hooks.ts
 * registers the ESM hooks before such a CommonJS source runs); absent: unknown.
 */
export type Cached = (
  | { status: "instrumented"; code: string; codeCache?: CodeCacheSlot; wrapped?: string }
  | { status: "unchanged"; code: string; reason: string }
  | { status: "failed"; code: string; reason: string }
) & { loadsModules?: boolean };

/**
 * What made an entry, in the key next to scope's version: the instrumenter as built (src/core/assets.ts
 * transformBuildId, defined in the agent bundles), so a development build with a changed
 * transform reuses no entry an earlier build wrote. Unbundled (this module imported from source,
 * as tests do) there is none: "source".
 */
export const TRANSFORM_BUILD = typeof SCOPE_TRANSFORM_BUILD === "string" ? SCOPE_TRANSFORM_BUILD : "source";

/** The settings the transform depends on: the hot-function guard and preview limits are read at run time only. */
function transformSettings(settings: unknown): unknown {
  if (settings === null || typeof settings !== "object") return settings;
  const { hotCallsPerSecond: _limit, hotSample: _sample, previewDepth: _depth, previewChars: _chars, maxOverhead: _budget, ...rest } = settings as Record<string, unknown>;
  return rest;
}

export class TransformCache {
  hits = 0;
  misses = 0;
  private readonly settingsKey: string;

  constructor(
    readonly dir: string,
    settings: unknown,
    /** Entries written by libuv's threads while the program goes on (writeLater); else before instrument returns. */
    readonly writesLater = false,
    /** The build the entries are made by (TRANSFORM_BUILD; a test gives another). */
    build = TRANSFORM_BUILD,
  ) {
    this.settingsKey = JSON.stringify([VERSION, build, transformSettings(settings), programNodeEnv() ?? ""]);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The entry's key, and the source's own SHA-256 (transform.ts sourceDigest: the transform reuses it). */
  key(code: string, file: string, options: InstrumentOptions): { key: string; digest: Uint8Array } {
    const digest = sourceDigest(code);
    const hash = createHash("sha256");
    hash.update(this.settingsKey).update("\0").update(options.sourceName ?? file).update("\0").update(String(options.module)).update("\0").update(digest);
    // Text another compiler takes carries a full map and no shifts (print.ts handedOn); other keys as before.
    if (options.handedOn === true) hash.update("\0handed on");
    // The external map the transform would read and chain (print.ts finds it the same way).
    // Whether there is one depends on `code` alone, so keys without it are as before.
    const readFile = options.readFile;
    if (readFile) {
      let map: string | undefined;
      let named = false;
      findInputMap(code, (url) => {
        named = true;
        map = readFile(url);
        return undefined;
      });
      if (named) hash.update(map === undefined ? "\0no map" : "\0map\0").update(map ?? "");
    }
    return { key: hash.digest("hex"), digest };
  }

  /** `instrument(code, file, options)`, from the cache when this exact input was seen. */
  instrument(code: string, file: string, options: InstrumentOptions): Cached {
    if (code.length > ENTRY_BYTES_MAX) return instrument(code, file, options);
    const { key, digest } = this.key(code, file, options);
    const path = join(this.dir, key.slice(0, 2), key);
    const entry = read(path, true);
    // Node 20 loses a script's import() callback when it is compiled from V8's cached data.
    const slot = (id: string, dynamicImport: boolean) => (options.module === false && id && !dynamicImport ? { codeCache: { path: `${path}.v8`, id } } : {});
    if (entry) {
      this.hits++;
      if (entry.filtered) options.matcher?.onFiltered?.(entry.filtered);
      const loadsModules = entry.loadsModules;
      return entry.status === "instrumented" ? { status: "instrumented", code: entry.body, loadsModules, ...slot(entry.id, entry.dynamicImport) } : { status: entry.status, code, reason: entry.body, loadsModules };
    }
    this.misses++;
    // A large source's parse pages are mapped on a libuv thread meanwhile (oxc-raw.ts), while
    // this thread scans the text for evaluators (loads-modules.ts), which it does in any case.
    prefaultParse(code, file);
    const scratch = entryScratch(code);
    const evaluator = hasEvaluatorText(code);
    const result: Instrumented = instrument(code, file, { ...options, sourceDigest: digest });
    // A parser that could not be loaded says nothing about the file: the next start tries again.
    const loadsModules = loadsModulesOf(result, code, evaluator);
    if (result.status === "failed" && result.unavailable) return { ...result, loadsModules };
    const dynamicImport = result.status === "instrumented" && result.dynamicImport === true;
    const flags = `${dynamicImport ? ` ${IMPORT_FLAG}` : ""}${loadsModules ? ` ${ESM_FLAG}` : ""}`;
    const id = write(path, `${result.status}${flags}`, result.status === "instrumented" ? result.code : result.reason, result.status === "failed" ? undefined : result.filtered, this.writesLater, scratch);
    return result.status === "instrumented" ? { status: "instrumented", code: result.code, loadsModules, ...slot(id, dynamicImport), ...(result.wrapped === undefined ? {} : { wrapped: result.wrapped }) } : { ...result, loadsModules };
  }
}

/**
 * An entry is one line "scope-transform <status>[ import] <id>[\t<names>]" and the body
 * (code, or the reason); "import": the code has an `import()` expression or a direct eval;
 * "esm": the source could load an ES module (loads-modules.ts);
 * names: the function names a function-name glob left out (selection.ts).
 */
const HEADER = "scope-transform ";
const IMPORT_FLAG = "import";
/** The source could load an ES module (loads-modules.ts). */
const ESM_FLAG = "esm";

/** A hit refreshes the entry's mtime (its recency for pruning) when older than this. */
const TOUCH_AFTER_MS = 60 * 60 * 1000;

function touchIfOld(fd: number): void {
  try {
    const now = Date.now();
    if (now - fstatSync(fd).mtimeMs > TOUCH_AFTER_MS) futimesSync(fd, now / 1000, now / 1000);
  } catch {
    // Not ours to change (a read-only cache): the entry only looks older than it is.
  }
}

function read(path: string, touch = false): { status: Cached["status"]; id: string; dynamicImport: boolean; loadsModules: boolean; body: string; filtered?: string[] } | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(fd, "utf8");
    if (touch) touchIfOld(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  const newline = text.indexOf("\n");
  // "<status>[ import][ esm] <id>", then "\t<JSON names a function-name glob left out>" (selection.ts) or nothing.
  const [head, names] = text.slice(HEADER.length, newline).split("\t", 2) as [string, string | undefined];
  const words = head.split(" ");
  const status = words[0];
  const flags = words.slice(1, -1);
  const dynamicImport = flags.includes(IMPORT_FLAG);
  const loadsModules = flags.includes(ESM_FLAG);
  const id = words.length > 1 ? (words[words.length - 1] ?? "") : "";
  if (!text.startsWith(HEADER) || (status !== "instrumented" && status !== "unchanged" && status !== "failed")) return undefined;
  let filtered: string[] | undefined;
  try {
    filtered = names === undefined ? undefined : (JSON.parse(names) as string[]);
  } catch {
    filtered = undefined;
  }
  return { status, id, dynamicImport, loadsModules, body: text.slice(newline + 1), filtered };
}

/** Writes an entry under a fresh id; returns the id, or "" when it could not be written. */
function write(path: string, status: string, body: string, filtered: string[] | undefined, later: boolean, scratch?: Buffer): string {
  const id = randomBytes(12).toString("hex");
  const data = [entryBytes(`${HEADER}${status} ${id}${filtered ? `\t${JSON.stringify(filtered)}` : ""}\n`, body, scratch)];
  if (later) {
    writeLater(path, data);
    return id;
  }
  return writeAtomically(path, data) ? id : "";
}

/**
 * The header line and the body as UTF-8 in one buffer, each encoded where it goes: the two
 * as one string would be a cons string, flattened (the body copied: typescript.js's 11.7 MB,
 * fresh pages) before it is encoded.
 */
function entryBytes(head: string, body: string, scratch?: Buffer): Buffer {
  const headBytes = Buffer.byteLength(head);
  const length = headBytes + Buffer.byteLength(body);
  // The prefaulted buffer when the entry fits it and fills most of it (entryScratch).
  const bytes = scratch && length <= scratch.length && length >= scratch.length / 4 ? scratch.subarray(0, length) : Buffer.allocUnsafe(length);
  bytes.write(head, 0);
  bytes.write(body, headBytes);
  return bytes;
}

function temporaryName(path: string): string {
  return `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
}

/** `data`: the file's bytes in order (a header apart from what follows it: no copy of both into one). */
function writeAtomically(path: string, data: Uint8Array[]): boolean {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = temporaryName(path);
    if (data.length === 1) writeFileSync(temporary, data[0]!, { mode: 0o600 });
    else {
      const fd = openSync(temporary, "w", 0o600);
      try {
        for (const chunk of data) for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(temporary, path);
    return true;
  } catch {
    // A read-only or full cache: the next start transforms again.
    return false;
  }
}

/**
 * For a large source (prefaultParse's sizes): the buffer its entry will be encoded into,
 * allocated now with room for twice the source, its first 1.4x (the calls level's output is
 * ~1.3x, the full level's ~1.9x) mapped on a libuv thread while the transform runs (the
 * pages an 11.7 MB entry is written into were ~2,850 faults of the main thread), or undefined.
 */
function entryScratch(code: string): Buffer | undefined {
  const prefault = prefaultFunction();
  if (!prefault || code.length < PREFAULT_SOURCE_MIN || code.length > ENTRY_BYTES_MAX) return undefined;
  try {
    const scratch = Buffer.allocUnsafeSlow(code.length * 2 + 4096);
    prefault(scratch, 0, Math.ceil(code.length * 1.4));
    return scratch;
  } catch {
    return undefined;
  }
}

/** Entries being written by writeLater: path → its data and temporary file. */
const inFlight = new Map<string, InFlight>();

interface InFlight {
  data: Uint8Array[];
  temporary: string;
  /** Written again by finishWrites at exit: its own write is left alone. */
  abandoned?: boolean;
}
let exitHooked = false;

/**
 * writeAtomically with the write itself on a libuv thread: the temporary file is made and
 * opened here, its bytes written by one fs.write that runs while the program goes on
 * (typescript.js's 11.7 MB entry and its 4 MB code cache kept a first start's main thread
 * ~60 ms in write(2), BENCHMARKS.md); closed and renamed into place on a later turn of the
 * event loop. Entries still in flight when the process (or worker) exits are written
 * synchronously then, from the 'exit' event, so a program that ends before its loop turns,
 * or calls process.exit(), still leaves them; one killed first leaves none (the next start
 * transforms again; a temporary left behind is pruned).
 */
function writeLater(path: string, data: Uint8Array[]): void {
  const temporary = temporaryName(path);
  let fd: number;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    fd = openSync(temporary, "w", 0o600);
  } catch {
    return; // A read-only or full cache: the next start transforms again.
  }
  const entry: InFlight = { data, temporary };
  inFlight.set(path, entry);
  if (!exitHooked && typeof process === "object" && typeof process.on === "function") {
    exitHooked = true;
    process.on("exit", finishWrites);
  }
  const end = (renamed: boolean) => {
    if (inFlight.get(path) === entry) inFlight.delete(path);
    try {
      closeSync(fd);
      if (renamed) renameSync(temporary, path);
      else unlinkSync(temporary);
    } catch {
      remove(temporary);
    }
  };
  // The chunks one after the other, each in as many writes as it takes.
  const from = (chunk: number, offset: number) => {
    const bytes = data[chunk]!;
    writeFd(fd, bytes, offset, bytes.length - offset, null, (error, written) => {
      if (entry.abandoned) return;
      // A later write of the same path (the file transformed again meanwhile) wins: this one goes.
      if (error || inFlight.get(path) !== entry) return end(false);
      if (offset + written < bytes.length) return written > 0 ? from(chunk, offset + written) : end(false);
      if (chunk + 1 < data.length) return from(chunk + 1, 0);
      end(true);
    });
  };
  try {
    from(0, 0);
  } catch {
    end(false);
  }
}

/**
 * At exit: the entries writeLater has not finished, written again now under another name
 * (their descriptors are left open: a write may still be running on one, and a closed number
 * could be reused by the file written here; the process's end closes them).
 */
function finishWrites(): void {
  const entries = [...inFlight];
  inFlight.clear();
  for (const [path, entry] of entries) {
    const { data, temporary } = entry;
    entry.abandoned = true;
    writeAtomically(path, data);
    remove(temporary);
  }
}

/** The code cache file starts with this and the entry's id, then a newline and V8's data. */
const CODE_CACHE_HEADER = "scope-v8 ";

/** V8's cached data for the slot's entry, or undefined (none yet, made for another entry, unreadable). */
export function readCodeCache(slot: CodeCacheSlot): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(slot.path, "r");
  } catch {
    return undefined;
  }
  try {
    const data = readFileSync(fd);
    const header = `${CODE_CACHE_HEADER}${slot.id}\n`;
    if (data.length <= header.length || data.toString("latin1", 0, header.length) !== header) return undefined;
    touchIfOld(fd);
    return data.subarray(header.length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Stores V8's cached data for the slot's entry (replacing any older one); `later`: writeLater. */
export function writeCodeCache(slot: CodeCacheSlot, data: Uint8Array, later = false): void {
  // Written after its header, not copied behind it into one buffer (typescript.js's is ~4.7 MB).
  const file = [Buffer.from(`${CODE_CACHE_HEADER}${slot.id}\n`, "latin1"), data];
  if (later) writeLater(slot.path, file);
  else writeAtomically(slot.path, file);
}

/** The default bound of the transform cache; SCOPE_TRANSFORM_CACHE_MAX overrides it. */
export const TRANSFORM_CACHE_MAX_DEFAULT = 256 * 1024 * 1024;
export const TRANSFORM_CACHE_MAX_ENV = "SCOPE_TRANSFORM_CACHE_MAX";

/**
 * The bound in `env` (SCOPE_TRANSFORM_CACHE_MAX: a size such as 64MiB, or 0 for no cache),
 * or the default with a warning when it is not a size.
 */
export function transformCacheLimit(env: Record<string, string | undefined> = process.env): { bytes: number; warning?: string } {
  const text = env[TRANSFORM_CACHE_MAX_ENV]?.trim();
  if (text === undefined || text === "") return { bytes: TRANSFORM_CACHE_MAX_DEFAULT };
  if (/^0+\s*[a-z]*$/i.test(text)) return { bytes: 0 };
  const bytes = parseSize(text);
  if (bytes !== undefined) return { bytes };
  return { bytes: TRANSFORM_CACHE_MAX_DEFAULT, warning: `${TRANSFORM_CACHE_MAX_ENV}: expected a size such as 256MiB (0: no cache), got "${text}"; using 256MiB` };
}

export interface PruneResult {
  /** Entries and their bytes before pruning (every transforms-* directory). */
  entries: number;
  bytes: number;
  removed: number;
  removedBytes: number;
}

/** A writer's temporary file older than this was left by a process that died mid-write. */
const TEMPORARY_STALE_MS = 60 * 60 * 1000;

/**
 * Keeps the transform caches under `maxBytes`: `dir` (this version's) and its sibling
 * `transforms-*` directories of other versions, only directories owned by this user and
 * only files whose names are entries (64 hex digits), their code caches (`.v8`) or their
 * temporaries. When the total
 * is over the bound, the least recently used entries are removed until it is under 3/4
 * of it (so the next start does not prune again); emptied shards and emptied directories
 * of other versions are removed too. Errors are skipped: pruning never stops a run.
 */
export function pruneTransformCache(dir: string, maxBytes: number, now = Date.now()): PruneResult {
  const result: PruneResult = { entries: 0, bytes: 0, removed: 0, removedBytes: 0 };
  const uid = process.getuid?.();
  const owned = (path: string) => {
    try {
      const stat = lstatSync(path);
      return stat.isDirectory() && (uid === undefined || stat.uid === uid);
    } catch {
      return false;
    }
  };
  const root = dirname(dir);
  let caches: string[];
  try {
    caches = readdirSync(root).filter((name) => name.startsWith("transforms-")).map((name) => join(root, name));
  } catch {
    return result;
  }
  const files: { path: string; size: number; used: number }[] = [];
  const shards: string[] = [];
  for (const cache of caches) {
    if (!owned(cache)) continue;
    for (const shard of list(cache)) {
      const shardPath = join(cache, shard);
      if (!/^[0-9a-f]{2}$/.test(shard) || !owned(shardPath)) continue;
      shards.push(shardPath);
      for (const name of list(shardPath)) {
        const path = join(shardPath, name);
        const isEntry = /^[0-9a-f]{64}(\.v8)?$/.test(name);
        const isTemporary = /^[0-9a-f]{64}\..+\.tmp$/.test(name);
        if (!isEntry && !isTemporary) continue;
        let stat;
        try {
          stat = lstatSync(path);
        } catch {
          continue;
        }
        if (!stat.isFile()) continue;
        if (isTemporary) {
          if (now - stat.mtimeMs > TEMPORARY_STALE_MS) remove(path);
          continue;
        }
        files.push({ path, size: stat.size, used: stat.mtimeMs });
      }
    }
  }
  result.entries = files.length;
  result.bytes = files.reduce((sum, file) => sum + file.size, 0);
  if (result.bytes > maxBytes) {
    const target = Math.floor((maxBytes * 3) / 4);
    files.sort((a, b) => a.used - b.used);
    let total = result.bytes;
    for (const file of files) {
      if (total <= target) break;
      if (!remove(file.path)) continue;
      total -= file.size;
      result.removed++;
      result.removedBytes += file.size;
    }
  }
  // Empty shards, then other versions' empty directories (rmdir refuses a non-empty one).
  for (const shard of shards) if (list(shard).length === 0) removeDir(shard);
  for (const cache of caches) if (basename(cache) !== basename(dir) && owned(cache) && list(cache).length === 0) removeDir(cache);
  return result;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function remove(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

function removeDir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // Not empty (a writer just added an entry) or already gone.
  }
}

/**
 * `scope run`, once at start, in scope's own process: bounds the caches next to `dir`
 * (pruneTransformCache) and returns the directory to hand the program, or undefined when
 * SCOPE_TRANSFORM_CACHE_MAX is 0 (no cache: every entry removed, none written).
 */
export function boundTransformCache(dir: string, warn: (line: string) => void, env: Record<string, string | undefined> = process.env): string | undefined {
  const limit = transformCacheLimit(env);
  if (limit.warning) warn(`scope: ${limit.warning}\n`);
  pruneTransformCache(dir, limit.bytes);
  return limit.bytes === 0 ? undefined : dir;
}
