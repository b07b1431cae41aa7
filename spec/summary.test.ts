/** The end-of-run summary's events line (src/run/summary.ts). */
import { expect, test } from "bun:test";
import { eventsLine } from "../src/run/summary";

test("records by kind, most first, strings left out", () => {
  expect(eventsLine({ string: 50, message_send: 3, trace_start: 1, message_receive: 3 })).toBe("events: message_send 3, message_receive 3, trace_start 1");
  expect(eventsLine({})).toBe("events: none");
});

test("fewer step ends than steps: the line says the steps a response ends have no record of their own", () => {
  expect(eventsLine({ http_step_start: 6040, http_step_end: 4040, http_route: 2000 })).toBe(
    "events: http_step_start 6040, http_step_end 4040 (steps still open when their response is sent end with it), http_route 2000",
  );
  expect(eventsLine({ http_step_start: 2, http_route: 2 })).toBe("events: http_step_start 2, http_route 2, http_step_end 0 (steps still open when their response is sent end with it)");
  expect(eventsLine({ http_step_start: 2, http_step_end: 2 })).toBe("events: http_step_start 2, http_step_end 2");
});
