/**
 * Field b of message_send/message_receive (src/agent/shared/kinds.ts `channelField`): kind in
 * bits 0-7, direction in 8-15, the sub-id from bit 16 up (below 2^36, an exact double). The
 * function is written in the form with the least bytecode (it sits on every send and receive,
 * under V8's small-function inlining size), so its value is checked here against the field's
 * definition and against what the decoder (src/core/model.ts) reads back.
 */
import { expect, test } from "bun:test";
import { channelField, MAX_SUB_ID } from "../src/agent/shared/kinds";

test("channelField is kind + direction * 2^8 + subId * 2^16, exactly, up to the largest sub-id", () => {
  const subIds = [0, 1, 2, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, 123456789012, MAX_SUB_ID - 1];
  for (const subId of subIds) {
    for (const direction of [0, 1, 2, 255]) {
      for (const kind of [0, 1, 4, 255]) {
        const b = channelField(kind, direction, subId);
        expect(b).toBe(kind + direction * 0x100 + subId * 0x10000);
        expect(Number.isSafeInteger(b)).toBe(true);
        // The decoder's reading (src/core/model.ts messageFields).
        expect(b % 0x100).toBe(kind);
        expect(Math.floor(b / 0x100) % 0x100).toBe(direction);
        expect(Math.floor(b / 0x10000)).toBe(subId);
      }
    }
  }
});
