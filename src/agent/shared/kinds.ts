/**
 * The numbers the agent writes: the wire format's, from src/core/layout.ts (the mirror of
 * zig/layout.zig). In the Node agent's bundles this line is replaced at build time by TS
 * enums of the same values (src/core/assets.ts, `agentKindsPlugin`), which the bundler
 * inlines at every use: no object of ~60 properties built in every thread at its start.
 * So agent code uses these by member access only (`Kind.message_send`, `AsyncLevel[name]`),
 * never as objects to iterate, except the ones kept as objects (AGENT_KINDS_KEPT).
 */
export { ASYNC_TYPE_STRING_FLAG, AsyncLevel, AsyncType, ChannelCloseFlag, ChannelKind, DB_CONNECTION_UNIT, DbSystem, EventKind as Kind, ExitReason, HTTP_TLS_FLAG, HttpClient, HttpConnectionFlag, HttpEnd, HttpEndFlag, HttpProtocol, LongTaskKind, LoopSampleFlag, MEMORY_SAMPLE_WORKER, MonitorMissing, SpawnMethod, STEP_FRAMEWORK_LIMIT, STEP_ORDINAL_LIMIT, StepStartFlag, ThreadSpawnFlag } from "../../core/layout";

/**
 * Field b of message_send/message_receive: ChannelKind | direction << 8 | sub-id << 16, as
 * kind + direction * 2^8 + sub-id * 2^16 (exact: below 2^53). Written in the form with the least
 * bytecode (21 bytes; 28 as the sum of three terms): at 27 or less V8 inlines it as a small
 * function at any depth, in Maglev code too, and Node 20 no longer TurboFan-compiles it alone in
 * each thread (BENCHMARKS.md "The send's layout for both Nodes"; the value: spec/channel-field).
 */
export function channelField(kind: number, direction: number, subId: number): number {
  return kind + (direction + subId * 0x100) * 0x100;
}

/** Sub-ids stay below 2^36 so that field b is an exact double. */
export const MAX_SUB_ID = 2 ** 36;
