/**
 * A full-level event's commit (zig/napi.zig commit_events): an event and its one text of at
 * most 4,096 bytes go to the ring as one claim, the text zero-padded to its last fragment's
 * end in the buffer (what lay past it there was an older, longer text's); two texts (a stateful
 * method's receiver) or a text past 4,096 bytes go the other way (producer.zig write_events).
 * Pinned here end to end: previews at and around the fragment bound (32 bytes), each after a
 * longer one, cut ones, two-byte text and a stateful method's two texts decode exactly as
 * written, on Node 20 and 24 (zig/producer.zig's test compares the records themselves, up to
 * 4,096 bytes).
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, runTraced, scratchDir } from "./agent-harness";
import { nodeVersions } from "./harness";

afterAll(cleanup);


// String lengths, longest first: each preview is written over the longer one before it (their
// texts 1,002 … 2 bytes: 64 and 32 a fragment's multiple, 33 and 31 either side of one).
const lengths = [1000, 999, 200, 62, 31, 30, 29, 1, 0];

const program = `
function id(v) { return v; }
class Box { constructor() { this.k = "k"; } put(v) { return v.length; } }
const box = new Box();
for (const n of ${JSON.stringify(lengths)}) id("x".repeat(n));
// Strings cut at a string's character limit, with "…".
id("x".repeat(5000));
id("x".repeat(4999));
// Two bytes a character.
id("é".repeat(5000));
box.put("y".repeat(40));
id("");
console.log("ok");
`;

function fields(events: TraceEvent[], kind: string, name: string): Record<string, unknown>[] {
  return events.filter((e) => e.kind === kind && String(e.fields.function).startsWith(`${name} `)).map((e) => e.fields);
}

for (const { name: label, path: node, installed } of nodeVersions.filter((v) => v.name !== "Node 22")) {
  test.skipIf(!installed)(`${label}: previews at a fragment's bounds, cut, two-byte and two-text ones decode as written, after longer ones`, async () => {
    const dir = scratchDir();
    const file = join(dir, `commit-${label.replace(" ", "")}.cjs`);
    writeFileSync(file, program);
    const settings = { previewChars: 4096, hotCallsPerSecond: 0, level: "full", stateful: ["Box"] };
    const traced = await runTraced([node, file], { scopeArgs: [`--functions=${JSON.stringify(settings)}`], cwd: dir });
    expect({ status: traced.status, stdout: traced.stdout }).toEqual({ status: 0, stdout: "ok\n" });
    const returns = fields(traced.events, "function_return", "id").map((f) => f.value);
    const calls = fields(traced.events, "function_call", "id").map((f) => f.args);
    const strings = lengths.map((n) => JSON.stringify("x".repeat(n)));
    expect(returns.length).toBe(lengths.length + 4);
    expect(returns.slice(0, lengths.length)).toEqual(strings);
    expect(calls.slice(0, lengths.length)).toEqual(strings.map((s) => `[${s}]`));
    const cut = returns.slice(lengths.length, lengths.length + 2).map(String);
    for (const text of cut) expect(text).toMatch(/^"x{1000,}…$/);
    expect(cut[0]).toBe(cut[1]);
    // The long two-byte string: cut the same way, nothing else in it.
    const long = String(returns[lengths.length + 2]);
    expect(long).toMatch(/^"é{1000,}…$/);
    // After it, the empty string's one fragment holds nothing of the text before it.
    expect(returns[lengths.length + 3]).toBe('""');
    // A stateful method: its argument's text and its receiver's, the two-text commit.
    const put = traced.events.filter((e) => String(e.fields.function).startsWith("Box.put "));
    const call = put.find((e) => e.kind === "function_call")!.fields;
    const ret = put.find((e) => e.kind === "function_return")!.fields;
    expect(call.args).toBe(`[${JSON.stringify("y".repeat(40))}]`);
    expect(ret.value).toBe("40");
    expect(JSON.stringify([call.state, ret.state])).toBe(JSON.stringify(['{"k":"k"}', '{"k":"k"}']));
  }, 60_000);
}
