/**
 * The summary's lines about function-tracing patterns that matched nothing (see
 * src/instrument/selection.ts for the records). Read from the closed trace: one pass over
 * the records for the `function_selection` ones, and, only when some pattern matched
 * nothing, a second for the strings its candidates name.
 */
import type { ChalkInstance } from "chalk";
import { EventKind, Offset } from "../core/layout";
import { decodeRecord, StringTable } from "../core/events";
import { recordsOfKind } from "./trace-kind";
import type { MatchConfig } from "../instrument/match";
import { compiledHint } from "./compiled-hint";
import { CANDIDATES_MAX, candidateDistance, Closest, PatternKind, SelectionFlag, selectionPatterns, type Pattern } from "../instrument/selection";
import { counted } from "../core/counted";

export interface UnmatchedPattern {
  pattern: Pattern;
  /** Files (function names, for a function pattern) the threads that reported looked at, summed. */
  looked: number;
  /** Threads that reported it unmatched. */
  threads: number;
  /** The closest candidates any thread saw, closest first. */
  closest: string[];
}

/** Patterns of `settings` (SCOPE_FUNCTIONS JSON) that no thread of the trace at `path` matched. */
export function unmatchedPatterns(path: string, settings: string): UnmatchedPattern[] {
  let config: MatchConfig;
  try {
    config = JSON.parse(settings) as MatchConfig;
  } catch {
    return [];
  }
  const patterns = selectionPatterns(config);
  if (patterns.length === 0) return [];
  const matched = new Set<number>();
  const reports = new Map<number, { looked: number; threads: Set<string>; candidates: { pid: number; tid: number; id: number }[] }>();
  for (const record of selectionRecords(path)) {
    const p = Number(record.a);
    if (!(p >= 0 && p < patterns.length)) continue;
    if ((record.flags & SelectionFlag.unmatched) === 0) {
      matched.add(p);
      continue;
    }
    let report = reports.get(p);
    if (!report) reports.set(p, (report = { looked: 0, threads: new Set(), candidates: [] }));
    const thread = `${record.pid}/${record.tid}`;
    if (!report.threads.has(thread)) {
      report.threads.add(thread);
      report.looked += Number(record.e);
    }
    if (Number(record.c) !== 0) report.candidates.push({ pid: record.pid, tid: record.tid, id: Number(record.c) });
  }
  const unmatched = [...reports.keys()].filter((p) => !matched.has(p)).sort((x, y) => x - y);
  if (unmatched.length === 0) return [];
  const wanted = new Set<string>();
  for (const p of unmatched) for (const c of reports.get(p)!.candidates) wanted.add(`${c.pid}/${c.tid}/${c.id}`);
  const strings = wanted.size > 0 ? stringsOf(path, wanted) : new StringTable();
  return unmatched.map((p) => {
    const report = reports.get(p)!;
    const pattern = patterns[p]!;
    const closest = new Closest(CANDIDATES_MAX);
    for (const c of report.candidates) {
      const text = strings.get(c.pid, c.tid, c.id);
      if (text !== undefined) closest.add(text, candidateDistance(pattern, text));
    }
    return { pattern, looked: report.looked, threads: report.threads.size, closest: closest.items.map((item) => item.text) };
  });
}

/** The function_selection records of a trace, decoded (a damaged trace gives what it has). */
function selectionRecords(path: string): ReturnType<typeof decodeRecord>[] {
  const out: ReturnType<typeof decodeRecord>[] = [];
  recordsOfKind(path, EventKind.function_selection, (batch, offset) => out.push(decodeRecord(batch, offset)));
  return out;
}

/** The strings (pid/tid/id keys) named in `wanted`. */
function stringsOf(path: string, wanted: Set<string>): StringTable {
  const table = new StringTable();
  recordsOfKind(path, EventKind.string, (batch, offset, view) => {
    const id = view.getUint32(offset + Offset.a, true);
    const key = `${view.getUint32(offset + Offset.pid, true)}/${view.getUint32(offset + Offset.tid, true)}/${id}`;
    if (wanted.has(key)) table.add(decodeRecord(batch, offset));
  });
  return table;
}

const what: Record<number, { option: string; nothing: string; looked: string; closest: string }> = {
  [PatternKind.include]: { option: "--include", nothing: "matched no loaded file", looked: "file", closest: "closest loaded paths" },
  [PatternKind.package]: { option: "--package", nothing: "matched no loaded file", looked: "file", closest: "closest loaded" },
  [PatternKind.function]: { option: "--function", nothing: "matched no function", looked: "function", closest: "closest function names" },
};

/** The summary's lines: one per pattern that matched nothing, its closest candidates indented under it. */
export function selectionLines(unmatched: UnmatchedPattern[], color: ChalkInstance, cwd = process.cwd()): string[] {
  const lines: string[] = [];
  for (const entry of unmatched) {
    const words = what[entry.pattern.kind]!;
    const where = counted(entry.threads, "thread");
    const looked = `${entry.looked} ${words.looked}${entry.looked === 1 ? "" : "s"}`;
    lines.push(color.yellow(`  ${words.option} ${shellQuote(entry.pattern.text)} ${words.nothing} (${looked} looked at in ${where})${entry.closest.length > 0 ? `; ${words.closest}:` : ""}`));
    for (const text of entry.closest) lines.push(color.yellow(`    ${text}`));
    // TypeScript sources the program ran compiled: the cause, said instead of node_modules' rule.
    const compiled = entry.pattern.kind === PatternKind.include ? compiledHint(entry.pattern.text, cwd) : undefined;
    if (compiled !== undefined) lines.push(color.yellow(`    ${compiled}`));
    else if (leftOutOfNodeModules(entry)) lines.push(color.yellow(`    (files in node_modules are traced only when the glob names node_modules: --include 'node_modules/**', or --package NAME)`));
  }
  return lines;
}

/**
 * An include glob that does not name node_modules (match.ts: `namesNodeModules`) whose
 * closest loaded paths are in node_modules: `--include '**'` run on a tool from npm (prettier,
 * eslint) lists paths the glob matches as text, and the rule that left them out is said.
 */
function leftOutOfNodeModules(entry: UnmatchedPattern): boolean {
  const glob = entry.pattern.text;
  if (entry.pattern.kind !== PatternKind.include || glob.includes("node_modules") || glob.startsWith("/")) return false;
  return entry.closest.some((text) => /(^|\/)node_modules\//.test(text));
}

function shellQuote(text: string): string {
  return /^[\w@./:+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
