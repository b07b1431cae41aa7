/**
 * scope query's terminal table (src/query/format.ts): trace data is shown, never acted on by
 * the terminal (an error message with ESC sequences, a bidirectional override), and columns
 * line up by what the terminal draws (CJK and emoji take two columns), cut inside no character.
 */
import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { Chalk } from "chalk";
import { Output } from "../src/core/output";
import { writeRows, type Row } from "../src/query/format";

async function table(columns: string[], rows: Row[]): Promise<string> {
  let text = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  expect(await writeRows(new Output(sink), columns, rows, "table", new Chalk({ level: 0 }))).toBe(true);
  return text;
}

test("control and bidirectional characters in cells are shown escaped, not written to the terminal", async () => {
  const text = await table(["name", "error_message"], [{ name: "risky", error_message: "\x1b[2J\x1b]0;pwned\x07 cleared \u202Egnp.exe \x9b1m" }]);
  expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  expect(text).toContain("\\u001b[2J\\u001b]0;pwned\\u0007 cleared \\u202egnp.exe \\u009b1m");
});

test("columns line up in terminal columns with wide characters; a cut keeps whole characters", async () => {
  const text = await table(["name", "n"], [
    { name: "日本語関数", n: 1 },
    { name: "🎉emoji", n: 22 },
    { name: "plain", n: 333 },
  ]);
  const lines = text.split("\n").filter((line) => line && !line.startsWith("("));
  // Every line ends its number column at the same terminal column.
  const ends = lines.map((line) => Bun.stringWidth(line));
  expect(new Set(ends).size).toBe(1);
  const long = await table(["text"], [{ text: "x".repeat(78) + "🎉🎉🎉" }]);
  const row = long.split("\n")[2]!;
  expect(row).toEndWith("…");
  expect(Bun.stringWidth(row)).toBeLessThanOrEqual(80);
  expect(row).not.toMatch(/[\ud800-\udfff](?![\udc00-\udfff])/u);
  expect(row.isWellFormed()).toBe(true);
});
