// bun:sqlite's prepared get, timed like workload.cjs.
import { Database } from "bun:sqlite";
const count = Number(process.argv[2] ?? 20000);
const db = new Database(":memory:");
db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
for (let i = 0; i < 100; i++) insert.run(`v${i}`);
const get = db.prepare("SELECT v FROM t WHERE id = ?");
for (let i = 0; i < 200; i++) get.get((i % 100) + 1);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const before = cpu();
for (let i = 0; i < count; i++) get.get((i % 100) + 1);
console.log(JSON.stringify({ which: "bun:sqlite", count, cpuNsPerQuery: (cpu() - before) / count }));
