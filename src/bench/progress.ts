/**
 * The progress line on stderr: rewritten in place on a terminal, one line per step
 * otherwise (so logs keep every step).
 */
import type { Writable } from "node:stream";

export function progressLine(stream: Writable & { isTTY?: boolean }) {
  const tty = stream.isTTY === true;
  let shown = false;
  return {
    update: (text: string) => {
      if (tty) {
        stream.write(`\r\x1b[2Kscope bench: ${text}`);
        shown = true;
      } else stream.write(`scope bench: ${text}\n`);
    },
    clear: () => {
      if (tty && shown) stream.write("\r\x1b[2K");
      shown = false;
    },
  };
}
