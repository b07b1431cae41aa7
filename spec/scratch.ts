/**
 * Temporary directories for one test file, removed when its tests end (bun test runs no
 * process 'exit' listener, so the removal is the file's afterAll). SCOPE_KEEP_SCRATCH=1 keeps
 * them for a look after a failure.
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Call at a test file's top level: returns a maker of fresh directories named `prefix…`. */
export function scratchDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    if (process.env.SCOPE_KEEP_SCRATCH) return;
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
