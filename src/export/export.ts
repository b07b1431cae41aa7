/** `scope export`: read a trace, interpret it, and write it as Perfetto or OTLP. */
import { closeSync, openSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";
import { collectorsOf, interpret, type TraceEvent } from "../core/model";
import { Output } from "../core/output";
import { endingNotice, endingOf } from "../core/trace-ending";
import { loadTrace, type LoadedTrace } from "../dump/load";
import { TraceStream } from "../dump/stream";
import { OtlpSpanMaker, serializeSpans, type OtlpFormat, type OtlpOptions } from "./otlp";
import { isUrl, sendOtlp } from "./otlp-send";
import { writePerfetto } from "./perfetto";

export type { OtlpFormat };

export interface ExportOptions {
  path: string;
  /** Output file of --perfetto. */
  perfetto?: string;
  otlp?: { target: string; format?: OtlpFormat; functions: boolean; serviceName?: string };
  stdout: Writable;
  stderr: Writable;
  /** Records read at a time by --perfetto's walks (spec: small, so links cross reads). */
  batchRecords?: number;
}

/** Spans per OTLP/HTTP request. */
const SPANS_PER_REQUEST = 2048;

export function otlpOptionsOf(trace: Pick<LoadedTrace, "header">, functions: boolean, serviceName: string | undefined): OtlpOptions {
  const h = trace.header;
  return {
    functions,
    serviceName,
    hostName: h.hostName,
    seed: `${h.hostName}/${h.collectorPid}/${h.realtimeAnchorNs}`,
    monotonicAnchorNs: h.monotonicAnchorNs,
    realtimeAnchorNs: h.realtimeAnchorNs,
  };
}

export function formatOf(target: string, format: OtlpFormat | undefined): OtlpFormat {
  return format ?? (!isUrl(target) && target.toLowerCase().endsWith(".json") ? "json" : "protobuf");
}

/**
 * A new export file's mode: it holds what the trace holds (arguments, SQL, messages), and
 * scope run writes traces 0600. A file written over keeps its own mode.
 */
const PRIVATE_MODE = 0o600;

/** 0: done (also for a trace not closed, said in a line); 1: the endpoint refused or could not be reached; 2: the trace is damaged (all valid events exported). */
export async function exportTrace(options: ExportOptions): Promise<number> {
  const err = new Output(options.stderr);
  let trace: Pick<LoadedTrace, "end" | "error">;
  let eventCount: number;
  if (options.perfetto !== undefined) {
    // In bounded memory: the events are walked (src/dump/stream.ts), never held ("scope
    // export --perfetto, dump --chrome and --why in bounded memory", BENCHMARKS.md).
    const stream = new TraceStream(options.path, options.batchRecords);
    stream.link(undefined);
    trace = stream.trace;
    eventCount = stream.trace.events;
    let walks = 0;
    const events = { walk: () => stream.events(++walks < 3), sources: stream.trace.sources };
    const fd = openSync(options.perfetto, "w", PRIVATE_MODE);
    try {
      const counts = writePerfetto(events, (chunk) => {
        for (let at = 0; at < chunk.byteLength; ) at += writeSync(fd, chunk, at);
      }, collectorsOf(stream.header.collectorPid, stream.trace.sources));
      err.writeNow(`scope: ${options.perfetto}: ${counts.tracks} tracks, ${counts.slices} slices, ${counts.instants} instants, ${counts.flows} flows, ${counts.counterValues} counter values\n`);
    } finally {
      closeSync(fd);
    }
  } else {
    const loaded = loadTrace(options.path);
    trace = loaded;
    const events = interpret(loaded.records, loaded.strings);
    eventCount = events.length;
    if ((await exportOtlp(options, loaded, events, err)) !== 0) return 1;
  }
  // How the trace ended: the rule every reading command follows (core/trace-ending.ts).
  const ending = endingNotice(options.path, endingOf(trace), { count: eventCount, done: "exported" });
  if (ending.line) err.writeNow(`scope: ${ending.line}\n`);
  return ending.status;
}

/** --otlp (to a file or an endpoint): the whole trace's spans. 0, or 1 when the endpoint refused or could not be reached. */
async function exportOtlp(options: ExportOptions, trace: LoadedTrace, events: TraceEvent[], err: Output): Promise<number> {
  if (options.otlp) {
    const { target, functions, serviceName } = options.otlp;
    const format = formatOf(target, options.otlp.format);
    const spans = new OtlpSpanMaker(otlpOptionsOf(trace, functions, serviceName)).spans(events);
    if (isUrl(target)) {
      // Sent: what the endpoint took; a success's partial_success.rejected_spans are not.
      let sent = 0;
      let rejected = 0;
      let rejectedMessage: string | undefined;
      const rejectedText = () => (rejected ? `; ${rejected} rejected by the endpoint${rejectedMessage ? ` (${rejectedMessage})` : ""}` : "");
      for (let at = 0; at < spans.length || at === 0; at += SPANS_PER_REQUEST) {
        const batch = spans.slice(at, at + SPANS_PER_REQUEST);
        const result = await sendOtlp(target, serializeSpans(batch, format), format);
        if (!result.ok) {
          err.writeNow(`scope: ${target}: ${result.error} after ${result.attempts} attempts; ${sent} of ${spans.length} spans sent${rejectedText()}\n`);
          return 1;
        }
        const refused = Math.min(result.rejected ?? 0, batch.length);
        sent += batch.length - refused;
        rejected += refused;
        rejectedMessage = result.rejectedMessage ?? rejectedMessage;
        if (spans.length === 0) break;
      }
      err.writeNow(rejected ? `scope: ${target}: ${sent} of ${spans.length} spans sent${rejectedText()} (OTLP/HTTP ${format})\n` : `scope: ${target}: ${sent} spans sent (OTLP/HTTP ${format})\n`);
    } else {
      const fd = openSync(target, "w", PRIVATE_MODE);
      try {
        const bytes = serializeSpans(spans, format);
        for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at);
      } finally {
        closeSync(fd);
      }
      err.writeNow(`scope: ${target}: ${spans.length} spans (OTLP ${format})\n`);
    }
  }
  return 0;
}
