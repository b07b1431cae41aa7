/**
 * The ORM audit's servers (BENCHMARKS.md "Real projects: ORMs"): PostgreSQL, MariaDB and Redis
 * from the spec harnesses, with every statement logged server-side (PostgreSQL's
 * log_statement=all, MariaDB's general log) so compare.sh can count what the drivers sent.
 * Writes env.sh beside itself; runs until SIGTERM/SIGINT.   bun scripts/orm-audit/servers.ts
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startPostgres } from "../../spec/postgres-harness";
import { startMySql } from "../../spec/mysql-harness";
import { startRedis } from "../../spec/redis-harness";

const pg = await startPostgres();
const my = await startMySql();
const redis = await startRedis();
pg.psql("ALTER SYSTEM SET log_statement = 'all'");
pg.psql("SELECT pg_reload_conf()");
// The server runs as the harness's service user: its log goes where that user may write.
const logDir = mkdtempSync(join(tmpdir(), "scope-orm-audit-"));
chmodSync(logDir, 0o777);
const myLog = join(logDir, "mysql-general.log");
my.sql(`SET GLOBAL general_log_file = '${myLog}'; SET GLOBAL general_log = 1;`);
const lines = {
  PG_URL: pg.url,
  PG_LOG: join(dirname(pg.socketDir), "server.log"),
  MY_HOST: my.host,
  MY_PORT: String(my.port),
  MY_USER: my.user,
  MY_DB: my.database,
  MY_LOG: myLog,
  REDIS_URL: redis.url,
};
writeFileSync(join(import.meta.dir, "env.sh"), Object.entries(lines).map(([key, value]) => `export ${key}=${value}\n`).join(""));
console.log("ready");
const stop = () => {
  pg.stop();
  my.stop();
  redis.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => {}, 1 << 30);
