/** The built-in workloads of `scope bench`, in the order they run. */
import type { WorkloadFile } from "./workloads";

export interface ProgramWorkload {
  name: string;
  description: string;
  kind: "program";
  file: WorkloadFile;
  /** The program's parameters at scale 1; sizes scale with --scale. */
  params: Record<string, number>;
  /** Parameters that are not amounts of work (never scaled). */
  fixed?: readonly string[];
}

export interface HttpWorkload {
  name: string;
  description: string;
  kind: "http";
  connections: number;
}

export interface NativeWorkload {
  name: string;
  description: string;
  kind: "native";
}

export type Workload = ProgramWorkload | HttpWorkload | NativeWorkload;

export const workloads: readonly Workload[] = [
  {
    name: "http",
    description: "node:http JSON service on loopback, 32 keep-alive connections",
    kind: "http",
    connections: 32,
  },
  {
    name: "pingpong",
    description: "worker-thread ping-pong (postMessage both ways)",
    kind: "program",
    file: "pingpong.cjs",
    params: { roundTrips: 20000 },
  },
  {
    name: "pool",
    description: "pool of 2 worker threads processing small jobs",
    kind: "program",
    file: "pool.cjs",
    params: { workers: 2, jobs: 100000, inFlight: 8, rounds: 200 },
    fixed: ["workers", "inFlight", "rounds"],
  },
  {
    name: "processes",
    description: "child-process churn: fork, one IPC message each way, exit",
    kind: "program",
    file: "processes.cjs",
    params: { children: 40, concurrency: 2 },
    fixed: ["concurrency"],
  },
  {
    name: "seed",
    description: "the seed's: spawn a worker, send it a message, let it exit",
    kind: "program",
    file: "seed.cjs",
    params: { workers: 100 },
  },
  {
    name: "control",
    description: "CPU-bound JavaScript with no traced events",
    kind: "program",
    file: "control.cjs",
    params: { iterations: 1000 },
  },
  {
    name: "native",
    description: "ring and codec microbenchmarks (scripts/ of the native core)",
    kind: "native",
  },
];

export const workloadNames = workloads.map((workload) => workload.name);

/** The parameters for one run: amounts of work scaled, at least 1 of each. */
export function scaledParams(workload: ProgramWorkload, scale: number): Record<string, number> {
  const params: Record<string, number> = {};
  for (const [key, value] of Object.entries(workload.params)) {
    params[key] = workload.fixed?.includes(key) ? value : Math.max(1, Math.round(value * scale));
  }
  return params;
}
