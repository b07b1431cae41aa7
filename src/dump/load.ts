/** Reads a whole trace file into raw events and a string table, keeping any read error. */
import { decodeRecord, StringTable } from "../core/events";
import { RECORD_SIZE } from "../core/layout";
import type { RawEvent, StringLookup } from "../core/model";
import { readTrace, type TraceHeader } from "../core/trace-file";

export interface LoadedTrace {
  header: TraceHeader;
  records: RawEvent[];
  strings: StringLookup;
  /** Monotonic ns at which the trace started (the header's clock anchor). */
  startNs: bigint;
  end: { written: bigint | number; dropped: bigint | number; overwritten: bigint | number } | null;
  error: { offset: number; reason: string } | null;
}

export function loadTrace(path: string): LoadedTrace {
  const trace = readTrace(path);
  // Every record is held anyway: a cap on strings would only lose the names of what came after it.
  const table = new StringTable({ maxStrings: Number.POSITIVE_INFINITY });
  const records: RawEvent[] = [];
  for (const batch of trace.batches()) {
    for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
      const raw = decodeRecord(batch, offset);
      table.add(raw);
      records.push(raw);
    }
  }
  return {
    header: trace.header,
    records,
    strings: (pid, tid, id) => table.get(pid, tid, id),
    startNs: BigInt(trace.header.monotonicAnchorNs),
    end: trace.end,
    error: trace.error,
  };
}
