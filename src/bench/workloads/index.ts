/**
 * The workload programs `scope bench` runs. They are embedded into the compiled
 * executable (imported as files) and written out to one private temporary directory
 * per bench session, since the `node` that runs them cannot read Bun's embedded file
 * system; they `require("./common.cjs")` (async.cjs its tasks, web-server.cjs its app), so they keep their names side by side.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import asyncWorkload from "./async.cjs" with { type: "file" };
import asyncTasks from "./async-tasks.cjs" with { type: "file" };
import common from "./common.cjs" with { type: "file" };
import control from "./control.cjs" with { type: "file" };
import functions from "./functions.cjs" with { type: "file" };
import httpLoad from "./http-load.cjs" with { type: "file" };
import httpServer from "./http-server.cjs" with { type: "file" };
import loopgc from "./loopgc.cjs" with { type: "file" };
import pingpong from "./pingpong.cjs" with { type: "file" };
import pool from "./pool.cjs" with { type: "file" };
import processes from "./processes.cjs" with { type: "file" };
import seed from "./seed.cjs" with { type: "file" };
import soak from "./soak.cjs" with { type: "file" };
import soakLoad from "./soak-load.cjs" with { type: "file" };
import transformStart from "./transform-start.cjs" with { type: "file" };
import webApp from "./web-app.cjs" with { type: "file" };
import webServer from "./web-server.cjs" with { type: "file" };

const sources = {
  "async.cjs": asyncWorkload,
  "async-tasks.cjs": asyncTasks,
  "common.cjs": common,
  "control.cjs": control,
  "functions.cjs": functions,
  "http-load.cjs": httpLoad,
  "http-server.cjs": httpServer,
  "loopgc.cjs": loopgc,
  "pingpong.cjs": pingpong,
  "pool.cjs": pool,
  "processes.cjs": processes,
  "seed.cjs": seed,
  "soak.cjs": soak,
  "soak-load.cjs": soakLoad,
  "transform-start.cjs": transformStart,
  "web-app.cjs": webApp,
  "web-server.cjs": webServer,
} as const;

export type WorkloadFile = keyof typeof sources;

export interface WorkloadDir {
  /** The scratch directory: the programs, and the results and traces of runs. */
  dir: string;
  path(file: WorkloadFile): string;
  remove(): void;
}

/** Writes every workload program into a fresh private directory. */
export async function extractWorkloads(): Promise<WorkloadDir> {
  const dir = mkdtempSync(join(tmpdir(), "scope-bench-"));
  chmodSync(dir, 0o700);
  for (const [name, source] of Object.entries(sources)) {
    writeFileSync(join(dir, name), new Uint8Array(await Bun.file(source).arrayBuffer()), { mode: 0o600 });
  }
  return {
    dir,
    path: (file) => join(dir, file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
