/** Event filters for `scope dump`: by pid, thread, kind and time window. */
import { EventKind } from "../core/layout";
import type { TraceEvent } from "../core/model";

export interface EventFilter {
  pids?: number[];
  tids?: number[];
  kinds?: string[];
  /** Window bounds in ns since the trace's start, inclusive. */
  sinceNs?: bigint;
  untilNs?: bigint;
}

export function matches(filter: EventFilter, event: TraceEvent, startNs: bigint): boolean {
  if (filter.pids && !filter.pids.includes(event.pid)) return false;
  if (filter.tids && !filter.tids.includes(event.tid)) return false;
  if (filter.kinds && !filter.kinds.some((kind) => event.kind === kind || event.kind.startsWith(`${kind}_`))) return false;
  const relative = event.timestampNs - startNs;
  if (filter.sinceNs !== undefined && relative < filter.sinceNs) return false;
  if (filter.untilNs !== undefined && relative > filter.untilNs) return false;
  return true;
}

// Not invalid nor string: the dump never shows either.
const kindNames = Object.keys(EventKind).filter((name) => name !== "invalid" && name !== "string");

/** The groups --kind takes besides whole kinds: the kinds' first words (message, function, http, ...). */
export const kindGroups = [...new Set(kindNames.map((name) => name.split("_")[0]!))];

/**
 * The first --kind item that matches no kind (as `matches` reads it: the kind itself, or a
 * prefix of whole words such as message or http_server) and is no kind_<number> of a
 * newer trace; undefined when every item names something. A misspelt kind matched nothing
 * and the dump was empty, with status 0.
 */
export function unknownKind(kinds: string[]): string | undefined {
  return kinds.find((kind) => !/^kind_\d+$/.test(kind) && !kindNames.some((name) => name === kind || name.startsWith(`${kind}_`)));
}

