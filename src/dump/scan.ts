/**
 * A trace read without holding its records ("scope dump in bounded memory", BENCHMARKS.md):
 * a first read keeps its strings and function tables, a second gives its events one at a
 * time, decoded by interpret's own EventDecoder, in record order (not sorted by time,
 * indexed nor linked). What stays in memory is the string table (its distinct strings), the
 * function tables and what the caller keeps.
 */
import { decodeRecord, StringTable } from "../core/events";
import { RECORD_SIZE } from "../core/layout";
import { EventDecoder, functionTable, type RawEvent, type TraceEvent } from "../core/model";
import { readTrace, type TraceHeader } from "../core/trace-file";
import type { LoadedTrace } from "./load";

export type ScannedTrace = Omit<LoadedTrace, "records"> & { events: number };

/** `onHeader`: called with the header before the first event. */
export function scanTrace(path: string, onEvent: (event: TraceEvent) => void, onHeader?: (header: TraceHeader) => void): ScannedTrace {
  const table = new StringTable({ maxStrings: Number.POSITIVE_INFINITY });
  const tables: RawEvent[] = [];
  const first = readTrace(path);
  for (const batch of first.batches(4096, true)) {
    for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
      const raw = decodeRecord(batch, offset);
      if (!table.add(raw) && raw.kind === "function_table") tables.push(raw);
    }
  }
  const strings = (pid: number, tid: number, id: number) => table.get(pid, tid, id);
  const decoder = new EventDecoder(strings, functionTable(tables, strings));
  const second = readTrace(path);
  onHeader?.(second.header);
  const events: TraceEvent[] = [];
  let count = 0;
  for (const batch of second.batches(4096, true)) {
    for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
      decoder.decode(decodeRecord(batch, offset), events);
      for (const event of events) onEvent(event);
      count += events.length;
      events.length = 0;
    }
  }
  return { header: second.header, strings, startNs: BigInt(second.header.monotonicAnchorNs), end: second.end, error: second.error, events: count };
}
