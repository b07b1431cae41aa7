/**
 * The numbers the agent writes: the wire format's, from src/core/layout.ts (the mirror of
 * zig/layout.zig). The bundler inlines them, so the agent bundle stays self-contained.
 */
export { ChannelKind, EventKind as Kind, ExitReason, HTTP_TLS_FLAG, HttpClient, HttpConnectionFlag, HttpEnd, HttpEndFlag, HttpProtocol, LongTaskKind, LoopSampleFlag, MEMORY_SAMPLE_WORKER, MonitorMissing, SpawnMethod } from "../../core/layout";

/** Field b of message_send/message_receive: ChannelKind | direction << 8 | sub-id << 16. */
export function channelField(kind: number, direction: number, subId: number): number {
  return kind + direction * 0x100 + subId * 0x10000;
}

/** Sub-ids stay below 2^36 so that field b is an exact double. */
export const MAX_SUB_ID = 2 ** 36;
