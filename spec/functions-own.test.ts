/**
 * `--functions` traces the program's functions, never scope's own: the class a per-request
 * stamp compiles through node:vm (src/agent/shared/stamp.ts, filename STAMP_FILENAME) is
 * scope's code, so vm-hooks.ts leaves it as it is and no function_table names it.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, fixtures, ofKind, runTraced } from "./agent-harness";

afterAll(cleanup);

test("a request under --functions: the program's functions traced, none of the agent's stamp class", async () => {
  const traced = await runTraced(["node", join(fixtures, "functions-own", "server.cjs")], { scopeArgs: ["--functions"] });
  expect(traced.status).toBe(0);
  expect(traced.stdout).toBe("status 200\n");
  const tables = ofKind(traced.events, "function_table");
  const names = tables.map((e) => `${e.fields.name} ${e.fields.file}`);
  expect(names.some((n) => n.startsWith("answer ") && n.endsWith("server.cjs"))).toBe(true);
  expect(names.filter((n) => n.includes("scope-stamp"))).toEqual([]);
}, 60_000);
