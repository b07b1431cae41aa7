/** A minimal source map v3 reader for the instrumentation tests (VLQ mappings → lookups). */
import type { SourceMapV3 } from "../src/instrument/print";

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Each generated line: segments [generatedColumn, source, originalLine, originalColumn] (0-based). */
function decode(mappings: string): number[][][] {
  const lines: number[][][] = [];
  let source = 0;
  let originalLine = 0;
  let originalColumn = 0;
  for (const lineText of mappings.split(";")) {
    const segments: number[][] = [];
    let column = 0;
    for (const segmentText of lineText.split(",")) {
      if (!segmentText) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segmentText) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0]!;
      if (values.length >= 4) {
        source += values[1]!;
        originalLine += values[2]!;
        originalColumn += values[3]!;
        segments.push([column, source, originalLine, originalColumn]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

export class SourceMapConsumerLite {
  private readonly lines: number[][][];
  constructor(map: SourceMapV3) {
    this.lines = decode(map.mappings);
  }

  /** 1-based line, 0-based column of `offset` in `text`. */
  position(text: string, offset: number): { line: number; column: number } {
    const before = text.slice(0, offset).split("\n");
    return { line: before.length, column: before[before.length - 1]!.length };
  }

  /** The original position (1-based line, 0-based column) of generated `offset`. */
  originalFor(generated: string, offset: number): { line: number; column: number } | undefined {
    const { line, column } = this.position(generated, offset);
    const segments = this.lines[line - 1] ?? [];
    let best: number[] | undefined;
    for (const segment of segments) if (segment[0]! <= column) best = segment;
    if (!best) return undefined;
    return { line: best[2]! + 1, column: best[3]! + (column - best[0]!) };
  }
}
