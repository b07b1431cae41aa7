/**
 * Imported first by the CLI (src/cli/main.ts): process.env back to the environment scope
 * was started with. Bun loads `.env`, `.env.local` and `.env.<NODE_ENV>` from the working
 * directory into process.env (the compiled executable too: scripts/compile.ts turns that
 * off there, a source checkout's `bun src/cli/main.ts` cannot), and `scope run` hands
 * process.env to the program: an untraced `node app.js` does not see those variables
 * (NODE_ENV=production, a NODE_OPTIONS, a DATABASE_URL), the traced one did. Those files
 * only add names (an inherited variable is never overridden), so the names that are not
 * in the environment the kernel gave this process (/proc/self/environ) are removed.
 */
import { readFileSync } from "node:fs";

function restoreOwnEnvironment(): void {
  let initial: string;
  try {
    initial = readFileSync("/proc/self/environ", "utf8");
  } catch {
    return; // not Linux's /proc: leave it as Bun made it
  }
  const names = new Set<string>();
  for (const entry of initial.split("\0")) {
    const equals = entry.indexOf("=");
    if (equals > 0) names.add(entry.slice(0, equals));
  }
  for (const name of Object.keys(process.env)) if (!names.has(name)) delete process.env[name];
}

restoreOwnEnvironment();
