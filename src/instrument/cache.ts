/**
 * The transform cache: what `instrument()` made of a file, kept on disk so the next start
 * of the program pays a hash instead of a parse. Keyed by the SHA-256 of everything the
 * result depends on: scope's version, the settings (and NODE_ENV, which picks the default
 * level), the file's name as the source map gives it, the module goal, and the source.
 * The directory is the private cache scope created (0700, src/core/assets.ts cacheRoot);
 * scope passes it in SCOPE_TRANSFORM_CACHE. Entries are written to a temporary name and
 * renamed, so a concurrent reader (another process of the tree) sees a whole entry or none.
 * A cache that cannot be read or written is skipped: the file is transformed as usual.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../version";
import { instrument, type InstrumentOptions, type Instrumented } from "./instrument";

/** Sources larger than this are not cached (one entry must not fill the disk). */
const ENTRY_BYTES_MAX = 64 * 1024 * 1024;

/** `instrument` through `cache` when there is one. */
export function instrumentVia(cache: TransformCache | undefined, code: string, file: string, options: InstrumentOptions): Cached {
  return cache ? cache.instrument(code, file, options) : instrument(code, file, options);
}

/** A cache in `dir` for these settings, or none when there is no directory or it cannot be made. */
export function openTransformCache(dir: string | undefined, settings: unknown): TransformCache | undefined {
  if (!dir) return undefined;
  try {
    return new TransformCache(dir, settings);
  } catch {
    return undefined;
  }
}

/** What a cached entry holds: enough for the hooks, without the function list or the map object. */
export type Cached = { status: "instrumented"; code: string } | { status: "unchanged"; code: string; reason: string } | { status: "failed"; code: string; reason: string };

/**
 * What the emitted code looks like, in the key next to scope's version so a change of
 * transform.ts/print.ts between releases (a development build) does not reuse old
 * entries. 2: stateful `this` arguments and the listeners argument of the table call.
 */
const TRANSFORM_FORMAT = 2;

/** The settings the transform depends on: the hot-function guard's are read at run time only. */
function transformSettings(settings: unknown): unknown {
  if (settings === null || typeof settings !== "object") return settings;
  const { hotCallsPerSecond: _limit, hotSample: _sample, ...rest } = settings as Record<string, unknown>;
  return rest;
}

export class TransformCache {
  hits = 0;
  misses = 0;
  private readonly settingsKey: string;

  constructor(
    readonly dir: string,
    settings: unknown,
  ) {
    this.settingsKey = JSON.stringify([VERSION, TRANSFORM_FORMAT, transformSettings(settings), process.env.NODE_ENV ?? ""]);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  key(code: string, file: string, options: InstrumentOptions): string {
    const hash = createHash("sha256");
    hash.update(this.settingsKey).update("\0").update(options.sourceName ?? file).update("\0").update(String(options.module)).update("\0").update(code);
    return hash.digest("hex");
  }

  /** `instrument(code, file, options)`, from the cache when this exact input was seen. */
  instrument(code: string, file: string, options: InstrumentOptions): Cached {
    if (code.length > ENTRY_BYTES_MAX) return instrument(code, file, options);
    const key = this.key(code, file, options);
    const path = join(this.dir, key.slice(0, 2), key);
    const entry = read(path);
    if (entry) {
      this.hits++;
      return entry.status === "instrumented" ? { status: "instrumented", code: entry.body } : { status: entry.status, code, reason: entry.body };
    }
    this.misses++;
    const result: Instrumented = instrument(code, file, options);
    write(path, result.status, result.status === "instrumented" ? result.code : result.reason);
    return result;
  }
}

/** An entry is one line "scope-transform <status>" and the body (code, or the reason). */
const HEADER = "scope-transform ";

function read(path: string): { status: Cached["status"]; body: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const newline = text.indexOf("\n");
  const status = text.slice(HEADER.length, newline);
  if (!text.startsWith(HEADER) || (status !== "instrumented" && status !== "unchanged" && status !== "failed")) return undefined;
  return { status, body: text.slice(newline + 1) };
}

function write(path: string, status: Cached["status"], body: string): void {
  try {
    const dir = join(path, "..");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(temporary, `${HEADER}${status}\n${body}`, { mode: 0o600 });
    renameSync(temporary, path);
  } catch {
    // A read-only or full cache: the next start transforms again.
  }
}
