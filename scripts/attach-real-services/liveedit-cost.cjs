// What one Debugger.setScriptSource (LiveEdit) costs the program against its heap size, edit
// accepted or refused: node liveedit-cost.cjs <MB of objects> [blocked] (blocked: the edited
// async function is suspended, V8 answers BlockedByActiveGenerator). Prints each try's ms.
const inspector = require("node:inspector");
const MB = Number(process.argv[2]);
const keep = [];
for (let i = 0; i < MB * 1024 * 8; i++) keep.push({ a: i, b: String(i), c: [i] });
const { g } = require("./liveedit-cost-target.cjs"); let src;
const pending = process.argv[3] === "blocked" ? g() : null;
const s = new inspector.Session(); s.connect();
let id; s.on("Debugger.scriptParsed", (m) => { if (m.params.url.endsWith("/liveedit-cost-target.cjs")) id = m.params.scriptId; });
s.post("Debugger.enable", () => {
  const times = [];
  let n = 0;
  const step = () => {
    const t = performance.now();
    s.post("Debugger.setScriptSource", { scriptId: id, scriptSource: src.replace("async function g(){", n++ % 2 ? "async function g(){ " : "async function g(){") }, (e, r) => {
      times.push([(performance.now() - t).toFixed(1), r?.status ?? e?.message]);
      if (n < 4) step(); else { console.log(MB, "MB-ish heap", (process.memoryUsage().heapUsed / 1e6).toFixed(0), "MB used", JSON.stringify(times)); process.exit(0); }
    });
  };
  s.post("Debugger.getScriptSource", { scriptId: id }, (e, r) => { src = r.scriptSource; step(); });
});
