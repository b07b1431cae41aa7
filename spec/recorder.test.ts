/**
 * The agent's Recorder writing a message event and its preview as one record batch
 * (eventWithPreviewBytes): what the native side receives decodes to the same string and
 * fields as the two-call path (string + record) would write.
 */
import { describe, expect, test } from "bun:test";
import { types } from "node:util";
import { decodeRecords, StringTable } from "../src/core/events";
import { EventKind } from "../src/core/layout";
import { previewSize, writePreview } from "../src/agent/shared/preview";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";

/** A sink that keeps every batch it is handed (and may refuse the last records). */
function batchSink(refuse = 0) {
  const batches: Uint8Array[] = [];
  const sink: Sink = {
    record: () => true,
    string: () => true,
    recordBatch: (records, count) => {
      batches.push(new Uint8Array(records.buffer.slice(0, count * 64)));
      return count - refuse;
    },
  };
  return { sink, batches };
}

const groups = { process: true, thread: true, message: true };

describe("Recorder.eventWithPreviewBytes", () => {
  test("the preview's string records and the event go out as one batch that decodes to the preview and the fields", () => {
    const { sink, batches } = batchSink();
    const recorder = new Recorder(sink, groups);
    expect(recorder.batches).toBe(true);
    const value = { user: "ann", note: "é ☃ ключ — a long enough text to need several fragments", token: "s3cr3t", n: [1, 2.5, 3] };
    const length = writePreview(value, types, { depth: 3, chars: 96 });
    expect(length).toBeGreaterThan(64);
    const channelField = 1 + 0x100 + 2 ** 35 * 0x10000; // sub-id near its limit: field b above 2^32
    recorder.eventWithPreviewBytes(EventKind.message_send, 7, channelField, 4242, previewSize(), length);
    expect(batches).toHaveLength(1);
    const records = decodeRecords(batches[0]!);
    const strings = new StringTable();
    for (const record of records) strings.add(record);
    const event = records.at(-1)!;
    expect(records.slice(0, -1).every((record) => record.kind === "string")).toBe(true);
    expect(records.length).toBe(1 + Math.ceil(length / 32));
    expect({ kind: event.kind, a: event.a, b: event.b, c: event.c, timestamp: event.timestampNs }).toEqual({
      kind: "message_send",
      a: 7n,
      b: BigInt(channelField),
      c: 4242n,
      timestamp: 0n,
    });
    expect(Number(event.d)).toBe(previewSize());
    expect(strings.get(0, 0, Number(event.e))).toBe('{"user":"ann","note":"é ☃ ключ — a long enough text to need several fragments","token":"[redacted]","n":[1,2.5,3]}'.slice(0, 95) + "…");
    expect(recorder.unrecorded).toBe(0);
  });

  test("an empty preview is one empty fragment; each record the sink refuses is counted", () => {
    const { sink, batches } = batchSink(1);
    const recorder = new Recorder(sink, groups);
    recorder.eventWithPreviewBytes(EventKind.message_send, 0, 1, 1, 2, 0);
    expect(decodeRecords(batches[0]!).map((record) => record.kind)).toEqual(["string", "message_send"]);
    expect(recorder.unrecorded).toBe(1);
  });

  test("a sink without record batches does not batch", () => {
    expect(new Recorder({ record: () => true, string: () => true }, groups).batches).toBe(false);
  });
});
