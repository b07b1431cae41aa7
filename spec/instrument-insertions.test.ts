/**
 * insertions.ts (the buffer walk's edits) against magic-string for the same calls: the
 * text, the per-line column shifts (print.ts columnShifts) and the sparse source map
 * (sparse-map.ts) must be the same for any mix of appendLeft / appendRight /
 * prependRight / append at any offsets, the ends included, and a removal up to the end
 * (an input map's comment) after them. Seeded random sequences.
 */
import { expect, test } from "bun:test";
import MagicString from "magic-string";
import { Insertions } from "../src/instrument/insertions";
import { columnShifts } from "../src/instrument/print";
import { sparseMap } from "../src/instrument/sparse-map";
import { lineStarts } from "../src/instrument/line-ends";

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const sources = ["function f(a) {\n  return a + 1;\n}\nconst g = (x) => x * 2;\n", "a", "x = 1\r\ny = 2\r\n", "if (a) {\n\n  b();\n}\n// end"];

test("same text, column shifts and sparse map as magic-string", () => {
  let cases = 0;
  for (const [n, code] of sources.entries()) {
    for (let seed = 1; seed <= 500; seed++) {
      const next = random(seed * 31 + n);
      const magic = new MagicString(code);
      const flat = new Insertions(code);
      const calls = 1 + Math.floor(next() * 12);
      for (let c = 0; c < calls; c++) {
        // Offsets cluster on a few places (several calls at one offset), ends included.
        const at = next() < 0.3 ? (next() < 0.5 ? 0 : code.length) : Math.floor(next() * (code.length + 1));
        const text = ["(", ")", "H.c(1);", "", "}finally{}", `x${c}`][Math.floor(next() * 6)]!;
        const kind = Math.floor(next() * 4);
        if (kind === 0) (magic.appendLeft(at, text), flat.appendLeft(at, text));
        else if (kind === 1) (magic.appendRight(at, text), flat.appendRight(at, text));
        else if (kind === 2) (magic.prependRight(at, text), flat.prependRight(at, text));
        else (magic.append(text), flat.append(text));
      }
      // As print.ts does with an input map's comment: remove a range up to the end, then append.
      if (next() < 0.4) {
        const start = Math.floor(next() * (code.length + 1));
        magic.remove(start, code.length);
        flat.remove(start, code.length);
        magic.append("//table\n");
        flat.append("//table\n");
      }
      const label = `source ${n}, seed ${seed}`;
      // The walk hands its line starts over (transform-raw.ts): the shifts count lines with them.
      if (seed % 2 === 0) flat.lineStarts = lineStarts(code);
      expect({ label, text: flat.toString() }).toEqual({ label, text: magic.toString() });
      expect({ label, shifts: columnShifts(flat, code) }).toEqual({ label, shifts: columnShifts(magic, code) });
      // Appends after the order was made (print.ts's table after the shifts) keep it.
      if (seed % 3 === 0) {
        magic.append(`/*${seed}*/`);
        flat.append(`/*${seed}*/`);
        magic.append("\n");
        flat.append("\n");
        expect({ label, appended: flat.toString() }).toEqual({ label, appended: magic.toString() });
      }
      expect({ label, map: sparseMap(flat, code, "f.js") }).toEqual({ label, map: sparseMap(magic, code, "f.js") });
      expect({ label, changed: flat.hasChanged() }).toEqual({ label, changed: magic.hasChanged() });
      expect({ label, replayed: flat.toMagicString().toString() }).toEqual({ label, replayed: magic.toString() });
      cases++;
    }
  }
  expect(cases).toBe(sources.length * 500);
});

test("many calls in source order but a few (the walk's ends before children), and many out of order: same text as magic-string", () => {
  const code = "a(b => { c(d => e); f(); }, function g() { h(); });\n".repeat(40);
  for (let seed = 1; seed <= 60; seed++) {
    const next = random(seed);
    const magic = new MagicString(code);
    const flat = new Insertions(code);
    // Out of order: none, a few (moved into place), more than the few (sorted).
    const shuffled = seed % 3 === 0 ? 0 : seed % 3 === 1 ? 1 + Math.floor(next() * 20) : 100 + Math.floor(next() * 200);
    let at = 0;
    for (let c = 0; c < 600; c++) {
      const jump = c < shuffled || next() < shuffled / 600;
      at = jump ? Math.floor(next() * (code.length + 1)) : Math.min(code.length, at + Math.floor(next() * 4));
      const text = [`(H.c(${c}),`, ")", `H.c(${c});`, ""][Math.floor(next() * 4)]!;
      const kind = Math.floor(next() * 3);
      if (kind === 0) (magic.appendLeft(at, text), flat.appendLeft(at, text));
      else if (kind === 1) (magic.appendRight(at, text), flat.appendRight(at, text));
      else (magic.prependRight(at, text), flat.prependRight(at, text));
    }
    expect({ seed, text: flat.toString() }).toEqual({ seed, text: magic.toString() });
    expect({ seed, shifts: columnShifts(flat, code) }).toEqual({ seed, shifts: columnShifts(magic, code) });
  }
});
