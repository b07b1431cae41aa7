/** Event filters for `scope dump`: by pid, thread, kind and time window. */
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

const units: Record<string, bigint> = { ns: 1n, us: 1_000n, µs: 1_000n, ms: 1_000_000n, s: 1_000_000_000n };

/** Parses "150ms", "2s", "10us", "500" (ns); returns undefined when malformed. */
export function parseDuration(text: string): bigint | undefined {
  const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(text.trim());
  if (!match) return undefined;
  const [, number, unit = "ns"] = match;
  const scale = units[unit]!;
  const [whole, fraction = ""] = number!.split(".");
  const fractionDigits = fraction.padEnd(9, "0").slice(0, 9);
  return BigInt(whole!) * scale + (BigInt(fractionDigits) * scale) / 1_000_000_000n;
}
