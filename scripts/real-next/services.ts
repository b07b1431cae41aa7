// The services the audit's Next.js app uses, started with the repo's harness: a fresh
// PostgreSQL (spec/postgres-harness.ts) with a `cats` table, and a small HTTP upstream on
// 127.0.0.1 (GET /facts). Writes `DATABASE_URL=... UPSTREAM_PORT=...` to the file given as
// its argument, then runs until it gets SIGTERM or SIGINT (then stops PostgreSQL).
//
//   bun scripts/real-next/services.ts /tmp/scope-nextjs/services.env &
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { startPostgres } from "../../spec/postgres-harness";

const out = process.argv[2];
if (!out) throw new Error("usage: bun scripts/real-next/services.ts <env file>");
const pg = await startPostgres();
pg.psql("CREATE TABLE cats (id serial PRIMARY KEY, name text NOT NULL, age int NOT NULL)");
pg.psql("INSERT INTO cats (name, age) SELECT 'cat ' || i, i % 20 FROM generate_series(1, 100) AS i");
const upstream = createServer((req, res) => {
  const body = JSON.stringify([{ fact: "cats sleep 16 hours a day" }, { fact: "a group of cats is a clowder" }]);
  res.writeHead(req.url === "/facts" ? 200 : 404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
const port = (upstream.address() as { port: number }).port;
writeFileSync(out, `DATABASE_URL=${pg.url}\nUPSTREAM_PORT=${port}\n`);
const stop = () => {
  upstream.close();
  pg.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
