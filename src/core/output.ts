/**
 * Writing to a stream that its reader may close early (`scope dump t.bin | head -5`).
 *
 * Bun ignores SIGPIPE, so a write to a closed pipe fails with EPIPE (thrown, or, once
 * Bun queues the writes of a full pipe, as a later 'error' event) instead of ending the
 * process the way SIGPIPE ends `cat` or `jq`. An Output notices it, stops writing, and
 * the command ends quietly with CLOSED_PIPE_STATUS: 141, what a shell reports for `cat`
 * or `jq` ended by SIGPIPE (128 + 13), so `set -o pipefail` scripts see what they see
 * with those tools. Nothing is printed about it.
 *
 * Output also batches small writes into chunks and waits for 'drain' when the stream's
 * buffer is full, so a slow or early-closing reader never makes the writer queue the whole
 * output in memory, and a closed reader is noticed after at most one chunk.
 */
import type { Writable } from "node:stream";

/** 128 + SIGPIPE, as a shell reports a tool that SIGPIPE ended. */
export const CLOSED_PIPE_STATUS = 141;

const CHUNK_CHARS = 64 * 1024;

/** True for the error of a write to a pipe (or socket) whose reader is gone. */
export function isClosedPipe(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END";
}

export class Output {
  /** The reader went away: further writes are skipped. */
  closed = false;
  private chunk = "";
  private waiting = false;

  constructor(private readonly stream: Writable) {
    // An asynchronous EPIPE arrives as an 'error' event; without a listener it would be thrown.
    // Any other failed write (ENOSPC: stdout on a full disk or /dev/full) ends the writing
    // too: thrown from here it was uncaught, printed a stack and left scope spinning. What is
    // said about it, and the status, are src/cli/main.ts's (stdoutFailure).
    if (typeof stream.on === "function") {
      stream.on("error", () => {
        this.closed = true;
      });
    }
  }

  /** Writes `text` at once, never waiting; false once the reader is gone. */
  writeNow(text: string): boolean {
    if (this.closed) return false;
    try {
      return this.stream.write(text) || !this.closed;
    } catch (error) {
      if (!isClosedPipe(error)) throw error;
      this.closed = true;
      return false;
    }
  }

  /** Adds `text` to the current chunk; call flush() when `full`, and once at the end. */
  add(text: string): void {
    this.chunk += text;
  }

  get full(): boolean {
    return this.chunk.length >= CHUNK_CHARS;
  }

  /** Writes the chunk and waits while the stream's buffer is full; false once the reader is gone. */
  async flush(): Promise<boolean> {
    const text = this.chunk;
    this.chunk = "";
    if (text.length === 0 || this.closed) return !this.closed;
    let accepted: boolean;
    try {
      accepted = this.stream.write(text);
    } catch (error) {
      if (!isClosedPipe(error)) throw error;
      this.closed = true;
      return false;
    }
    if (!accepted && !this.closed && !this.waiting) await this.drained();
    return !this.closed;
  }

  private drained(): Promise<void> {
    this.waiting = true;
    return new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off("drain", done);
        this.stream.off("error", done);
        this.stream.off("close", done);
        this.waiting = false;
        resolve();
      };
      this.stream.once("drain", done);
      this.stream.once("error", done);
      this.stream.once("close", done);
    });
  }
}
