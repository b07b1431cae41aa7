// The client side of the real-web apps: `rounds` passes over a list of requests, 8 at a time,
// keep-alive on even rounds and a new connection a request on odd ones; the first round's
// responses (status, headers but Date/Connection/Keep-Alive, body) printed, then a digest of all.
const http = require("node:http");
const { createHash } = require("node:crypto");

const VOLATILE = new Set(["date", "keep-alive", "connection"]);

function one(port, r, agent) {
  return new Promise((resolve, reject) => {
    const headers = { ...(r.headers ?? {}) };
    if (r.body) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(r.body));
    }
    const req = http.request({ host: "127.0.0.1", port, method: r.method ?? "GET", path: r.path, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const hs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (!VOLATILE.has(res.rawHeaders[i].toLowerCase())) hs.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        resolve(`${r.method ?? "GET"} ${r.path} -> ${res.statusCode}\n${hs.join("\n")}\n${Buffer.concat(chunks).toString("latin1")}`);
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(r.body);
  });
}

exports.load = async function load(port, reqs, rounds = Number(process.env.ROUNDS ?? "20"), concurrency = 8) {
  const keep = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const hash = createHash("sha256");
  let first = "";
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    const agent = round % 2 === 0 ? keep : false;
    for (let i = 0; i < reqs.length; i += concurrency) {
      const out = await Promise.all(reqs.slice(i, i + concurrency).map((r) => one(port, r, agent)));
      for (const o of out) {
        hash.update(o);
        hash.update("\n");
        n++;
        if (round === 0) first += `${o}\n---\n`;
      }
    }
  }
  keep.destroy();
  process.stdout.write(first);
  process.stdout.write(`requests ${n} sha256 ${hash.digest("hex")}\n`);
};
