// Bun's built-in SQL client for scripts/bench-db.ts: argv[2] queries timed (after a warm-up of
// 500), one `select $1` at a time on `new SQL(PGURL)`. Prints {"cpuNsPerQuery"}.
import { SQL } from "bun";

const count = Number(process.argv[2] ?? 2000);
const sql = new SQL(process.env.PGURL!, { max: 1 });
const run = async (n: number) => {
  for (let i = 0; i < n; i++) await sql`select ${i}::int as i`;
};
await run(500);
const cpu = process.cpuUsage();
await run(count);
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ cpuNsPerQuery: ((used.user + used.system) * 1000) / count }));
await sql.close();
