/**
 * Recorder.event through a sink's commitEvent (scope.node's Fast API function taking the
 * fields as arguments, zig/napi.zig): what each answer does, and that a sink without it (Bun's,
 * `scope attach`'s, function tracing's ordered one) writes through the scratch as before.
 */
import { expect, test } from "bun:test";
import { Recorder, type PreviewWalk } from "../src/agent/shared/recorder";
import { SCRATCH_PREVIEW_BYTES } from "../src/agent/shared/preview-limits";
import { parseGroups, type Sink } from "../src/agent/shared/sink";

const walk = { preview: () => "", previewSize: () => 0, previewWrite: () => 0, previewCommit: () => -1 } as unknown as PreviewWalk;

/** A sink with the scratch and commit(), and commitEvent answering `answer` when given. */
function sink(answer?: number) {
  const scratch = new ArrayBuffer(64 + SCRATCH_PREVIEW_BYTES);
  const fields = new Float64Array(scratch, 0, 8);
  const calls: { byArguments: unknown[][]; byScratch: number[][]; records: number[][]; stopped: number } = { byArguments: [], byScratch: [], records: [], stopped: 0 };
  const made: Sink = {
    record: (...values) => {
      calls.records.push(values);
      return true;
    },
    string: () => true,
    scratch: () => scratch,
    commit: () => {
      calls.byScratch.push(Array.from(fields.subarray(0, 7)));
      return true;
    },
    commitString: () => 2,
    stopped: () => {
      calls.stopped++;
      return false;
    },
  };
  if (answer !== undefined) {
    made.commitEvent = (...values) => {
      calls.byArguments.push(values);
      return answer;
    };
  }
  return { made, calls };
}

test("commitEvent's answers: 1 written; 0 refused (counted, stopped() asked); 2 not taken: the same event through the scratch, its stores converting the values", () => {
  const written = sink(1);
  const recorder = new Recorder(written.made, parseGroups(undefined), walk);
  recorder.event(12, -1, 2 ** 40, 3, 4, 5, 6);
  recorder.event(13, 7);
  expect(written.calls).toEqual({
    // Kind, flags, then a..e; the defaults 0.
    byArguments: [
      [12, 6, -1, 2 ** 40, 3, 4, 5],
      [13, 0, 7, 0, 0, 0, 0],
    ],
    byScratch: [],
    records: [],
    stopped: 0,
  });
  expect(recorder.unrecorded).toBe(0);

  const refused = sink(0);
  const refusing = new Recorder(refused.made, parseGroups(undefined), walk);
  refusing.event(12, 1, 2, 3);
  expect({ scratch: refused.calls.byScratch.length, stopped: refused.calls.stopped, unrecorded: refusing.unrecorded }).toEqual({ scratch: 0, stopped: 1, unrecorded: 1 });

  const declined = sink(2);
  const declining = new Recorder(declined.made, parseGroups(undefined), walk);
  // A value that is not a number (never passed by the agent's own callers): what the scratch makes of it.
  declining.event(12, null as unknown as number, true as unknown as number, "5" as unknown as number, 2 ** 53, -1, 3);
  expect(declined.calls.byScratch).toEqual([[12, 3, 0, 1, 5, 2 ** 53, -1]]);
  expect({ stopped: declined.calls.stopped, unrecorded: declining.unrecorded, errors: declining.errors }).toEqual({ stopped: 0, unrecorded: 0, errors: 0 });
});

test("a sink without commitEvent writes through the scratch and commit(), as before; one without a scratch through record()", () => {
  const plain = sink();
  const recorder = new Recorder(plain.made, parseGroups(undefined), walk);
  recorder.event(12, -1, 2 ** 40, 3, 4, 5, 6);
  expect(plain.calls.byScratch).toEqual([[12, 6, -1, 2 ** 40, 3, 4, 5]]);
  expect(plain.calls.byArguments).toEqual([]);

  const bare = sink();
  delete bare.made.scratch;
  const bareRecorder = new Recorder(bare.made, parseGroups(undefined), walk);
  bareRecorder.event(12, 1, 2, 3, 4, 5, 6);
  expect(bare.calls.records).toEqual([[12, 6, 1, 2, 3, 4, 5]]);
});

test("the sink's per-event functions (commitEvent, commit, commitString, string) are read once, when the Recorder is made, not at each event (scope.node's exports are in V8's dictionary mode: each read a generic LoadIC)", () => {
  /** `made` behind a Proxy counting each property read, by name. */
  const counted = (made: Sink) => {
    const reads: Record<string, number> = {};
    const proxy = new Proxy(made, {
      get(target, key, receiver) {
        reads[String(key)] = (reads[String(key)] ?? 0) + 1;
        return Reflect.get(target, key, receiver);
      },
    });
    return { proxy, reads };
  };
  // With commitEvent: events, fresh strings, sends walked into the scratch (commitString).
  const withArguments = sink(1);
  const first = counted(withArguments.made);
  const recorder = new Recorder(first.proxy, parseGroups(undefined), walk);
  const afterMade = { ...first.reads };
  for (let i = 0; i < 50; i++) {
    recorder.event(12, i);
    recorder.str(`text ${i}`);
    recorder.eventWithPreview(20, i, 0, 0, { i }, {} as never);
  }
  expect(withArguments.calls.byArguments.length).toBe(50);
  expect(first.reads).toEqual(afterMade);
  // Without commitEvent: events through the scratch's commit().
  const byScratch = sink();
  const second = counted(byScratch.made);
  const scratchRecorder = new Recorder(second.proxy, parseGroups(undefined), walk);
  const secondMade = { ...second.reads };
  for (let i = 0; i < 50; i++) scratchRecorder.event(12, i);
  expect(byScratch.calls.byScratch.length).toBe(50);
  expect(second.reads).toEqual(secondMade);
  expect({ errors: recorder.errors + scratchRecorder.errors, unrecorded: recorder.unrecorded + scratchRecorder.unrecorded }).toEqual({ errors: 0, unrecorded: 0 });
});
