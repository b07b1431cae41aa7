// The client side of the Next.js audit: ROUNDS passes over a list of requests to the server
// at 127.0.0.1:PORT, 8 at a time, keep-alive on even rounds and a new connection a request on
// odd ones; the server action's POSTs one at a time after the GETs (the /action
// page's count is the same in every run). Prints the first round's responses (status,
// headers but Date/Connection/Keep-Alive, body with Next's per-build and per-render ids
// masked: MASK), then the request count and a digest of all.
//
//   PORT=3000 ROUNDS=50 ACTION_ID=<id> DATABASE_URL=... node load.cjs
// Run from the app's directory (pg from its node_modules resets the table first).
const http = require("node:http");
const { createHash } = require("node:crypto");
const { Client } = require(require.resolve("pg", { paths: [process.cwd()] }));

const VOLATILE = new Set(["date", "keep-alive", "connection"]);
const port = Number(process.env.PORT);
const rounds = Number(process.env.ROUNDS ?? "20");
const actionId = process.env.ACTION_ID;
const concurrency = 8;

// Next's build id is the same for one build; nothing else is masked unless MASK says so.
const mask = process.env.MASK ? new RegExp(process.env.MASK, "g") : undefined;

function one(r, agent) {
  return new Promise((resolve, reject) => {
    const headers = { ...(r.headers ?? {}) };
    if (r.body) headers["content-length"] = String(Buffer.byteLength(r.body));
    const req = http.request({ host: "127.0.0.1", port, method: r.method ?? "GET", path: r.path, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const hs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (!VOLATILE.has(res.rawHeaders[i].toLowerCase())) hs.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        let body = Buffer.concat(chunks).toString("latin1");
        if (mask) body = body.replace(mask, "<masked>");
        resolve(`${r.method ?? "GET"} ${r.path} -> ${res.statusCode}\n${hs.join("\n")}\n${body}`);
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(r.body);
  });
}

function actionPost(name) {
  const boundary = "----scopeaudit";
  const field = (key, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`;
  const body = field(`$ACTION_ID_${actionId}`, "") + field("name", name) + `--${boundary}--\r\n`;
  return { method: "POST", path: "/action", headers: { "content-type": `multipart/form-data; boundary=${boundary}`, origin: `http://127.0.0.1:${port}` }, body };
}

async function main() {
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  await db.query("DELETE FROM cats WHERE id > 100");
  await db.end();
  const gets = [{ path: "/" }, { path: "/api/cats" }, { path: "/boom" }, { path: "/action" }, { path: "/nowhere" }];
  for (let id = 1; id <= 11; id++) gets.push({ path: `/cats/${id}` });
  const posts = actionId ? [actionPost("tom"), actionPost("felix")] : [];
  const keep = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const hash = createHash("sha256");
  let first = "";
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    const agent = round % 2 === 0 ? keep : false;
    for (const [batchList, width] of [[gets, concurrency], [posts, 1]]) {
      for (let i = 0; i < batchList.length; i += width) {
        const out = await Promise.all(batchList.slice(i, i + width).map((r) => one(r, agent)));
        for (const o of out) {
          hash.update(o);
          hash.update("\n");
          n++;
          if (round === 0) first += `${o}\n---\n`;
        }
      }
    }
  }
  keep.destroy();
  process.stdout.write(first);
  process.stdout.write(`requests ${n} sha256 ${hash.digest("hex")}\n`);
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
