/**
 * How a trace file ended, and what every command that reads one (dump, export, query, top,
 * merge, view) says about it and exits with; the one place that decides:
 *
 * - closed (its end chunk is there): nothing said, status 0;
 * - not closed but intact (no end chunk: still being written, or the scope that recorded it
 *   was killed, SIGKILL or a crash, before it finished the file): everything in it is used,
 *   one stderr line says so, status 0 (UNCLOSED_STATUS): nothing recorded is missing from
 *   what the command made, only the end chunk's totals are;
 * - damaged (a chunk cut short or corrupt: a truncated copy, a full disk): what comes before
 *   the damage is used, one line says where and why it stopped, status 2 (DAMAGED_STATUS);
 * - a header that cannot be read (not a trace, cut inside its header): nothing is used,
 *   one line (the TraceFileError's message, src/cli/main.ts), status 1.
 *
 * README.md says the same ("Every command that reads a trace").
 */

/** A trace not closed but intact: what it holds is all there. */
export const UNCLOSED_STATUS = 0;
/** A damaged or truncated trace: what follows the damage is missing. */
export const DAMAGED_STATUS = 2;

/** Where and why reading stopped early, as the reader reports it (trace-file.ts TraceReadError). */
export interface TraceDamage {
  reason: string;
  offset: number;
}

/** "truncated chunk at byte 832": a damage in words (kept so in merged traces and the query cache). */
export function damageText(damage: TraceDamage): string {
  return `${damage.reason} at byte ${damage.offset}`;
}

/** How a read ended: `damage` (damageText's words) or null; `closed`: the end chunk was read. */
export interface TraceEnding {
  damage: string | null;
  closed: boolean;
}

/** The ending of a reader that has `error` (null: whole) and `end` (null: not closed). */
export function endingOf(trace: { error: TraceDamage | null; end: unknown }): TraceEnding {
  return { damage: trace.error ? damageText(trace.error) : null, closed: trace.end !== null && trace.end !== undefined };
}

/**
 * What a command says (one line, without "scope: ") and its exit status for a trace that
 * ended so: `count` `noun` (e.g. 4 "events") were `done` (e.g. "shown").
 */
export function endingNotice(path: string, ending: TraceEnding, used: { count: number; noun?: string; done: string }): { line: string | null; status: number } {
  const noun = used.noun ?? "events";
  if (ending.damage !== null) return { line: `${path}: ${ending.damage}; the ${used.count} ${noun} before it were ${used.done}`, status: DAMAGED_STATUS };
  if (!ending.closed) return { line: `${path}: ${UNCLOSED_WHY}; all ${used.count} ${noun} in it were ${used.done}`, status: UNCLOSED_STATUS };
  return { line: null, status: 0 };
}

/** Why a trace has no end chunk, in the words every command uses. */
export const UNCLOSED_WHY = "trace was not closed (no end chunk: still being written, or the scope that recorded it was killed, or its write failed where the file system could keep no room for the end: then scope run said so)";
