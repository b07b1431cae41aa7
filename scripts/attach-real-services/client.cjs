// Bounded load from a separate process: CONC connections, RATE requests/s at most, until STOP exists.
// Reference bodies are fetched first (service untraced). Writes OUT: JSON {reqs:[[seq,t0,t1,status,ok]], ...}.
const http = require("node:http");
const fs = require("node:fs");
const [base, conc, rate, out, stop] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
const IDS = 50;
function get(path) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const req = http.get(`${base}${path}`, { agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ t0, t1: Date.now(), status: res.statusCode, type: res.headers["content-type"], body: Buffer.concat(chunks).toString() }));
      res.on("error", (e) => resolve({ t0, t1: Date.now(), status: -1, body: String(e) }));
    });
    req.setTimeout(10000, () => { req.destroy(new Error("hang")); });
    req.on("error", (e) => resolve({ t0, t1: Date.now(), status: -2, body: String(e) }));
  });
}
(async () => {
  const ref = [];
  for (let id = 0; id < IDS; id++) ref.push(await get(`/u/${id}`));
  process.stdout.write("ready\n");
  const reqs = [];
  let seq = 0;
  const interval = 1000 / Number(rate) * Number(conc);
  const bad = [];
  async function lane() {
    while (!fs.existsSync(stop)) {
      const s = seq++;
      const id = s % IDS;
      const started = Date.now();
      const r = await get(`/u/${id}?seq=${s}`);
      const ok = r.status === ref[id].status && r.body === ref[id].body && r.type === ref[id].type;
      if (!ok && bad.length < 20) bad.push({ s, status: r.status, body: r.body.slice(0, 200) });
      reqs.push([s, r.t0, r.t1, r.status, ok ? 1 : 0]);
      const wait = interval - (Date.now() - started);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
  }
  await Promise.all(Array.from({ length: Number(conc) }, lane));
  agent.destroy();
  fs.writeFileSync(out, JSON.stringify({ reqs, bad }));
})();
