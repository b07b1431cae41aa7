/**
 * Follows a trace file while the collector writes it (`scope run --otlp`): reads the
 * chunks appended since the last look and hands over their records. It reads only what
 * the collector already wrote (one `write` per chunk), so it never waits for or slows the
 * drain. A chunk is taken when it is whole: its sequence number the next expected, its
 * sizes consistent and its CRC-32C right (a chunk still being written fails the checksum
 * and is looked at again next time; one that still fails once more bytes follow it is
 * damage, and following stops there). The native reader cannot take a lone chunk (it
 * checks sequence numbers from 0), so the check is done here.
 * Layout: zig/trace_file.zig (header size at byte 16; a chunk is a 64-byte header, kind at
 * byte 4, payload size at byte 16, then the payload).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { decodeRecord, type DecodedRecord } from "../core/events";
import { RECORD_SIZE } from "../core/layout";

const CHUNK_HEADER_BYTES = 64;
const CHUNK_MAGIC = 0x4b434353; // "SCCK" little-endian
const CHUNK_KIND_END = 2;

/** CRC-32C (Castagnoli, reflected 0x82F63B78), as zig/trace_file.zig checks chunks. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export class TraceFollower {
  private readonly fd: number;
  private header: Uint8Array | null = null;
  private offset = 0;
  private sequence = 0;
  /** The end chunk was read: nothing more will come. */
  ended = false;
  /** Why following stopped early (a chunk the reader refused), if it did. */
  error: string | null = null;

  constructor(private readonly path: string) {
    this.fd = openSync(path, "r");
  }

  private read(at: number, length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, bytes, done, length - done, at + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? bytes : bytes.subarray(0, done);
  }

  /** The records of the whole chunks written since the last call (at most `maxChunks` chunks). */
  poll(maxChunks = 64): DecodedRecord[] {
    const records: DecodedRecord[] = [];
    if (this.ended || this.error) return records;
    const size = fstatSync(this.fd).size;
    if (!this.header) {
      if (size < 20) return records;
      const headerBytes = new DataView(this.read(16, 4).buffer).getUint32(0, true);
      if (size < headerBytes) return records;
      this.header = this.read(0, headerBytes);
      this.offset = headerBytes;
    }
    for (let chunks = 0; chunks < maxChunks && this.offset + CHUNK_HEADER_BYTES <= size; chunks++) {
      const head = this.read(this.offset, CHUNK_HEADER_BYTES);
      const view = new DataView(head.buffer);
      if (view.getUint32(0, true) !== CHUNK_MAGIC) {
        this.error = `no chunk at byte ${this.offset}`;
        break;
      }
      const payload = view.getUint32(16, true);
      const count = view.getUint32(12, true);
      if (view.getUint32(8, true) !== this.sequence || payload > 4096 * RECORD_SIZE || (view.getUint32(4, true) !== CHUNK_KIND_END && payload !== count * RECORD_SIZE)) {
        this.error = `a bad chunk header at byte ${this.offset}`;
        break;
      }
      if (this.offset + CHUNK_HEADER_BYTES + payload > size) break;
      const chunk = this.read(this.offset, CHUNK_HEADER_BYTES + payload);
      const body = chunk.subarray(CHUNK_HEADER_BYTES);
      if (crc32c(crc32c(0, chunk.subarray(0, CHUNK_HEADER_BYTES - 4)), body) !== view.getUint32(CHUNK_HEADER_BYTES - 4, true)) {
        // Still being written, or damaged: damaged once more bytes follow it than a chunk holds.
        if (size - this.offset > 2 * (CHUNK_HEADER_BYTES + 4096 * RECORD_SIZE)) this.error = `a chunk's checksum does not match at byte ${this.offset}`;
        break;
      }
      if (view.getUint32(4, true) === CHUNK_KIND_END) {
        this.ended = true;
        break;
      }
      for (let at = 0; at < body.byteLength; at += RECORD_SIZE) records.push(decodeRecord(body, at));
      this.sequence++;
      this.offset += CHUNK_HEADER_BYTES + payload;
    }
    return records;
  }

  /** The file's header bytes, once read (null before the first poll found them). */
  headerBytes(): Uint8Array | null {
    return this.header;
  }

  close(): void {
    closeSync(this.fd);
  }
}
