/** Parsing helpers for `scope run` options. */

import { DEFAULT_EVENT_GROUPS } from "../agent/shared/sink";
import { parseDurationNs } from "../core/duration";

const sizeUnits: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** "16MiB" → 16777216; undefined when malformed or not a positive whole number of bytes. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = sizeUnits[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/**
 * --ring-size of scope run, attach and bench, checked: undefined when malformed or too big.
 * The ring (zig/ring.zig total_size_bytes_max) is at most 4 GiB with its headers, so its 16
 * lanes hold at most 2 GiB; a size below 4 GiB rounds down to that (src/run/collector.ts),
 * one of 4 GiB or more made Ring.create fail as if tracing could not start.
 */
export function parseRingSize(text: string): number | undefined {
  const bytes = parseSize(text);
  return bytes !== undefined && bytes < 4 * 1024 ** 3 ? bytes : undefined;
}

/** --ring-size's usage error text. */
export const ringSizeError = (text: string) => `--ring-size: expected a size below 4GiB such as 16MiB, got "${text}"`;

/** "30s" → 30000, "1.5m" → 90000, "250ms" → 250 (ms); undefined when malformed, bare or under 1 ms. */
export function parseDuration(text: string): number | undefined {
  const ns = parseDurationNs(text);
  if (ns === undefined) return undefined;
  const ms = Number(ns) / 1e6;
  return Number.isFinite(ms) && ms >= 1 ? Math.round(ms) : undefined;
}

/** `--events` groups (SCOPE_EVENTS); src/agent/shared/sink.ts parseGroups reads them in the agents. */
export const eventGroups = ["process", "thread", "message", "http", "db", "loop", "memory"] as const;

/** The groups recorded when --events is not given: all but loop and memory (opt-in: --events +loop,+memory), set in src/agent/shared/sink.ts. */
export const defaultEventGroups: readonly string[] = DEFAULT_EVENT_GROUPS.split(",");

/**
 * --events as the groups to record: a list names them all ("message,http"); a list whose
 * every item starts with "+" or "-" changes the defaults ("+loop,+memory", "-http,-db");
 * "all" is every group. Returns what is wrong instead: an unknown name, or a list that mixes
 * named groups with changes to the defaults.
 */
export function parseEventGroups(text: string): string[] | { error: string } {
  const items = text.split(",").map((group) => group.trim()).filter(Boolean);
  if (items.length === 0) return { error: `expected a group (groups: ${eventGroups.join(",")}, or all)` };
  const changes = items.filter((item) => item.startsWith("+") || item.startsWith("-"));
  if (changes.length > 0 && changes.length < items.length) {
    return { error: `"${text}" mixes groups with +/- changes to the defaults; use either a list of groups or only +group/-group items` };
  }
  const named = (item: string) => (changes.length > 0 ? item.slice(1) : item);
  const expand = (name: string) => (name === "all" ? [...eventGroups] : [name]);
  const unknown = items.map(named).flatMap(expand).find((group) => !(eventGroups as readonly string[]).includes(group));
  if (unknown !== undefined) return { error: `unknown group "${unknown}" (groups: ${eventGroups.join(",")}, or all)` };
  if (changes.length === 0) return [...new Set(items.flatMap(expand))];
  const groups = new Set(defaultEventGroups);
  for (const item of items) for (const group of expand(named(item))) item.startsWith("+") ? groups.add(group) : groups.delete(group);
  return eventGroups.filter((group) => groups.has(group));
}
