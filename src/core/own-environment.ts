/**
 * Imported first by the CLI (src/cli/main.ts): what scope was started with, for `scope run`
 * to hand on to the program as an untraced start would have it.
 *
 * The environment: process.env back to the one scope was started with. Bun loads `.env`, `.env.local` and `.env.<NODE_ENV>` from the working
 * directory into process.env (the compiled executable too: scripts/compile.ts turns that
 * off there, a source checkout's `bun src/cli/main.ts` cannot), and `scope run` hands
 * process.env to the program: an untraced `node app.js` does not see those variables
 * (NODE_ENV=production, a NODE_OPTIONS, a DATABASE_URL), the traced one did. Those files
 * only add names (an inherited variable is never overridden), so the names that are not
 * in the environment the kernel gave this process (/proc/self/environ) are removed.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

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

/**
 * The file descriptors above 2 that scope inherited: what exec would have left open for the
 * program untraced (`node app.js --config <(...)`'s /dev/fd/63, `3<file`, a jobserver's
 * pipes, systemd's LISTEN_FDS sockets, a parent's NODE_CHANNEL_FD). Bun marks them
 * close-on-exec and Bun.spawn passes only stdio, so session.ts passes them at the same
 * numbers (inheritedStdio). Taken now, before scope opens anything; left out are Bun's own:
 * its event loop's (anon_inode: eventpoll, eventfd) and, running from source (not in the
 * compiled executable), the copies of stdout and stderr Bun makes before the CLI's first
 * module runs (descriptors with fd 1's or 2's target, offset and flags: a `3>&1` given to a
 * source checkout's scope is left out with them).
 */
function inheritedDescriptors(): number[] {
  const description = (fd: number) => {
    try {
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
      const flags = Number.parseInt(/^flags:\s*(\d+)/m.exec(info)?.[1] ?? "0", 8) & ~0o2000000; // not O_CLOEXEC: per descriptor
      return `${readlinkSync(`/proc/self/fd/${fd}`)} ${/^pos:\s*(\d+)/m.exec(info)?.[1]} ${flags}`;
    } catch {
      return undefined; // closed, or the directory's own descriptor (closed by now)
    }
  };
  const compiled = typeof SCOPE_ASSET_HASH === "string" && SCOPE_ASSET_HASH.length > 0;
  const bunCopies = compiled ? [] : [description(1), description(2)];
  const fds: number[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc/self/fd");
  } catch {
    return fds;
  }
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    const seen = description(fd);
    if (seen === undefined || seen.startsWith("anon_inode:") || bunCopies.includes(seen)) continue;
    fds.push(fd);
  }
  return fds.sort((a, b) => a - b);
}

const inherited = inheritedDescriptors();

/**
 * Bun.spawn's stdio for the program: 0-2 inherited, then each inherited descriptor at its own
 * number ("ignore" opens nothing in the gaps).
 */
export function inheritedStdio(): ["inherit", "inherit", "inherit", ...("ignore" | number)[]] {
  const stdio: ["inherit", "inherit", "inherit", ...("ignore" | number)[]] = ["inherit", "inherit", "inherit"];
  const last = inherited.at(-1) ?? 2;
  for (let fd = 3, next = 0; fd <= last; fd++) {
    if (inherited[next] === fd) {
      stdio.push(fd);
      next++;
    } else stdio.push("ignore");
  }
  return stdio;
}
