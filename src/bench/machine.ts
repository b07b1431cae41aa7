/** The machine a report was measured on, for its header. */
import { cpus, loadavg, release, totalmem } from "node:os";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  bun: string;
  /** 1-minute load average when the bench started: other work on the machine shows here. */
  loadAverage: number;
}

export function describeMachine(): Machine {
  const processors = cpus();
  const node = Bun.spawnSync(["node", "--version"], { stdout: "pipe", stderr: "ignore" });
  return {
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    cores: processors.length,
    memoryBytes: totalmem(),
    kernel: release(),
    node: node.success ? node.stdout.toString().trim() : "not found",
    bun: Bun.version,
    loadAverage: loadavg()[0] ?? 0,
  };
}
