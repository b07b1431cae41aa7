/** `scope dump`: read a trace, interpret it, filter, and write it in the chosen format. */
import chalk, { Chalk, type ChalkInstance } from "chalk";
import type { Writable } from "node:stream";
import { collectorsOf, mergedSources, type MergedSource, type TraceEvent } from "../core/model";
import { CLOSED_PIPE_STATUS, Output } from "../core/output";
import { endingNotice, endingOf, type TraceDamage } from "../core/trace-ending";
import { ChromeAhead, chromeEvents, LIGHT_CHROME_KINDS } from "./chrome";
import { matches, type EventFilter } from "./filter";
import { eventToJson } from "./json";
import { LIGHT_CALLS, LIGHT_KINDS, scanTrace, TraceStream } from "./stream";
import { MessagePairs, StatsCounter } from "./stats";
import { formatEventLine } from "./text";
import { whyLines, whyProblem } from "./why";
import { Causes } from "../core/why";
import { counted } from "../core/counted";

export type DumpFormat = "text" | "json" | "chrome" | "stats";

export interface DumpOptions {
  path: string;
  format: DumpFormat;
  filter: EventFilter;
  stdout: Writable;
  stderr: Writable;
  colorEnabled: boolean;
  /** --why <event#>: only that event's chain of causes (text or json), the filter ignored. */
  why?: string;
  /** Records read at a time by the streaming dump (spec: small, so links cross reads). */
  batchRecords?: number;
}

/**
 * Exit status: how the trace ended (core/trace-ending.ts: 0 for a whole one, closed or not,
 * 2 when it stopped at a damaged or truncated part), CLOSED_PIPE_STATUS (141, quietly) when
 * the reader closed stdout early (`| head`).
 */
export async function dumpTrace(options: DumpOptions): Promise<number> {
  const color = options.colorEnabled ? chalk : new Chalk({ level: 0 });
  if (options.format === "stats" && options.why === undefined) return dumpStats(options);
  if ((options.format === "text" || options.format === "json") && options.why === undefined) return dumpStreamed(options, color);
  if (options.why === undefined) return dumpChrome(options);
  // --why: the chain over the streamed events (core/why.ts whyChain: their causes from the link
  // pass and a walk, then a walk for the chain's own; "scope export --perfetto, dump --chrome and --why in
  // bounded memory", BENCHMARKS.md). The event number is checked by a scan first (holding
  // only the strings: an event past the end is said in 344 MB, not the stream's 788 MB).
  const problem = whyProblem(options.why, scanTrace(options.path, () => {}, undefined, true).events);
  if (problem !== undefined) {
    new Output(options.stderr).writeNow(`scope: ${problem}\n`);
    return 1;
  }
  const stream = new TraceStream(options.path, options.batchRecords);
  // What the first walk kept (the indexes of starts, spawns, first runs and resolves) gathered in the link pass.
  const causes = new Causes(undefined, stream.trace.events);
  // Causes.add reads nothing of calls, returns, ... but their kind: read from their bytes (linkEvents).
  stream.link(undefined, { event: causes.add }, LIGHT_KINDS);
  const { startNs, events: count } = stream.trace;
  const out = new Output(options.stdout);
  for (const text of whyLines({ walk: () => stream.events(true), count, causes }, stream.at, Number(options.why), startNs, color, options.format === "json")) out.add(`${text}\n`);
  await out.flush();
  if (out.closed) return CLOSED_PIPE_STATUS;
  // The chain is over the events read; said as the dump says it (core/trace-ending.ts).
  const { line, status } = endingNotice(options.path, endingOf(stream.trace), { count, done: "searched for the chain" });
  if (line) new Output(options.stderr).writeNow(`scope: ${line}\n`);
  return status;
}

/**
 * --chrome: one JSON document, written as its parts are made: each part a walk over the
 * streamed events (chrome.ts chromeEvents), none held ("scope export --perfetto, dump
 * --chrome and --why in bounded memory", BENCHMARKS.md).
 */
async function dumpChrome(options: DumpOptions): Promise<number> {
  const stream = new TraceStream(options.path, options.batchRecords);
  const { startNs } = stream.trace;
  // The first walk's figures gathered in the link pass (the filter is kind, thread and time: the same there).
  const ahead = new ChromeAhead();
  stream.link(undefined, ahead.watch((event) => matches(options.filter, event, startNs)), LIGHT_CALLS);
  const out = new Output(options.stdout);
  const shown = function* (light?: ReadonlySet<number>) {
    for (const event of stream.events(true, light)) if (matches(options.filter, event, startNs)) yield event;
  };
  out.add('{"traceEvents":[');
  let first = true;
  for (const event of chromeEvents(shown, startNs, collectorsOf(stream.header.collectorPid, stream.trace.sources), ahead.exact ? ahead : undefined, () => shown(LIGHT_CHROME_KINDS))) {
    out.add(first ? JSON.stringify(event) : `,${JSON.stringify(event)}`);
    first = false;
    if (out.full && !(await out.flush())) break;
  }
  out.add('],"displayTimeUnit":"ns"}\n');
  return finish(options, out, stream.trace, stream.trace.events);
}

/**
 * Text and --json in bounded memory (stream.ts): the same lines as over the whole trace.
 * --why still loads the whole trace (a chain of causes that may lead anywhere back).
 */
async function dumpStreamed(options: DumpOptions, color: ChalkInstance): Promise<number> {
  // --json: requests' changes are recorded from pass 2's records, so no request holds its lines (stream.ts requestsAhead).
  const stream = new TraceStream(options.path, options.batchRecords, options.format === "json");
  const { header, startNs } = stream.trace;
  const out = new Output(options.stdout);
  const line = async (text: string): Promise<boolean> => {
    out.add(text);
    return !out.full || (await out.flush());
  };
  if (options.format === "json") {
    // Each event as soon as pass 3 has read past what may change it (stream.ts linkedEvents).
    for (const event of stream.linkless ? stream.events() : stream.linkedEvents(undefined)) if (matches(options.filter, event, startNs) && !(await line(`${eventToJson(event, startNs)}\n`))) break;
  } else {
    out.add(color.dim(`# ${options.path}: ${header.argv.join(" ")} on ${header.hostName}, started ${header.startTime.toISOString()}\n`));
    for (const source of mergedSources(stream.trace.sources)) out.add(color.dim(`# ${describeSource(source)}\n`));
    if (stream.linkless) {
      // Nothing links nor nests (a --functions trace without requests, messages, queries):
      // each line in the events' order as it is read, no pass 3, no place to wait for.
      for (const event of stream.events()) if (matches(options.filter, event, startNs) && !(await line(`${formatEventLine(event, startNs, stream.at, color, 0)}\n`))) break;
      return finish(options, out, stream.trace, stream.trace.events);
    }
    // Lines in the nesting's order: one written early waits for its place. Until pass 3 has
    // read every event (stream.linked), those given lie before any request (linkedEvents):
    // nothing nests under them and they are the nesting's first, written as they come.
    let nesting: { order: Uint32Array; depth: Uint32Array; place: Int32Array } | undefined;
    let written = 0;
    const waiting = new Map<number, string>();
    let next = 0;
    reading: for (const event of stream.linkedEvents(options.filter)) {
      if (!stream.linked) {
        if (!matches(options.filter, event, startNs)) continue;
        written++;
        if (!(await line(`${formatEventLine(event, startNs, stream.at, color, 0)}\n`))) break;
        continue;
      }
      if (nesting === undefined) {
        const { order, depth } = stream.nesting();
        const place = new Int32Array(stream.trace.events).fill(-1);
        for (let i = written; i < order.length; i++) place[order[i]!] = i;
        nesting = { order, depth, place };
        next = written;
      }
      const { depth, place } = nesting;
      const at = place[event.index]!;
      if (at < 0) continue;
      waiting.set(at, `${formatEventLine(event, startNs, stream.at, color, depth[at])}\n`);
      for (let text = waiting.get(next); text !== undefined; text = waiting.get(next)) {
        waiting.delete(next++);
        if (!(await line(text))) break reading;
      }
    }
  }
  return finish(options, out, stream.trace, stream.trace.events);
}

/** The end of a dump: status 141 for a closed reader, else how the trace ended (core/trace-ending.ts). */
async function finish(options: DumpOptions, out: Output, trace: { error: TraceDamage | null; end: unknown }, events: number): Promise<number> {
  await out.flush();
  if (out.closed) return CLOSED_PIPE_STATUS;
  const { line, status } = endingNotice(options.path, endingOf(trace), { count: events, done: "shown" });
  if (line) new Output(options.stderr).writeNow(`scope: ${line}\n`);
  return status;
}

/**
 * --stats in bounded memory: one scan of the trace (stream.ts scanTrace), counting as it reads; what
 * needs the whole trace (message pairing, the merged inputs) is kept per message key and
 * per trace_source, not per event ("scope dump in bounded memory", BENCHMARKS.md).
 */
async function dumpStats(options: DumpOptions): Promise<number> {
  const counter = new StatsCounter();
  const pairs = new MessagePairs();
  const sourceEvents: TraceEvent[] = [];
  let startNs: bigint | undefined;
  const trace = scanTrace(options.path, (event, order) => {
    if (event.kind === "trace_source") sourceEvents.push(event);
    const counted = matches(options.filter, event, startNs!);
    if (counted) counter.add(event, order);
    pairs.add(event, counted, order);
  }, (header) => (startNs = BigInt(header.monotonicAnchorNs)), true);
  const sources = mergedSources(sourceEvents);
  const collectors = new Set([trace.header.collectorPid, ...sources.flatMap((source) => (source.collectorPid === null ? [] : [source.collectorPid]))]);
  const { unpairedReceives, unreceivedSends } = pairs.unpaired();
  const stats = counter.stats(unpairedReceives, unreceivedSends, collectors);
  const out = new Output(options.stdout);
  out.add(`events: ${stats.events} in ${(Number(stats.durationNs) / 1e6).toFixed(3)}ms, ${counted(stats.processes, "process", "processes")}, ${counted(stats.threads, "thread")}\n`);
  for (const [kind, count] of Object.entries(stats.byKind).sort(([, x], [, y]) => y - x)) out.add(`  ${kind.padEnd(18)} ${count}\n`);
  out.add(`messages: ${stats.unpairedReceives} receives without a send, ${stats.unreceivedSends} sends not received\n`);
  for (const source of sources) out.add(`${describeSource(source)}\n`);
  if (trace.end) out.add(`ring: ${trace.end.written} written, ${trace.end.dropped} dropped, ${trace.end.overwritten} overwritten\n`);
  return finish(options, out, trace, trace.events);
}

/** One input of a merged trace: where it came from, its pids, its clock. */
function describeSource(source: MergedSource): string {
  const pids = source.pidBase === 0 ? "pids as recorded" : `pids +${source.pidBase}`;
  const ms = (ns: number) => `${(ns / 1e6).toFixed(3)}ms`;
  const clock =
    source.source === 0
      ? "reference clock"
      : source.clockBoundNs === null
        ? "clock offset not measured (no request linked to another input): its wall clock as recorded"
        : `clock offset ${source.clockOffsetNs >= 0 ? "+" : "-"}${ms(Math.abs(source.clockOffsetNs))} ± ${ms(source.clockBoundNs)} from ${source.pairs} requests${source.boundsDisagree ? " (their bounds disagree)" : ""}`;
  const state = source.damaged ? ", damaged (its valid records merged)" : source.notClosed ? ", not closed" : "";
  return `input ${source.source}: ${source.path} on ${source.host}, ${pids}, ${clock}${state}`;
}
