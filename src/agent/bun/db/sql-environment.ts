/**
 * Bun's SQL clients read their defaults from the environment (DATABASE_URL, POSTGRES_URL,
 * PGHOST, MYSQL_URL, …) even when given options, and refuse to be made when one of them is
 * refused (an unsupported protocol). When that happens to the agent's own read of Bun's default
 * client or to the client it makes only to reach the classes (bun-sql.ts), it tries again
 * without them (the variables taken out and put back, so they move to the end of
 * `Object.keys(process.env)`: only then, in a program whose default client Bun refuses).
 */
/** Runs `read` with the environment variables of Bun's default SQL client removed, then puts them back. */
export function withoutSqlEnvironment<T>(read: () => T): T {
  const env = process.env;
  const saved: [string, string | undefined][] = [];
  for (const key of Object.keys(env)) {
    if (/^(TLS_)?(DATABASE|POSTGRES|PG|MYSQL|MARIADB|SQLITE)/i.test(key)) {
      saved.push([key, env[key]]);
      delete env[key];
    }
  }
  try {
    return read();
  } finally {
    for (const [key, value] of saved) env[key] = value;
  }
}

