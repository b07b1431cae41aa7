/**
 * Where a command that writes a trace (`scope run`, `scope attach`) may write it: the
 * directory exists, the path is no directory, and a file already there is a scope trace (its
 * first 8 bytes "SCOPETRC", zig/trace_file.zig `file_magic`) or empty. Anything else (a
 * source file, a log someone typed as `--out`) is refused, never overwritten.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";

const TRACE_MAGIC = "SCOPETRC";

/** Why `out` (an absolute path) cannot take a trace, as the rest of a `--out: ` line; undefined when it can. */
export function traceOutProblem(out: string): string | undefined {
  if (!existsSync(dirname(out))) return `directory ${dirname(out)} does not exist`;
  if (!existsSync(out)) return undefined;
  const stats = statSync(out);
  if (stats.isDirectory()) return `${out} is a directory`;
  if (!stats.isFile() || stats.size === 0) return undefined;
  const head = Buffer.alloc(TRACE_MAGIC.length);
  let fd: number | undefined;
  try {
    fd = openSync(out, "r");
    readSync(fd, head, 0, head.length, 0);
  } catch {
    return undefined; // unreadable: the writer says why when it opens it
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (head.toString("latin1") === TRACE_MAGIC) return undefined;
  return `${out} exists and is not a scope trace; not overwritten (remove it or give another --out)`;
}
