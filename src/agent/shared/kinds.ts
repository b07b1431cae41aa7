/**
 * The numbers the agent writes, from zig/layout.zig and src/core/model.ts. Kept as
 * plain constants (no import of src/core) so the agent bundle stays self-contained.
 */
export const Kind = {
  trace_start: 2,
  trace_stop: 3,
  process_spawn: 4,
  process_exit: 5,
  child_exit: 6,
  thread_spawn: 7,
  thread_exit: 8,
  thread_exited: 9,
  message_send: 10,
  message_receive: 11,
  agent_error: 13,
} as const;

export const ChannelKind = { worker: 1, port: 2, broadcast: 3, ipc: 4, cluster: 5 } as const;

export const SpawnMethod = {
  spawn: 1,
  fork: 2,
  exec: 3,
  execFile: 4,
  spawnSync: 5,
  execSync: 6,
  execFileSync: 7,
  clusterFork: 8,
} as const;

export const ExitReason = { normal: 0, processExit: 1, uncaughtException: 2, unhandledRejection: 3, signal: 4 } as const;

/** Field b of message_send/message_receive: ChannelKind | direction << 8 | sub-id << 16. */
export function channelField(kind: number, direction: number, subId: number): number {
  return kind + direction * 0x100 + subId * 0x10000;
}

/** Sub-ids stay below 2^36 so that field b is an exact double. */
export const MAX_SUB_ID = 2 ** 36;
