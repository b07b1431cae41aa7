// One database workload, run by scripts/bench-db.ts traced and untraced: prints the CPU time
// (user + system) per query of its timed loop, after a warm-up, as one JSON line.
const which = process.argv[2];
const count = Number(process.argv[3] ?? 2000);

function cpuNs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

async function timed(run) {
  await run(Math.min(200, count));
  const before = cpuNs();
  const started = process.hrtime.bigint();
  await run(count);
  const wallNs = Number(process.hrtime.bigint() - started);
  console.log(JSON.stringify({ which, count, cpuNsPerQuery: (cpuNs() - before) / count, wallNsPerQuery: wallNs / count }));
}

async function main() {
  if (which === "better-sqlite3") {
    const db = new (require("better-sqlite3"))(":memory:");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
    for (let i = 0; i < 100; i++) insert.run(`v${i}`);
    const get = db.prepare("SELECT v FROM t WHERE id = ?");
    await timed(async (n) => {
      for (let i = 0; i < n; i++) get.get((i % 100) + 1);
    });
  } else if (which === "pg" || which === "pg-literal") {
    const { Client } = require("pg");
    const client = new Client({ connectionString: process.env.PGURL });
    await client.connect();
    await timed(async (n) => {
      for (let i = 0; i < n; i++) {
        if (which === "pg") await client.query("SELECT $1::int AS n", [i]);
        else await client.query(`SELECT ${i} AS n, 'user${i}@example.com' AS email`);
      }
    });
    await client.end();
  } else if (which === "pg-pool") {
    const { Pool } = require("pg");
    const pool = new Pool({ connectionString: process.env.PGURL, max: 4 });
    await timed(async (n) => {
      for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].map((j) => pool.query("SELECT $1::int AS n", [i + j])));
    });
    await pool.end();
  } else if (which === "mysql2" || which === "mysql2-execute" || which === "mysql2-pool") {
    const mysql = require("mysql2");
    const options = { host: "127.0.0.1", port: Number(process.env.MYSQL_PORT), user: "root", database: "scope" };
    const call = (fn) => new Promise((resolve, reject) => fn((error, rows) => (error ? reject(error) : resolve(rows))));
    if (which === "mysql2-pool") {
      const pool = mysql.createPool({ ...options, connectionLimit: 4 });
      await timed(async (n) => {
        for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].map((j) => call((cb) => pool.query("SELECT ? AS n", [i + j], cb))));
      });
      await call((cb) => pool.end(cb));
    } else {
      const conn = mysql.createConnection(options);
      const method = which === "mysql2" ? "query" : "execute";
      await timed(async (n) => {
        for (let i = 0; i < n; i++) await call((cb) => conn[method]("SELECT ? AS n", [i], cb));
      });
      await call((cb) => conn.end(cb));
    }
  } else if (which === "postgres") {
    const sql = require("postgres")(process.env.PGURL, { max: 4 });
    await timed(async (n) => {
      for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].map((j) => sql`SELECT ${i + j}::int AS n`));
    });
    await sql.end();
  } else throw new Error(`unknown workload ${which}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
