/**
 * Records laid out in a Uint32Array as zig/layout.zig's 64-byte Record, for the sinks'
 * `recordBatch` (scope.node): 16 words a record; words 2-3 the timestamp (0: stamped
 * natively), 6-15 the payload fields a..e as little-endian u64 (low word, high word).
 * A `string` record carries its fragment index in the flags, the id in field a's low
 * word, the string's byte length in its high word, and 32 bytes of it from byte 32
 * (zig/ring.zig string_fragments).
 */
import { Kind } from "./kinds";
import { previewBytes } from "./preview";

export const RECORD_WORDS = 16;
export const STRING_FRAGMENT_BYTES = 32;

/** How many `string` records a string of `length` bytes takes (an empty one takes one). */
export function fragmentsOf(length: number): number {
  return length === 0 ? 1 : Math.ceil(length / STRING_FRAGMENT_BYTES);
}

/**
 * Writes the first `length` bytes of previewBytes() (the last preview walk) as string
 * `id`'s records from record `first` on; the rest of the last fragment is zeroed. Words
 * the layout leaves to the native side (seq, timestamp, pid, tid) are not touched.
 * Returns how many records it wrote.
 */
export function writePreviewString(words: Uint32Array, bytes: Uint8Array, first: number, id: number, length: number): number {
  const fragments = fragmentsOf(length);
  const source = previewBytes();
  for (let f = 0; f < fragments; f++) {
    const base = (first + f) * RECORD_WORDS;
    words[base + 1] = Kind.string | (f << 16);
    words[base + 6] = id;
    words[base + 7] = length;
    const from = f * STRING_FRAGMENT_BYTES;
    const to = Math.min(length, from + STRING_FRAGMENT_BYTES);
    let at = base * 4 + STRING_FRAGMENT_BYTES;
    for (let i = from; i < to; i++) bytes[at++] = source[i]!;
    for (let i = to; i < from + STRING_FRAGMENT_BYTES; i++) bytes[at++] = 0;
  }
  return fragments;
}
