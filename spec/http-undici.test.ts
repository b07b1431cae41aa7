/**
 * The undici package (pinned, from npm): its own API (request, stream, a Client's request)
 * and fetch publish on the same diagnostics channel; the trace tells them apart
 * (api "undici" against "fetch"), for the package's fetch as for Node's own.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes } from "./harness";
import { installTools, writeProject } from "./toolchain-harness";

afterAll(cleanup);

const app = `
const http = require("node:http");
const undici = require("undici");
const server = http.createServer((req, res) => res.end(req.url)).listen(0, "127.0.0.1", async () => {
  const base = "http://127.0.0.1:" + server.address().port;
  const out = [];
  out.push(await (await undici.request(base + "/request")).body.text());
  out.push(await (await undici.fetch(base + "/undici-fetch")).text());
  out.push(await (await fetch(base + "/global-fetch")).text());
  const client = new undici.Client(base);
  out.push(await (await client.request({ path: "/client", method: "GET" })).body.text());
  await client.close();
  console.log(out.join(" "));
  server.close();
});
`;

for (const [name, runtime] of installedNodes) {
  test(`${name}: undici's own requests are api undici, fetch's are fetch`, async () => {
    const nodeModules = await installTools("undici");
    const dir = writeProject(join(scratchDir(), `undici-${name.replace(/\W/g, "")}`), nodeModules, { "app.js": app });
    const argv = [runtime, join(dir, "app.js")];
    const plain = await runUntraced(argv, { cwd: dir });
    const run = await runTraced(argv, { cwd: dir });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: "/request /undici-fetch /global-fetch /client\n", stderr: plain.stderr });
    const rows = ofKind(run.events, "http_client_request").map((e) => [e.fields.api, String(e.fields.url).replace(/:\d+/, ":PORT")]);
    expect(rows).toEqual([
      ["undici", "http://127.0.0.1:PORT/request"],
      ["fetch", "http://127.0.0.1:PORT/undici-fetch"],
      ["fetch", "http://127.0.0.1:PORT/global-fetch"],
      ["undici", "http://127.0.0.1:PORT/client"],
    ]);
  }, 120_000);
}
