/**
 * One pass over a closed trace's records of one kind, for the summary's lines read back from
 * the trace (selection-report.ts, async-report.ts, hooks-thread-report.ts): only the kind is
 * read until it matches. A damaged or unreadable trace gives what it has (`scope dump` says why).
 */
import { Offset, RECORD_SIZE } from "../core/layout";
import { readTrace } from "../core/trace-file";

export function recordsOfKind(path: string, kind: number, visit: (batch: Uint8Array, offset: number, view: DataView) => void): void {
  try {
    for (const batch of readTrace(path).batches()) {
      const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
      for (let offset = 0; offset < batch.byteLength; offset += RECORD_SIZE) {
        if (view.getUint16(offset + Offset.kind, true) === kind) visit(batch, offset, view);
      }
    }
  } catch {
    // What was read stands.
  }
}
