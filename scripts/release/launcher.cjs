#!/usr/bin/env node
// The `scope` command of the npm package: finds the package holding this platform's compiled
// `scope` (one of the main package's optionalDependencies; npm installs only the one whose
// os, cpu and libc match) and runs it with this process's arguments, standard streams and
// environment, then ends as it ended (its exit code, or the signal that killed it).
// Plain CommonJS with no dependencies: it runs on whatever Node npm installed it with.
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const { constants } = require("node:os");

/** `<platform>-<arch>-<libc>` to package; scripts/release/platforms.ts holds the same list. */
const packages = {
  "linux-x64-glibc": "@scope-tracer/linux-x64-gnu",
  "linux-arm64-glibc": "@scope-tracer/linux-arm64-gnu",
};

/** The C library Node runs on: "glibc", "musl", or "" outside Linux. */
function libc() {
  if (process.platform !== "linux") return "";
  const report = process.report && process.report.getReport();
  return report && report.header && report.header.glibcVersionRuntime ? "glibc" : "musl";
}

/** The executable in `name`, or undefined when that package is not installed. */
function binaryOf(name) {
  try {
    return require.resolve(`${name}/bin/scope`);
  } catch {
    return undefined;
  }
}

function fail(message) {
  process.stderr.write(`scope: ${message}\n`);
  process.exit(1);
}

/**
 * The binary to run. Resolved first and the C library looked at only when that fails: npm
 * installed the package that matches, and the report that tells glibc from musl takes ~10 ms.
 */
function findBinary() {
  const own = require("../package.json");
  for (const [key, name] of Object.entries(packages)) {
    if (!key.startsWith(`${process.platform}-${process.arch}-`)) continue;
    const binary = binaryOf(name);
    if (!binary) continue;
    const installed = require(`${name}/package.json`).version;
    if (installed !== own.version) fail(`${name} is version ${installed}, ${own.name} is ${own.version}: install both at one version (npm install -g ${own.name}@${own.version})`);
    return binary;
  }
  const c = libc();
  const name = packages[`${process.platform}-${process.arch}-${c}`];
  if (!name) {
    const describe = (key) => key.replace(/^(\w+-\w+)-(\w+)$/, "$1 ($2)");
    const here = c ? `${process.platform}-${process.arch} (${c})` : `${process.platform}-${process.arch}`;
    fail(`no scope binary for ${here}: ${own.name} ${own.version} has them for ${Object.keys(packages).map(describe).join(", ")}`);
  }
  fail(`${name} is not installed (npm leaves optional dependencies out with --omit=optional or --no-optional): npm install -g ${own.name}@${own.version} ${name}@${own.version}`);
}

/**
 * Whether this process is in its terminal's foreground process group (pgrp equals tpgid in
 * /proc/self/stat), where a SIGINT is the terminal's Ctrl-C to the whole group. The same
 * test as src/run/forwarding.ts inTerminalForeground (this file has no dependencies).
 */
function inTerminalForeground() {
  try {
    const stat = require("node:fs").readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === Number(fields[2]);
  } catch {
    return false;
  }
}

/**
 * stdio for scope: 0-2, then each file descriptor above 2 this process inherited at its own
 * number ("ignore" opens nothing in the gaps): what exec would have left open (`scope run --
 * node app.js <(...)`'s /dev/fd/63, `3<file`). Node's spawn passes only what stdio names.
 * Left out are Node's own: its event loops' (anon_inode: epoll, eventfd) and its self-pipes
 * (a pipe whose read and write ends are both here; an inherited one comes as one end, except
 * a make jobserver's pair, which is left out with them). src/core/own-environment.ts does the
 * same for scope (this file has no dependencies).
 */
function inheritedStdio() {
  const fs = require("node:fs");
  const stdio = ["inherit", "inherit", "inherit"];
  const found = [];
  let names = [];
  try {
    names = fs.readdirSync("/proc/self/fd");
  } catch {
    return stdio;
  }
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("anon_inode:")) continue;
      const flags = /^flags:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
      found.push({ fd, target, mode: flags ? Number.parseInt(flags[1], 8) & 3 : -1 });
    } catch {
      // the directory's own descriptor, closed by now
    }
  }
  const bothEnds = (target) => target.startsWith("pipe:") && found.some((a) => a.target === target && a.mode === 0) && found.some((b) => b.target === target && b.mode === 1);
  const fds = found.filter(({ target }) => !bothEnds(target)).map(({ fd }) => fd).sort((a, b) => a - b);
  for (let fd = 3, next = 0; fds.length > 0 && fd <= fds[fds.length - 1]; fd++) {
    if (fds[next] === fd) {
      stdio.push(fd);
      next++;
    } else stdio.push("ignore");
  }
  return stdio;
}

/**
 * A probe of the launcher's process group, which scope and the program share: a `cat` reading
 * a pipe of the launcher's (it ends with the launcher), which SIGINT, SIGTERM and SIGHUP end;
 * SIGQUIT it has blocked (coreutils' `env --block-signal`, 8.31+, where this system's env
 * takes it), so that one stays pending rather than dumping a core.
 * A signal sent to the whole group (`timeout`, `kill -- -PGID`, a supervisor) reached scope
 * and the program already, and is pending in the probe or has ended it when the handler runs;
 * one sent to the launcher's pid alone leaves it untouched. The same test as
 * src/run/forwarding.ts groupProbe (this file has no dependencies). A probe that cannot start
 * (no `cat`) says no: every signal is passed on.
 */
function groupProbe() {
  const env = ["/usr/bin/env", "/bin/env"].find((path) => {
    try {
      return spawnSync(path, ["--block-signal=QUIT", "true"], { stdio: "ignore" }).status === 0;
    } catch {
      return false;
    }
  });
  const start = () => {
    const probe = env === undefined ? spawn("cat", [], { stdio: ["pipe", "ignore", "ignore"] }) : spawn(env, ["--block-signal=QUIT", "cat"], { stdio: ["pipe", "ignore", "ignore"] });
    probe.on("error", () => {});
    return probe;
  };
  let probe = start();
  return {
    reachedGroup(signal) {
      if (!probe || probe.pid === undefined) return false;
      const number = constants.signals[signal];
      let reached = probe.signalCode === signal;
      let ended = probe.exitCode !== null || probe.signalCode !== null;
      if (!ended) {
        try {
          const fs = require("node:fs");
          const status = fs.readFileSync(`/proc/${probe.pid}/status`, "utf8");
          const mask = (field) => BigInt(`0x${(new RegExp(`^${field}:\\s*([0-9a-f]+)`, "m").exec(status) || [])[1] || "0"}`);
          reached = ((mask("SigPnd") | mask("ShdPnd")) & (1n << BigInt(number - 1))) !== 0n;
          if (/^State:\s*Z/m.test(status)) {
            const stat = fs.readFileSync(`/proc/${probe.pid}/stat`, "utf8").trim().split(" ");
            reached = reached || (Number(stat[stat.length - 1]) & 0x7f) === number;
            ended = true;
          }
        } catch {
          ended = true;
        }
      }
      if (reached || ended) {
        probe.kill("SIGKILL");
        probe = start();
      }
      return reached;
    },
    /** Ends the probe; `then` once it has ended (reaped here, not left to init as a zombie). */
    stop(then) {
      const last = probe;
      probe = undefined;
      if (!last || last.pid === undefined || last.exitCode !== null || last.signalCode !== null) return then();
      last.once("exit", then);
      last.kill();
    },
  };
}

/**
 * Runs `binary` as a child. Signals the terminal sends to the whole foreground process
 * group (Ctrl-C, Ctrl-\) reach scope directly, so here they only keep the launcher alive
 * until scope has ended; so do SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the whole process
 * group (groupProbe): scope has them already, and passing them on made scope pass a second one
 * to the program. The ones a user or a supervisor sends to this process's pid are passed on
 * (SIGINT and SIGQUIT too when not from the terminal: timeout -s INT, pm2). scope stop signals the scope
 * process itself (it finds it by its ring file).
 */
function run(binary, args) {
  const child = spawn(binary, args, { stdio: inheritedStdio() });
  const probe = groupProbe();
  const ignored = ["SIGINT", "SIGQUIT"];
  const passed = ["SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"];
  // The probe is looked at 20 ms later, one decision for what arrives meanwhile: `timeout`
  // signals this pid first and the group right after (src/run/forwarding.ts PROBE_DELAY_MS).
  const deciding = new Set();
  const forward = (signal) => {
    if (deciding.has(signal)) return;
    deciding.add(signal);
    setTimeout(() => {
      deciding.delete(signal);
      if (!probe.reachedGroup(signal)) child.kill(signal);
    }, 20);
  };
  process.on("SIGINT", () => {
    if (!inTerminalForeground()) forward("SIGINT");
  });
  process.on("SIGQUIT", () => {
    if (!inTerminalForeground()) forward("SIGQUIT");
  });
  for (const signal of passed) process.on(signal, () => (signal === "SIGTERM" || signal === "SIGHUP" ? forward(signal) : child.kill(signal)));
  child.on("error", (error) => fail(`cannot run ${binary}: ${error.message}`));
  child.on("exit", (code, signal) =>
    probe.stop(() => {
      if (signal === null) process.exit(code === null ? 1 : code);
      // End by the same signal, so a shell sees what it would without the launcher; Node
      // ignores SIGPIPE, hence the exit status a shell gives a signal when that does nothing.
      for (const name of [...ignored, ...passed]) process.removeAllListeners(name);
      process.kill(process.pid, signal);
      process.exit(128 + (constants.signals[signal] || 0));
    }),
  );
}

if (require.main === module) {
  run(findBinary(), process.argv.slice(2));
} else {
  module.exports = { packages };
}
