/**
 * Stateful handlers under `scope run --functions`: methods of classes and objects named
 * in `stateful` carry the receiver's own data fields before (call) and after (return,
 * throw, settle) each call; others do not. The snapshot never runs program code (an
 * enumerable getter that throws is shown, not called) and the output is unchanged.
 * EventEmitter listeners (inline or passed by reference) name the event they handle.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { FunctionFlag } from "../src/instrument/transform";
import { cleanup, fixtures, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { cleanup as cleanupInstrument, instrumentFixtures, runNode } from "./instrument-harness";

const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
afterAll(() => {
  cleanup();
  cleanupInstrument();
});

const app = join(fixtures, "functions-stateful/app.cjs");

test("Cart and *Store methods: state before and after; Plain: none", async () => {
  const settings = JSON.stringify({ stateful: ["Cart", "*Store"] });
  const [run, plain] = await Promise.all([runTraced(["node", app], { scopeArgs: [`--functions=${settings}`], env }), runUntraced(["node", app])]);
  expect(plain.stdout).toBe("caught RangeError\npaid 0, items 0, users 1, n 1\n");
  expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: "" });
  const lines = run.events
    .filter((e) => /^function_(call|return|throw|settle)$/.test(e.kind))
    .map((e) => `${e.kind.slice(9)} ${String(e.fields.function).split(" ")[0]}${e.fields.state === undefined ? "" : ` ${e.fields.state}`}`);
  const cart = (items: string, total: number, extra = "") => `{"owner":"ann","items":${items},"total":${total},"expensive":[getter]${extra}}`;
  expect(lines).toEqual([
    // Constructors are not snapshot (`this` may be unbound before super()).
    "call Cart.constructor",
    "return Cart.constructor",
    `call Cart.add ${cart("[]", 0)}`,
    `return Cart.add ${cart('["apple"]', 3)}`,
    `call Cart.add ${cart('["apple"]', 3)}`,
    `return Cart.add ${cart('["apple","pear"]', 5)}`,
    "call Plain.bump",
    "return Plain.bump",
    // An object literal bound to a matching name; its methods are left out of the snapshot.
    'call addUser {"users":0}',
    'return addUser {"users":1}',
    `call Cart.clear ${cart('["apple","pear"]', 5)}`,
    `return Cart.clear ${cart("[]", 0)}`,
    `call Cart.clear ${cart("[]", 0)}`,
    `throw Cart.clear ${cart("[]", 0)}`,
    `call Cart.checkout ${cart("[]", 0)}`,
    // After the returned promise settled: the field set after the await is there.
    `settle Cart.checkout ${cart("[]", 0, ',"paid":true')}`,
    "call <anonymous>",
    "return <anonymous>",
  ]);
  const tables = Object.fromEntries(ofKind(run.events, "function_table").map((e) => [e.fields.name, e.fields]));
  expect(Object.keys(tables).sort()).toEqual(["<anonymous>", "Cart.add", "Cart.checkout", "Cart.clear", "Cart.constructor", "Plain.bump", "addUser", "get"]);
  const statefulOnes = Object.keys(tables).filter((name) => tables[name]!.stateful === true);
  expect(statefulOnes.sort()).toEqual(["Cart.add", "Cart.checkout", "Cart.clear", "addUser"]);
});

test("without stateful settings no event has a state", async () => {
  const run = await runTraced(["node", app], { scopeArgs: ["--functions"], env });
  expect(run.status, run.stderr).toBe(0);
  expect(run.events.filter((e) => e.fields.state !== undefined)).toEqual([]);
});

test("listeners, inline and by reference: the event each handles (function_listener), before its calls", async () => {
  const listeners = join(fixtures, "functions-stateful/listeners.cjs");
  const run = await runTraced(["node", listeners], { scopeArgs: ["--functions"], env });
  expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: "end after 10\n", stderr: "" });
  expect(ofKind(run.events, "function_listener").map((e) => e.fields)).toEqual([
    { function: `<anonymous> (${listeners}:10:16)`, event: "data", method: "on" },
    { function: `onEnd (${listeners}:13:17)`, event: "end", method: "once" },
    { function: `byReference (${listeners}:7:1)`, event: "data", method: "prependListener" },
  ]);
  const calls = ofKind(run.events, "function_call").map((e) => String(e.fields.function).split(" ")[0]);
  expect(calls).toEqual(["byReference", "<anonymous>", "byReference", "<anonymous>", "onEnd"]);
  const [first] = ofKind(run.events, "function_listener");
  expect(first!.index).toBeLessThan(ofKind(run.events, "function_call")[0]!.index);
});

// Every syntax case with every class and object stateful: behaviour unchanged (derived
// constructors, super, private members, accessors, static blocks, generators, async).
const cases = join(instrumentFixtures, "cases");
const caseFiles = readdirSync(cases).filter((name) => /-fixture\.[cm]js$/.test(name) && !/^esm-[ab]-/.test(name) && !name.startsWith("unparsable"));
test.each(caseFiles)("%s with stateful [\"*\"]: same output, table flags", async (file) => {
  const [plain, traced] = await Promise.all([runNode(file), runNode(file, { root: cases, level: "full", stateful: ["*"] })]);
  const strip = (text: string) => text.replace(/\(node:\d+\)/g, "(node:PID)").split("\n").filter((line) => !line.startsWith("scope: ")).join("\n");
  expect({ status: traced.status, stdout: traced.stdout, stderr: strip(traced.stderr) }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: strip(plain.stderr) });
  expect(traced.errors).toBe(0);
  if (file === "classes-fixture.cjs" || file === "objects-fixture.cjs") expect(traced.table.some((entry) => entry.flags & FunctionFlag.stateful)).toBe(true);
  for (const entry of traced.table) {
    if (entry.flags & FunctionFlag.stateful) expect(entry.flags & (FunctionFlag.constructor | FunctionFlag.static)).toBe(0);
  }
});
