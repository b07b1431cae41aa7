// An express app whose routes run an ORM's steps; the program calls its own routes in order.
const express = require("express");
const http = require("node:http");

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", reject);
  });
}

async function runApp(name, steps, close, conc) {
  const app = express();
  if (conc) app.get("/conc/:i", async (req, res) => { try { res.json({ ok: true, result: await conc(+req.params.i) }); } catch (error) { res.status(500).json({ ok: false, error: String(error && error.message) }); } });
  for (const [route, fn] of Object.entries(steps)) {
    app.get("/" + route, async (req, res) => {
      try {
        res.json({ ok: true, result: await fn() });
      } catch (error) {
        res.status(500).json({ ok: false, error: String(error && (error.code || error.name)) + ": " + String(error && error.message).split("\n")[0] });
      }
    });
  }
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = server.address().port;
  for (const route of Object.keys(steps)) {
    const r = await get(port, "/" + route);
    console.log(`${name} /${route} ${r.status} ${r.body}`);
  }
  if (conc) {
    const all = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => get(port, "/conc/" + i)));
    all.forEach((r, i) => console.log(`${name} /conc/${i + 1} ${r.status} ${r.body}`));
  }
  if (process.env.ORM_STEADY) {
    // Steady state: the join route again and again; the program's own CPU per request, to a file.
    const n = Number(process.env.ORM_STEADY);
    for (let i = 0; i < 200; i++) await get(port, "/join");
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await get(port, "/join");
    const c = process.cpuUsage(c0);
    require("node:fs").appendFileSync(process.env.ORM_STEADY_OUT, `${name} ${Math.round((c.user + c.system) / n)}\n`);
  }
  server.close();
  await close();
}
module.exports = { runApp };
