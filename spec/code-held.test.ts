/**
 * scope.node's codeHeld (zig/napi.zig "A function's code held"; src/agent/node/frameworks.ts
 * plainNext: Express's `next` known to be named "next" with length 1 without reading either)
 * under each Node at hand (20, and 22 and 24 from scripts/node-install.sh): codeOffset finds
 * where a JSFunction holds its SharedFunctionInfo; after codeProve, codeHeld is true only for a
 * closure of the proved literal whose map is unchanged, so its name and length are the proved
 * ones; false for another literal of the same name and length, for a closure renamed or given
 * another length or any own property, for bound functions, Proxies and non-functions, and the
 * same after a GC moved what is held. A hot loop takes the Fast API path.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { installedNodes, testAddonPath as addonPath } from "./harness";
import { scratchDirs } from "./scratch";

const dir = scratchDirs("scope-code-held-")();

const fixture = `
const holder = { exports: {} };
process.dlopen(holder, process.argv[2]);
const addon = holder.exports;
if (typeof addon.fullApi === "function") addon.fullApi(true);
const api = addon.mapApi();
const report = { api: typeof api?.codeHeld === "function" && typeof api?.codeOffset === "function" && typeof api?.codeProve === "function" };
const make = (value) =>
  function next(err) {
    "use strict";
    return value + err;
  };
const other = () =>
  function next(err) {
    "use strict";
    return err;
  };
report.proveBeforeOffset = api.codeProve(make(0));
report.offset = api.codeOffset(make(1), make(2), function next(err) {}, function two(a, b) {});
const first = make(3);
report.beforeProof = api.codeHeld(first);
report.proved = api.codeProve(first);
report.same = api.codeHeld(make(4));
report.sameNameLength = [make(5).name, make(5).length];
report.otherLiteral = api.codeHeld(other());
const renamed = make(6);
Object.defineProperty(renamed, "name", { value: "renamed" });
const lengthened = make(7);
Object.defineProperty(lengthened, "length", { value: 3 });
const withProperty = make(8);
withProperty.extra = 1;
const nameDeleted = make(9);
delete nameDeleted.name;
report.changed = [renamed, lengthened, withProperty, nameDeleted].map((fn) => api.codeHeld(fn));
report.others = [make(10).bind(null), new Proxy(make(11), {}), {}, 5, "next", undefined, null, () => 1, class next {}].map((value) => api.codeHeld(value));
report.provedOthers = [make(12).bind(null), new Proxy(make(13), {}), {}, 5].map((value) => api.codeProve(value));
// A second literal proved too: both held (four slots, round robin).
report.provedOther = api.codeProve(other());
report.bothHeld = [api.codeHeld(make(14)), api.codeHeld(other())];
let hot = 0;
let hotChanged = 0;
for (let i = 0; i < 100000; i++) {
  if (api.codeHeld(make(i))) hot++;
  if (api.codeHeld(i % 2 ? renamed : lengthened)) hotChanged++;
}
report.hot = hot;
report.hotChanged = hotChanged;
globalThis.gc();
globalThis.gc();
report.afterGc = [api.codeHeld(make(15)), api.codeHeld(other()), api.codeHeld(renamed)];
console.log(JSON.stringify(report));
`;

test.each(installedNodes)("%s: codeHeld only for a closure of a proved literal with its map unchanged", (_name, node) => {
  const script = join(dir, "fixture.cjs");
  writeFileSync(script, fixture);
  const run = spawnSync(node, ["--expose-gc", script, addonPath], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout);
  expect(report.api).toBe(true);
  expect(report.proveBeforeOffset).toBe(false);
  expect(report.offset).toBe(true);
  expect(report.beforeProof).toBe(false);
  expect(report.proved).toBe(true);
  expect(report.same).toBe(true);
  expect(report.sameNameLength).toEqual(["next", 1]);
  expect(report.otherLiteral).toBe(false);
  expect(report.changed).toEqual([false, false, false, false]);
  expect(report.others).toEqual([false, false, false, false, false, false, false, false, false]);
  expect(report.provedOthers).toEqual([false, false, false, false]);
  expect(report.provedOther).toBe(true);
  expect(report.bothHeld).toEqual([true, true]);
  expect(report.hot).toBe(100000);
  expect(report.hotChanged).toBe(0);
  expect(report.afterGc).toEqual([true, true, false]);
});
