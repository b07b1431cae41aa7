import { describe, expect, test } from "bun:test";
import { EventKind, HttpEnd, HttpEndFlag, LongTaskKind, STEP_ORDINAL_LIMIT, StepStartFlag } from "../src/core/layout";
import { interpret, type RawEvent } from "../src/core/model";
import { Chalk } from "chalk";
import { parseDurationNs as parseDuration } from "../src/core/duration";
import { matches } from "../src/dump/filter";
import { formatEventLine } from "../src/dump/text";

type N = number | bigint;
const U64_MAX = (1n << 64n) - 1n;

function raw(kind: number, timestampNs: number, pid: number, tid: number, a: N = 0, b: N = 0, c: N = 0, d: N = 0, e: N = 0): RawEvent {
  return { kind, timestampNs: BigInt(timestampNs), flags: 0, pid, tid, a: BigInt(a), b: BigInt(b), c: BigInt(c), d: BigInt(d), e: BigInt(e) };
}

const strings = new Map([["10/0/1", "hello"], ["10/1/1", "hello back"]]);
const lookup = (pid: number, tid: number, id: number) => strings.get(`${pid}/${tid}/${id}`);
// worker channel (kind 1), direction 0 = parent→worker, sub-id = worker threadId 1, owner pid 10
const down = 1 | (0 << 8) | (1 * 0x10000);
const up = 1 | (1 << 8) | (1 * 0x10000);

describe("model.interpret", () => {
  test("sorts by time and links each receive to its send by (channel, owner, sub-id, direction, ordinal)", () => {
    const events = interpret(
      [
        raw(EventKind.message_receive, 300, 10, 1, 1, down, 10, 0, 0),
        raw(EventKind.message_send, 100, 10, 0, 1, down, 10, 5, 1),
        raw(EventKind.message_send, 400, 10, 1, 1, up, 10, 10, 1),
        raw(EventKind.message_receive, 500, 10, 0, 1, up, 10, 0, 0),
        raw(EventKind.message_send, 600, 10, 0, 2, down, 10, 5, 0),
      ],
      lookup,
    );
    expect(events.map((event) => [event.index, event.kind, event.linkedTo])).toEqual([
      [0, "message_send", [1]],
      [1, "message_receive", [0]],
      [2, "message_send", [3]],
      [3, "message_receive", [2]],
      [4, "message_send", []],
    ]);
    expect(events[0]!.fields).toEqual({ ordinal: 1, channel: "worker", direction: 0, channelSubId: 1, channelOwnerPid: 10, sizeBytes: 5, preview: "hello" });
    expect(events[2]!.fields.preview).toBe("hello back");
    // Receives are recorded without size and preview: a paired one shows its send's.
    expect(events[1]!.fields).toMatchObject({ sizeBytes: 5, preview: "hello" });
    expect(events[3]!.fields).toMatchObject({ sizeBytes: 10, preview: "hello back" });
  });

  test("a receive whose send is not in the trace has no size and no preview", () => {
    const [receive] = interpret([raw(EventKind.message_receive, 300, 10, 1, 1, down, 10, 0, 0)], lookup);
    expect(receive!.fields).toMatchObject({ sizeBytes: 0, preview: null });
    expect(receive!.linkedTo).toEqual([]);
  });

  test("exit codes are signed, a missing exit code is null, missing strings are marked", () => {
    const [processExit, childExit] = interpret(
      [raw(EventKind.process_exit, 1, 10, 0, U64_MAX, 0, 7, 0, 2), raw(EventKind.child_exit, 2, 9, 0, 10, U64_MAX, 9)],
      lookup,
    );
    expect(processExit!.fields).toEqual({ code: -1, signal: null, errorType: "<string 7 missing>", errorMessage: null, reason: "uncaught_exception" });
    expect(childExit!.fields).toEqual({ childPid: 10, code: null, signal: 9 });
  });

  test("function events name their function from the producer's function table", () => {
    const names = new Map([["10/0/1", "Cart.total"], ["10/0/2", "/app/cart.js"], ["10/0/3", "[1,2]"], ["10/0/4", "3"]]);
    const events = interpret(
      [
        raw(EventKind.function_table, 1, 10, 0, 7, 1, 2, 12, 3),
        raw(EventKind.function_call, 2, 10, 0, 7, 1, 3),
        raw(EventKind.function_return, 3, 10, 0, 7, 1, 4),
        raw(EventKind.function_call, 4, 10, 1, 7, 1, 0),
      ],
      (pid, tid, id) => names.get(`${pid}/${tid}/${id}`),
    );
    expect(events.slice(1).map((event) => event.fields)).toEqual([
      { function: "Cart.total (/app/cart.js:12:3)", call: 1, args: "[1,2]" },
      { function: "Cart.total (/app/cart.js:12:3)", call: 1, value: "3" },
      // Ids are per producer: thread 1 has no function 7 in its table.
      { function: "<function 7>", call: 1, args: null },
    ]);
  });

  test("a long task names the outermost function that ran in it, also when its call reads a little before the task's start", () => {
    const names = new Map([["10/0/1", "inTimer"], ["10/0/2", "/app/t.js"], ["10/0/3", "spin"], ["10/0/4", "before"]]);
    const lookupNames = (pid: number, tid: number, id: number) => names.get(`${pid}/${tid}/${id}`);
    const table = [raw(EventKind.function_table, 1, 10, 0, 1, 1, 2, 7, 24), raw(EventKind.function_table, 1, 10, 0, 2, 3, 2, 5, 1), raw(EventKind.function_table, 1, 10, 0, 3, 4, 2, 1, 1)];
    // A 200 ms timer task starting at 10 ms: its record at 210.2 ms, b = how long before that it started.
    const task = raw(EventKind.long_task, 210_200_000, 10, 0, 200_000_000, 200_200_000, LongTaskKind.timer, 0, 0);
    const full = interpret(
      [
        ...table,
        raw(EventKind.function_call, 9_500_000, 10, 0, 3, 1), // a call of the turn before, returned before the task
        raw(EventKind.function_return, 9_600_000, 10, 0, 3, 1),
        raw(EventKind.function_call, 9_999_743, 10, 0, 1, 2), // the timer's callback: read 257 ns before the task's start
        raw(EventKind.function_call, 10_030_000, 10, 0, 2, 3),
        raw(EventKind.function_return, 210_000_000, 10, 0, 2, 3),
        raw(EventKind.function_return, 210_100_000, 10, 0, 1, 2),
        task,
      ],
      lookupNames,
    );
    const named = full.find((event) => event.kind === "long_task")!;
    expect(named.fields.function).toBe("inTimer (/app/t.js:7:24)");
    expect(full[named.fields.functionIndex as number]!.fields).toMatchObject({ function: "inTimer (/app/t.js:7:24)", call: 2 });
    // Calls level (no returns): a call read before the start is never the task's, the first inside is.
    const calls = interpret([...table, raw(EventKind.function_call, 9_500_000, 10, 0, 3, 1), raw(EventKind.function_call, 10_030_000, 10, 0, 2, 3), task], lookupNames);
    expect(calls.find((event) => event.kind === "long_task")!.fields.function).toBe("spin (/app/t.js:5:1)");
  });

  test("listener records: the handler's function, or (id 0, not instrumented) the event, method and handler name", () => {
    const names = new Map([["10/0/1", "onData"], ["10/0/2", "/app/bus.js"], ["10/0/3", "data"], ["10/0/4", "on"], ["10/0/5", "Symbol(ready)"], ["10/0/6", "once"], ["10/0/7", "bound onReady"]]);
    const events = interpret(
      [
        raw(EventKind.function_table, 1, 10, 0, 7, 1, 2, 3, 1),
        raw(EventKind.function_listener, 2, 10, 0, 7, 3, 4),
        raw(EventKind.function_listener, 3, 10, 0, 0, 5, 6, 0, 7),
        raw(EventKind.function_listener, 4, 10, 0, 0, 3, 4),
      ],
      (pid, tid, id) => names.get(`${pid}/${tid}/${id}`),
    );
    expect(events.slice(1).map((event) => event.fields)).toEqual([
      { function: "onData (/app/bus.js:3:1)", event: "data", method: "on" },
      { function: null, event: "Symbol(ready)", method: "once", handler: "bound onReady" },
      { function: null, event: "data", method: "on" },
    ]);
    // The text dump leaves the null function out and still names the event.
    const line = formatEventLine(events[2]!, 0n, events, new Chalk({ level: 0 }));
    expect(line.endsWith('function_listener event="Symbol(ready)" method="once" handler="bound onReady"')).toBe(true);
  });

  test("a function call right after a receive on its thread is that message's handler", () => {
    const events = interpret(
      [
        raw(EventKind.message_send, 1, 10, 0, 1, down, 10, 5, 0),
        raw(EventKind.message_receive, 2, 10, 1, 1, down, 10, 5, 0),
        raw(EventKind.function_call, 3, 10, 0, 9, 1, 0), // another thread: not the handler
        raw(EventKind.function_call, 4, 10, 1, 7, 1, 0), // the handler
        raw(EventKind.function_call, 5, 10, 1, 8, 2, 0), // called later: not linked again
        raw(EventKind.message_receive, 6, 10, 1, 2, down, 10, 5, 0),
        raw(EventKind.thread_exit, 7, 10, 1, 0), // a runtime event in between: no handler
        raw(EventKind.function_call, 8, 10, 1, 7, 3, 0),
      ],
      lookup,
    );
    expect(events.map((event) => [event.kind, event.fields.handlesMessage ?? event.fields.handledBy ?? null])).toEqual([
      ["message_send", null],
      ["message_receive", 3],
      ["function_call", null],
      ["function_call", 1],
      ["function_call", null],
      ["message_receive", null],
      ["thread_exit", null],
      ["function_call", null],
    ]);
  });

  test("a thread with an uninstrumented 'message' listener: only its registered listeners are handlers", () => {
    // Thread 10/1: `port.once("message", resolve)` (id 0) and `port.on("message", onMessage)` (id 7).
    const names = new Map([["10/1/1", "onMessage"], ["10/1/2", "/app/w.js"], ["10/1/3", "message"], ["10/1/4", "on"], ["10/1/5", "once"], ["10/1/6", "next"]]);
    const events = interpret(
      [
        raw(EventKind.function_table, 1, 10, 1, 7, 1, 2, 3, 1),
        raw(EventKind.function_table, 2, 10, 1, 8, 6, 2, 9, 1),
        raw(EventKind.function_listener, 3, 10, 1, 0, 3, 5),
        raw(EventKind.function_listener, 4, 10, 1, 7, 3, 4),
        raw(EventKind.message_send, 5, 10, 0, 1, down, 10, 5, 0),
        raw(EventKind.message_receive, 6, 10, 1, 1, down, 10, 5, 0),
        raw(EventKind.function_call, 7, 10, 1, 8, 1, 0), // resolve ran; `next` is a continuation
        raw(EventKind.message_send, 8, 10, 0, 2, down, 10, 5, 0),
        raw(EventKind.message_receive, 9, 10, 1, 2, down, 10, 5, 0),
        raw(EventKind.function_call, 10, 10, 1, 7, 2, 0), // the registered listener
      ],
      (pid, tid, id) => names.get(`${pid}/${tid}/${id}`),
    );
    const calls = events.filter((event) => event.kind === "function_call" || event.kind === "message_receive");
    expect(calls.map((event) => [event.kind, event.fields.handlesMessage ?? event.fields.handledBy ?? null])).toEqual([
      ["message_receive", null],
      ["function_call", null],
      ["message_receive", 9],
      ["function_call", 8],
    ]);
  });

  test("requests: ends, connections, routes merged into the start; calls, sends and client requests linked to the request that caused them", () => {
    const names = new Map([
      ["10/0/1", "GET"],
      ["10/0/2", "/users/7?token=[redacted]"],
      ["10/0/3", "127.0.0.1"],
      ["10/0/4", "http://127.0.0.1:9/x"],
      ["10/0/5", "/users/:id"],
      ["10/0/6", "express"],
      ["10/1/1", "GET"],
    ]);
    const withFlags = (event: RawEvent, flags: number) => ({ ...event, flags });
    const events = interpret(
      [
        raw(EventKind.http_connection, 1, 10, 0, 1, 3, 8080, 3, 50000),
        withFlags(raw(EventKind.http_server_request, 2, 10, 0, 1, 1, 2, 1, 1), 2),
        raw(EventKind.http_route, 3, 10, 0, 1, 5, 6),
        raw(EventKind.function_call, 4, 10, 0, 0, 1, 0, 1),
        raw(EventKind.request_context, 5, 10, 0, 1),
        raw(EventKind.message_send, 5, 10, 0, 1, down, 10, 5, 0),
        raw(EventKind.message_send, 6, 10, 0, 2, down, 10, 5, 0), // no context: not the request's
        raw(EventKind.http_client_request, 7, 10, 0, 2, 1, 4, 1, 3),
        raw(EventKind.http_client_response, 8, 10, 0, 2, 200, 0, 12, 1),
        raw(EventKind.http_server_request, 8, 10, 1, 1, 1, 2, 1, 1), // another thread's request 1
        raw(EventKind.http_server_response, 9, 10, 0, 1, 404, 3, 20, 2),
      ],
      (pid, tid, id) => names.get(`${pid}/${tid}/${id}`),
    );
    const start = events.find((event) => event.kind === "http_server_request" && event.tid === 0)!;
    expect(start.fields).toEqual({
      requestId: 1,
      method: "GET",
      target: "/users/7?token=[redacted]",
      connection: 1,
      ordinal: 1,
      protocol: "HTTP/1.1",
      tls: false,
      localAddress: "127.0.0.1",
      localPort: 8080,
      remoteAddress: "127.0.0.1",
      remotePort: 50000,
      route: "/users/:id",
      status: 404,
      requestBytes: 3,
      responseBytes: 20,
      end: "aborted",
      durationNs: 7,
      endIndex: events.length - 1,
    });
    const byKind = (kind: string) => events.filter((event) => event.kind === kind && event.tid === 0);
    expect(byKind("request_context")).toEqual([]);
    expect(byKind("function_call")[0]!.fields).toMatchObject({ request: 1, requestIndex: start.index });
    expect(byKind("message_send").map((event) => [event.fields.request ?? null, event.fields.requestIndex ?? null])).toEqual([
      [1, start.index],
      [null, null],
    ]);
    const client = byKind("http_client_request")[0]!;
    expect(client.fields).toMatchObject({ requestId: 2, request: 1, requestIndex: start.index, url: "http://127.0.0.1:9/x", api: "fetch", status: 200, end: "finished" });
    expect(byKind("http_client_response")[0]!.fields.requestIndex).toBe(client.index);
    expect(events.find((event) => event.kind === "http_server_request" && event.tid === 1)!.fields.status).toBeUndefined();
  });

  test("layout version 2: a route riding on its handler's start, open steps ending with the request's end, read as the records they replace", () => {
    const names = new Map([
      ["10/0/1", "GET"],
      ["10/0/2", "/users/7"],
      ["10/0/3", "count"],
      ["10/0/4", "middleware"],
      ["10/0/5", "getUser"],
      ["10/0/6", "handler"],
      ["10/0/7", "/users/:id"],
      ["10/0/8", "express"],
      ["10/0/9", "router"],
    ]);
    const withFlags = (event: RawEvent, flags: number) => ({ ...event, flags });
    const records = (folded: boolean) => [
      raw(EventKind.http_server_request, 10, 10, 0, 1, 1, 2, 0, 0),
      raw(EventKind.http_step_start, 20, 10, 0, 1, 1, 3, 4, 0),
      raw(EventKind.http_step_end, 30, 10, 0, 1, 1),
      raw(EventKind.http_step_start, 40, 10, 0, 1, 2, 9, 4, 0), // a router: open until the end
      ...(folded
        ? [withFlags(raw(EventKind.http_step_start, 50, 10, 0, 1, 3 + 8 * STEP_ORDINAL_LIMIT, 5, 6, 7), StepStartFlag.route)]
        : [raw(EventKind.http_route, 50, 10, 0, 1, 7, 8), raw(EventKind.http_step_start, 50, 10, 0, 1, 3, 5, 6, 7)]),
      ...(folded
        ? [withFlags(raw(EventKind.http_server_response, 60, 10, 0, 1, 200, 0, 12, HttpEnd.finished), HttpEndFlag.stepsEnd)]
        : [raw(EventKind.http_step_end, 60, 10, 0, 1, 3), raw(EventKind.http_step_end, 60, 10, 0, 1, 2), raw(EventKind.http_server_response, 60, 10, 0, 1, 200, 0, 12, HttpEnd.finished)]),
      // A later request of the same thread: its steps are its own (none open to end).
      raw(EventKind.http_server_request, 70, 10, 0, 2, 1, 2, 0, 0),
      withFlags(raw(EventKind.http_server_response, 80, 10, 0, 2, 404, 0, 0, HttpEnd.finished), HttpEndFlag.stepsEnd),
    ];
    const read = (folded: boolean) => interpret(records(folded), (pid, tid, id) => names.get(`${pid}/${tid}/${id}`));
    const folded = read(true);
    // Every event, field and link as version 1's records give them.
    expect(folded).toEqual(read(false));
    const steps = folded.filter((event) => event.kind === "http_step_start").map((event) => [event.fields.step, event.fields.name, event.fields.durationNs, event.fields.failed]);
    expect(steps).toEqual([
      [1, "count", 10, false],
      [2, "router", 20, false],
      [3, "getUser", 10, false],
    ]);
    expect(folded.filter((event) => event.kind === "http_step_end").map((event) => event.fields.step)).toEqual([1, 3, 2]);
    expect(folded.filter((event) => event.kind === "http_route").map((event) => event.fields)).toEqual([{ requestId: 1, route: "/users/:id", framework: "express", requestIndex: 0 }]);
    expect(folded.find((event) => event.kind === "http_server_request")!.fields).toMatchObject({ route: "/users/:id", status: 200, durationNs: 50 });
  });

  test("kinds this version does not know keep their raw payload", () => {
    const [event] = interpret([raw(200, 1, 1, 0, 1, 2, 3, 4, 5)], lookup);
    expect(event!.kind).toBe("kind_200");
    expect(event!.fields).toEqual({ a: "1", b: "2", c: "3", d: "4", e: "5" });
  });
});

describe("dump filters", () => {
  test("parseDuration reads units and fractions, rejects junk", () => {
    expect([parseDuration("150ms"), parseDuration("2s"), parseDuration("1.5us"), parseDuration("42ns"), parseDuration("0"), parseDuration("1.5m")]).toEqual([150_000_000n, 2_000_000_000n, 1500n, 42n, 0n, 90_000_000_000n]);
    // A bare number names no unit (a dump's times are in ms): refused, as in every command.
    expect(parseDuration("42")).toBeUndefined();
    expect(parseDuration("fast")).toBeUndefined();
    expect(parseDuration("-1s")).toBeUndefined();
  });

  test("filters by pid, thread, kind group and window", () => {
    const events = interpret([raw(EventKind.thread_spawn, 1_000, 10, 0, 1), raw(EventKind.thread_exited, 5_000, 10, 0, 1), raw(EventKind.trace_start, 9_000, 11, 2)], lookup);
    const pick = (filter: Parameters<typeof matches>[0]) => events.filter((event) => matches(filter, event, 0n)).map((event) => event.kind);
    expect(pick({ pids: [10] })).toEqual(["thread_spawn", "thread_exited"]);
    expect(pick({ tids: [2] })).toEqual(["trace_start"]);
    expect(pick({ kinds: ["thread"] })).toEqual(["thread_spawn", "thread_exited"]);
    expect(pick({ sinceNs: 2_000n, untilNs: 6_000n })).toEqual(["thread_exited"]);
  });
});
