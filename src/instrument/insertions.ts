/**
 * The edits of the buffer walk (transform-raw.ts) without magic-string: the transform only
 * inserts text at original offsets, so the calls are kept in flat arrays and the output is
 * made once, by sorting them by offset. magic-string splits its chunk list at every edit
 * (an object and two string slices each; typescript.js at "full": ~100,000 edits), which
 * was most of what was left of a first transform after the walk (BENCHMARKS.md).
 *
 * Same result as magic-string for the same calls: at an offset, what was inserted with
 * appendLeft (the text ending there) comes first, in call order, then what starts there:
 * prependRight calls in reverse order, then appendRight calls in call order. append is
 * appendRight at the very end (magic-string's outro, after everything); appendLeft at 0 is
 * before everything (its intro). `toMagicString()` replays the
 * calls for what needs magic-string itself (a full map, an input map to chain).
 */
import MagicString from "magic-string";
import { lineStarts } from "./line-ends";

const LEFT = 0;
const APPEND_RIGHT = 1;
const PREPEND_RIGHT = 2;

/** Calls out of order up to which sorted() moves each one into place instead of sorting. */
const FEW_OUT_OF_ORDER = 64;

/** What transform-raw.ts calls: the insertion subset of magic-string. */
export interface InsertionSink {
  appendLeft(at: number, text: string): unknown;
  appendRight(at: number, text: string): unknown;
  prependRight(at: number, text: string): unknown;
  /** The original's line starts (line-ends.ts lineStarts), when the walk made them: the shifts count lines with them. */
  lineStarts?: number[];
}

/** Insertions grouped as magic-string keeps them: per offset, the text ending there, then the text starting there. */
export interface InsertionGroups {
  at: number[];
  text: string[];
  /** A removal to the end, if there is one: the bounds of magic-string's chunks in it, in order. */
  removed?: number[];
}

export class Insertions implements InsertionSink {
  readonly original: string;
  private readonly offsets: number[] = [];
  private readonly kinds: number[] = [];
  private readonly texts: string[] = [];
  private order: Int32Array | undefined;
  /** Calls in `order` (the rest were made after it was sorted). */
  private orderLength = 0;
  /** Set by the walk (transform-raw.ts): the original's line starts. */
  lineStarts: number[] | undefined = undefined;
  /** remove(start, end) with end at the original's end (the input map comment): where it starts. */
  private removedFrom: number;

  constructor(original: string) {
    this.original = original;
    this.removedFrom = original.length;
  }

  /**
   * magic-string's remove, for a range that ends at the end of the original (all print.ts
   * removes: the input map's comment). Insertions strictly inside it go with it, as
   * magic-string (0.30) empties the intro and outro of the removed chunks but the outer ones.
   */
  remove(start: number, end: number): this {
    if (end !== this.original.length || start < 0 || start > end) throw new Error(`Insertions.remove(${start}, ${end}): only a range up to the end (${this.original.length})`);
    if (start < end) this.removedFrom = Math.min(this.removedFrom, start);
    return this;
  }

  /** Whether insertion `i` was removed with the text around it (see remove). */
  private removed(i: number): boolean {
    const at = this.offsets[i]!;
    if (this.removedFrom >= this.original.length) return false;
    return at > this.removedFrom && at < this.original.length;
  }

  appendLeft(at: number, text: string): this {
    return this.add(at, LEFT, text);
  }

  appendRight(at: number, text: string): this {
    return this.add(at, APPEND_RIGHT, text);
  }

  prependRight(at: number, text: string): this {
    return this.add(at, PREPEND_RIGHT, text);
  }

  /** magic-string's append: into its outro, as appendRight at the end is. */
  append(text: string): this {
    return this.add(this.original.length, APPEND_RIGHT, text);
  }

  hasChanged(): boolean {
    return this.removedFrom < this.original.length || this.texts.some((text) => text.length > 0);
  }

  private add(at: number, kind: number, text: string): this {
    if (!(at >= 0 && at <= this.original.length)) throw new Error(`insertion at ${at} outside 0..${this.original.length}`);
    // An append after sorting (print.ts's table, made from the shifts) goes last in output
    // order too (the outro, in call order): the order stays, no second sort.
    if (this.order && !(kind === APPEND_RIGHT && at === this.original.length)) this.order = undefined;
    this.offsets.push(at);
    this.kinds.push(kind);
    this.texts.push(text);
    return this;
  }

  /** Whether insertion `i` goes after the original text (magic-string's outro: the right side of the end). */
  private inOutro(i: number): boolean {
    return this.kinds[i] !== LEFT && this.offsets[i] === this.original.length;
  }

  /** Whether call a goes before call b in the output: offset, then side (left first), then rank within the side. */
  private before(a: number, b: number): boolean {
    const offsets = this.offsets;
    if (offsets[a] !== offsets[b]) return offsets[a]! < offsets[b]!;
    const kinds = this.kinds;
    const leftA = kinds[a] === LEFT;
    if (leftA !== (kinds[b] === LEFT)) return leftA;
    // Left, and appendRight: call order; prependRight: reverse call order, before the appendRights.
    const rankA = leftA ? a : kinds[a] === PREPEND_RIGHT ? -1 - a : a + (1 << 20);
    const rankB = leftA ? b : kinds[b] === PREPEND_RIGHT ? -1 - b : b + (1 << 20);
    return rankA < rankB;
  }

  /**
   * The output order into `order` when at most FEW_OUT_OF_ORDER calls are out of call
   * order (else false, `order` to be filled otherwise): one pass keeps the calls in order
   * and sets aside each call that breaks it (the one before, when the new call still goes
   * after the one before that; else the new call), the few set aside are sorted and merged
   * back in.
   */
  private inPlace(order: Int32Array): boolean {
    const n = order.length;
    const aside: number[] = [];
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (kept === 0 || this.before(order[kept - 1]!, i)) {
        order[kept++] = i;
        continue;
      }
      if (aside.length === FEW_OUT_OF_ORDER) return false;
      if (kept === 1 || this.before(order[kept - 2]!, i)) {
        aside.push(order[kept - 1]!);
        order[kept - 1] = i;
      } else aside.push(i);
    }
    if (aside.length === 0) return true;
    aside.sort((a, b) => (this.before(a, b) ? -1 : 1));
    // Merged from the back: order[0, kept) and aside into order[0, n).
    let k = kept - 1;
    let a = aside.length - 1;
    for (let at = n - 1; a >= 0; at--) {
      if (k >= 0 && this.before(aside[a]!, order[k]!)) order[at] = order[k--]!;
      else order[at] = aside[a--]!;
    }
    return true;
  }

  /** The calls' indices in output order. */
  private sorted(): Int32Array {
    const n = this.offsets.length;
    if (this.order && this.orderLength === n) return this.order;
    if (this.order) {
      // Appends since the sort (add): after everything, in call order.
      const grown = new Int32Array(n);
      grown.set(this.order);
      for (let i = this.orderLength; i < n; i++) grown[i] = i;
      this.order = grown;
      this.orderLength = n;
      return grown;
    }
    const order = new Int32Array(n);
    // The walk calls in source order but for the few texts it adds at a node's end before
    // walking its children (typescript.js: 8 of 29,343 out of order): each of those is moved
    // into place (a binary search and one copyWithin) in the call order, with no keys made,
    // sorted and decoded (that cost a first start ~10 ms of cold loops on that file).
    if (n < 1 << 20 && this.original.length < 1 << 30 && this.inPlace(order)) {
      // order holds the output order.
    } else if (n < 1 << 20 && this.original.length < 1 << 30) {
      // One numeric sort of packed keys: offset, side (left 0, right 1), then the rank within the side.
      const keys = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const kind = this.kinds[i]!;
        const rank = kind === LEFT ? i : kind === PREPEND_RIGHT ? (1 << 20) - 1 - i : (1 << 20) + i;
        keys[i] = this.offsets[i]! * 2 ** 22 + (kind === LEFT ? 0 : 2 ** 21) + rank;
      }
      keys.sort();
      for (let k = 0; k < n; k++) {
        // The low 22 bits without `%` (a floating-point remainder: a C call per key in V8).
        const key = keys[k]!;
        const low = key - Math.floor(key / 2 ** 22) * 2 ** 22;
        const right = low >= 2 ** 21;
        const rank = right ? low - 2 ** 21 : low;
        order[k] = !right ? rank : rank < 1 << 20 ? (1 << 20) - 1 - rank : rank - (1 << 20);
      }
    } else {
      const indices = Array.from({ length: n }, (_, i) => i);
      const side = (i: number) => (this.kinds[i] === LEFT ? 0 : 1);
      const rank = (i: number) => (this.kinds[i] === PREPEND_RIGHT ? -i : i);
      indices.sort((a, b) => this.offsets[a]! - this.offsets[b]! || side(a) - side(b) || rank(a) - rank(b));
      order.set(indices);
    }
    this.order = order;
    this.orderLength = n;
    return order;
  }

  /** The output; `prefix` and `suffix` around it in the same join (print.ts: the CommonJS wrapper, no second copy). */
  toString(prefix = "", suffix = ""): string {
    const order = this.sorted();
    const code = this.original;
    const parts: string[] = [prefix];
    let from = 0;
    const kept = this.removedFrom;
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      if (this.removed(i)) continue;
      const at = this.offsets[i]!;
      if (at > from) {
        parts.push(code.slice(from, Math.min(at, kept)));
        from = at;
      }
      parts.push(this.texts[i]!);
    }
    if (from < kept) parts.push(code.slice(from, kept));
    parts.push(suffix);
    return parts.join("");
  }

  /**
   * The one walk over the sorted calls that groups() and lineShifts() share: per offset, the
   * calls whose text ends there (appendLeft), then those whose text starts there, each group
   * handed to `each` as its run order[from..to) of sorted(), as magic-string's chunk outros
   * and intros hold them; not what goes after the end of the original (the outro), nor what
   * a removal took (removal depends on the offset alone: a group goes whole). Stops when
   * `each` returns false.
   */
  private eachGroup(each: (offset: number, from: number, to: number, order: Int32Array) => boolean): void {
    const order = this.sorted();
    const offsets = this.offsets;
    const kinds = this.kinds;
    let k = 0;
    while (k < order.length) {
      const i = order[k]!;
      if (this.inOutro(i)) return;
      const offset = offsets[i]!;
      const left = kinds[i] === LEFT;
      let end = k + 1;
      while (end < order.length && offsets[order[end]!] === offset && (kinds[order[end]!] === LEFT) === left) end++;
      if (!this.removed(i) && !each(offset, k, end, order)) return;
      k = end;
    }
  }

  /** Per offset, the text ending there and the text starting there, each as one group (eachGroup). */
  groups(): InsertionGroups {
    const at: number[] = [];
    const text: string[] = [];
    const texts = this.texts;
    this.eachGroup((offset, from, to, order) => {
      let group = "";
      for (let k = from; k < to; k++) group += texts[order[k]!]!;
      at.push(offset);
      text.push(group);
      return true;
    });
    if (this.removedFrom >= this.original.length) return { at, text };
    // magic-string's chunks inside the removed range: split at every offset an insertion was made at.
    const splits = [...new Set(this.offsets.filter((offset) => offset > this.removedFrom && offset < this.original.length))].sort((a, b) => a - b);
    return { at, text, removed: [this.removedFrom, ...splits, this.original.length] };
  }

  /**
   * print.ts columnShifts of these insertions (LineShifts: one pair per group of eachGroup,
   * empty groups left out); undefined when an inserted text holds a line break. Counted from
   * the calls' own texts: the groups' joined texts are never made (on typescript.js that
   * concatenation and the scans of it cost more than the rest of print).
   */
  lineShifts(starts = this.lineStarts): string | undefined {
    const shifts = new LineShifts(this.original, starts);
    const texts = this.texts;
    let valid = true;
    this.eachGroup((offset, from, to, order) => {
      let length = 0;
      for (let k = from; k < to; k++) {
        const text = texts[order[k]!]!;
        if (text.length === 0) continue;
        if (text.indexOf("\n") >= 0) return (valid = false);
        length += text.length;
      }
      shifts.add(offset, length);
      return true;
    });
    return valid ? shifts.text() : undefined;
  }

  /** A magic-string with the same calls made in the same order, over the original or another text of its length. */
  toMagicString(original = this.original): MagicString {
    const magic = new MagicString(original);
    for (let i = 0; i < this.offsets.length; i++) {
      const at = this.offsets[i]!;
      const text = this.texts[i]!;
      const kind = this.kinds[i];
      if (kind === LEFT) magic.appendLeft(at, text);
      else if (kind === APPEND_RIGHT) magic.appendRight(at, text);
      else magic.prependRight(at, text);
    }
    if (this.removedFrom < this.original.length) magic.remove(this.removedFrom, this.original.length);
    return magic;
  }
}

/**
 * print.ts columnShifts being counted: insertions added in offset order, each as the
 * original offset and the inserted length; per line with insertions `line,count` then
 * `count` pairs `column,length` (1-based line, 0-based original column), joined by ",".
 * The numbers are joined once: a string per insertion cost several times MagicString's own
 * toString on typescript.js. Shared by the buffer walk's insertions and magic-string's chunks.
 */
export class LineShifts {
  /** The code's line starts as the engine counts lines (line-ends.ts lineStarts). */
  private readonly starts: number[];
  private readonly numbers: number[] = [];
  private line = 1;
  private lineStart = 0;
  private lineAt = 0;
  private countAt = -1;

  /** `starts`: the code's lineStarts when the caller has them (the walk made them), else counted here. */
  constructor(code: string, starts: number[] = lineStarts(code)) {
    this.starts = starts;
  }

  /** `length` characters inserted at original offset `offset` (nothing when 0). */
  add(offset: number, length: number): void {
    if (length === 0) return;
    const starts = this.starts;
    // starts[line] is the start of the line after `line` (1-based): its line end is just before it.
    let line = this.line;
    while (line < starts.length && starts[line]! - 1 < offset) line++;
    if (line !== this.line) {
      this.line = line;
      this.lineStart = starts[line - 1]!;
    }
    if (this.lineAt !== this.line) {
      this.numbers.push(this.line, 0);
      this.countAt = this.numbers.length - 1;
      this.lineAt = this.line;
    }
    this.numbers.push(offset - this.lineStart, length);
    this.numbers[this.countAt]!++;
  }

  text(): string {
    return this.numbers.join(",");
  }
}
