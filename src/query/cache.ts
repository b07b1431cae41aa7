/**
 * Where a trace's database is kept, and whether a kept one still describes the trace.
 * Next to the trace (`trace.bin.sqlite`) when its directory is writable (and no other user's
 * file has that name), else in the
 * private cache (src/core/assets.ts cacheRoot, `query/<sha256 of the trace's real path>.sqlite`).
 * A cache holds the schema version and the trace's identity when loaded (size, mtime,
 * inode, and a SHA-256 of its first and last 64 KiB): any difference rebuilds it, so a
 * trace still being written, rewritten or replaced is loaded again.
 */
import { createHash } from "node:crypto";
import { accessSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { cacheRoot } from "../core/assets";

const EDGE_BYTES = 64 * 1024;

export interface TraceIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
  /** SHA-256 of the first and last 64 KiB. */
  fingerprint: string;
}

/** The trace's identity now (throws ENOENT and the like for the caller to word). */
export function traceIdentity(path: string): TraceIdentity {
  const fd = openSync(path, "r");
  try {
    const stat: Stats = fstatSync(fd);
    const hash = createHash("sha256");
    const head = Buffer.alloc(Math.min(EDGE_BYTES, stat.size));
    const headRead = readSync(fd, head, 0, head.byteLength, 0);
    hash.update(head.subarray(0, headRead));
    if (stat.size > EDGE_BYTES) {
      const tail = Buffer.alloc(Math.min(EDGE_BYTES, stat.size - EDGE_BYTES));
      const tailRead = readSync(fd, tail, 0, tail.byteLength, stat.size - tail.byteLength);
      hash.update(tail.subarray(0, tailRead));
    }
    return { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, fingerprint: hash.digest("hex") };
  } finally {
    closeSync(fd);
  }
}

export function sameIdentity(x: TraceIdentity, y: TraceIdentity): boolean {
  return x.size === y.size && x.mtimeMs === y.mtimeMs && x.ino === y.ino && x.fingerprint === y.fingerprint;
}

/**
 * The cache file for `tracePath`: next to it when that directory is writable and no other
 * user's file is there, else private. A `trace.bin.sqlite` of another user (planted in a
 * shared directory such as /tmp, beside someone else's trace) is never read: its rows could
 * say anything while its meta matched the trace, and a sticky directory would refuse to
 * replace it.
 */
export function cachePathFor(tracePath: string): string {
  const beside = `${tracePath}.sqlite`;
  try {
    accessSync(dirname(tracePath), constants.W_OK);
    if (!ownedByOthers(beside)) return beside;
    throw new Error("another user's file");
  } catch {
    const dir = join(cacheRoot(), "query");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = createHash("sha256").update(realpathSync(tracePath)).digest("hex").slice(0, 32);
    return join(dir, `${key}.sqlite`);
  }
}

/** True when `path` exists (not followed if a link) and belongs to another user than this process's. */
export function ownedByOthers(path: string): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return false;
  const stat = lstatSync(path, { throwIfNoEntry: false });
  return stat !== undefined && stat.uid !== uid;
}
