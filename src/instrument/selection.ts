/**
 * Saying when a choice of what to trace matched nothing. Each thread that instruments
 * (its Matcher's onSelect, and the function tables its runtime registers) writes one
 * `function_selection` record per pattern the first time the pattern matches there; at
 * the thread's end, for each pattern that matched nothing there, the few loaded paths (or
 * package or function names) closest to it. `scope run` reads these records from the
 * trace when the program has ended (selectionReport): a pattern no thread matched gets a
 * summary line naming it and the closest candidates any thread saw. Process trees need no
 * coordination: a match anywhere clears the pattern.
 *
 * Node's ES modules are loaded on its hooks thread, which writes no records: its loader
 * (esm-loader.ts) keeps its matches and candidates in a SharedArrayBuffer the thread that
 * registered it reads (SharedSelection), at each function table and at its end.
 */
import { globToRegExp, parsePackagePattern, type FilePaths, type MatchConfig, type Matcher, type Selection } from "./match";

/** function_selection field d: what the pattern chooses. */
export const PatternKind = { include: 1, package: 2, function: 3 } as const;
export type PatternKindNumber = (typeof PatternKind)[keyof typeof PatternKind];

/** function_selection flags. */
export const SelectionFlag = {
  /** Not a match: this thread's end, the pattern matched nothing here; c = a candidate (0: none). */
  unmatched: 1,
} as const;

/** function_selection's kind number (zig/layout.zig). */
export const FUNCTION_SELECTION_KIND = 41;

export interface Pattern {
  kind: PatternKindNumber;
  text: string;
}

/** Candidates kept per pattern per thread (and shown per pattern in the summary). */
export const CANDIDATES_MAX = 3;
/** Files (and function names) a thread keeps for its end-of-thread candidates. */
const SEEN_MAX = 20_000;
/** Patterns tracked (the rest are not reported on). */
export const PATTERNS_MAX = 64;

/** The patterns a run reports on, numbered as the records' field a: include globs, packages, function names. */
export function selectionPatterns(config: MatchConfig): Pattern[] {
  const patterns: Pattern[] = [
    ...(config.include ?? []).map((text) => ({ kind: PatternKind.include, text })),
    ...(config.packages ?? []).map((text) => ({ kind: PatternKind.package, text })),
    ...(config.functions ?? []).map((text) => ({ kind: PatternKind.function, text })),
  ];
  return patterns.slice(0, PATTERNS_MAX);
}

/** The pattern's literal text: glob characters and brace groups' braces dropped. */
function literalOf(pattern: string): string {
  return pattern.replace(/\*+|\?|[{}]/g, "");
}

/**
 * How far `text` is from the pattern: the fewest single-character edits that turn the
 * pattern's literal text into some part of `text` (edit distance to the best substring).
 * 0 for a literal that `text` contains; case is ignored. Bounded work: both strings are cut at 256.
 */
export function distance(pattern: string, text: string): number {
  const a = literalOf(pattern).slice(0, 256).toLowerCase();
  const b = text.slice(0, 256).toLowerCase();
  if (a.length === 0) return 0;
  let previous = new Uint16Array(b.length + 1); // row 0: a free start anywhere in b
  let current = new Uint16Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    const char = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (b.charCodeAt(j - 1) === char ? 0 : 1);
      current[j] = Math.min(substitute, previous[j]! + 1, current[j - 1]! + 1);
    }
    [previous, current] = [current, previous];
  }
  let best = a.length;
  for (let j = 0; j <= b.length; j++) best = Math.min(best, previous[j]!);
  return best;
}

/**
 * The distance of a candidate from a pattern: a package pattern is compared on as many
 * path segments as the candidate has (a package name with the name, a path in the
 * package with the name and the path).
 */
export function patternDistance(pattern: Pattern, text: string): number {
  if (pattern.kind !== PatternKind.package) return distance(pattern.text, text);
  const segments = text.split("/").length;
  return distance(pattern.text.split("/").slice(0, segments).join("/"), text);
}

/** Keeps the closest distinct texts (fewest edits, then shortest). */
export class Closest {
  readonly items: { text: string; distance: number }[] = [];

  constructor(private readonly max = CANDIDATES_MAX) {}

  /** Whether a text at this distance would be kept (so the caller may skip building it). */
  wants(at: number): boolean {
    return this.items.length < this.max || at <= this.items[this.items.length - 1]!.distance;
  }

  add(text: string, at: number): void {
    if (!this.wants(at) || this.items.some((item) => item.text === text)) return;
    this.items.push({ text, distance: at });
    this.items.sort((x, y) => x.distance - y.distance || x.text.length - y.text.length || (x.text < y.text ? -1 : 1));
    if (this.items.length > this.max) this.items.pop();
  }
}

/**
 * A candidate for an unmatched path or package pattern from one loaded file, or none.
 * Include globs: the file's closest path form. Packages: the package's name, or, when the
 * name matched but the path inside did not, the package name and the file's path in it.
 */
function candidate(pattern: Pattern, paths: FilePaths): { text: string; distance: number } | undefined {
  if (pattern.kind === PatternKind.include) {
    let best: { text: string; distance: number } | undefined;
    for (const form of paths.forms) {
      const at = distance(pattern.text, form);
      if (!best || at < best.distance || (at === best.distance && form.length < best.text.length)) best = { text: form, distance: at };
    }
    return best;
  }
  const pkg = paths.package;
  if (!pkg) return undefined;
  const parsed = parsePackagePattern(pattern.text);
  const text = parsed.name.test(pkg.name) && parsed.inside ? `${pkg.name}/${paths.real.startsWith(`${pkg.dir}/`) ? paths.real.slice(pkg.dir.length + 1) : paths.real}` : pkg.name;
  return { text, distance: patternDistance(pattern, text) };
}

// ---------------------------------------------------------------------------------------
// The shared state of a Node ESM loader (hooks thread) and the thread that registered it.

/** Bytes of one text slot: Int32 length, then UTF-8 (cut to fit). */
const SLOT_BYTES = 512;
const SLOTS = 1 + CANDIDATES_MAX; // the first match, then candidates
const HEADER_BYTES = 16; // Int32: files the loader looked at

export function sharedSelectionBuffer(patterns: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + Math.min(patterns, PATTERNS_MAX) * SLOTS * SLOT_BYTES);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writer (the loader) and reader (its thread) of one SharedArrayBuffer. */
export class SharedSelection {
  private readonly ints: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  private slotOffset(pattern: number, slot: number): number {
    return HEADER_BYTES + (pattern * SLOTS + slot) * SLOT_BYTES;
  }

  get patterns(): number {
    return Math.floor((this.buffer.byteLength - HEADER_BYTES) / (SLOTS * SLOT_BYTES));
  }

  set filesSeen(count: number) {
    Atomics.store(this.ints, 0, count);
  }

  get filesSeen(): number {
    return Atomics.load(this.ints, 0);
  }

  write(pattern: number, slot: number, text: string): void {
    if (pattern >= this.patterns) return;
    const offset = this.slotOffset(pattern, slot);
    const encoded = encoder.encode(text).subarray(0, SLOT_BYTES - 4);
    this.bytes.set(encoded, offset + 4);
    Atomics.store(this.ints, offset / 4, encoded.byteLength);
  }

  read(pattern: number, slot: number): string | undefined {
    if (pattern >= this.patterns) return undefined;
    const offset = this.slotOffset(pattern, slot);
    const length = Atomics.load(this.ints, offset / 4);
    if (length <= 0 || length > SLOT_BYTES - 4) return undefined;
    // A copy: TextDecoder does not take views of shared memory.
    return decoder.decode(this.bytes.slice(offset + 4, offset + 4 + length));
  }
}

// ---------------------------------------------------------------------------------------
// One thread's tracker.

export interface TrackerOutput {
  /** Writes one function_selection record (kind FUNCTION_SELECTION_KIND). */
  record(flags: number, a: number, b: number, c: number, d: number, e: number): void;
  str(text: string): number;
}

export class SelectionTracker {
  /** The loader's buffer, read by this (recording) thread (Node; set by agent.ts). */
  sharedIn: SharedSelection | undefined;
  private readonly matched: boolean[];
  private readonly closest: Closest[];
  private readonly functionGlobs: (RegExp | undefined)[];
  private filesSeen = 0;
  private functionsSeen = 0;
  private finished = false;
  /**
   * A recording thread keeps what it saw and looks for candidates only at its end, and
   * only for patterns still unmatched (none, in a run whose patterns all match); a
   * loader, which has no end of its own, keeps its candidates up to date as it goes.
   */
  private readonly eager: boolean;
  private readonly seenFiles: FilePaths[] = [];
  private readonly seenNames = new Set<string>();

  constructor(
    readonly patterns: Pattern[],
    /** Where records go; none in a Node ESM loader, which keeps its state in `shared`. */
    private readonly output: TrackerOutput | undefined,
    private readonly shared?: SharedSelection,
  ) {
    this.matched = patterns.map(() => false);
    this.closest = patterns.map(() => new Closest());
    this.functionGlobs = patterns.map((pattern) => (pattern.kind === PatternKind.function ? globToRegExp(pattern.text, "") : undefined));
    this.eager = output === undefined;
  }

  /** Told every file `matcher` looks at and every function name its `functions` globs leave out. */
  observe(matcher: Matcher): void {
    matcher.onSelect = (_file, selection) => this.file(selection);
    matcher.onUntraced = (_file, selection, why) => this.untraced(selection, why);
    if (this.functionGlobs.some((glob) => glob !== undefined)) matcher.onFiltered = (names) => this.filtered(names);
  }

  /** Names of functions a file has that no function-name glob matched: candidates only. */
  filtered(names: string[]): void {
    if (this.finished) return;
    this.functionsSeen += names.length;
    this.candidateNames(names);
  }

  private candidateNames(names: string[]): void {
    if (!this.eager) {
      for (const name of names) if (this.seenNames.size < SEEN_MAX) this.seenNames.add(name);
      return;
    }
    for (let p = 0; p < this.patterns.length; p++) {
      if (!this.functionGlobs[p] || this.matched[p]) continue;
      for (const name of names) this.keep(p, name, patternDistance(this.patterns[p]!, name));
    }
  }

  /** A file the Matcher looked at (Matcher.onSelect). */
  file(selection: Selection): void {
    if (this.finished) return;
    this.filesSeen++;
    if (this.shared) this.shared.filesSeen = this.filesSeen;
    for (let p = 0; p < this.patterns.length; p++) {
      const pattern = this.patterns[p]!;
      if (pattern.kind === PatternKind.function) continue;
      const index = pattern.kind === PatternKind.include ? this.indexIn(PatternKind.include, p) : this.indexIn(PatternKind.package, p);
      const hit = pattern.kind === PatternKind.include ? selection.includes.includes(index) : selection.packages.includes(index);
      if (hit) this.match(p, display(selection.paths));
      else if (!this.matched[p] && this.eager) {
        const found = candidate(pattern, selection.paths);
        if (found) this.keep(p, found.text, found.distance);
      }
    }
    if (!this.eager && this.seenFiles.length < SEEN_MAX) this.seenFiles.push(selection.paths);
  }

  /**
   * A file the patterns select that the hooks could not instrument (vm-hooks.ts): not a
   * match; for each pattern selecting it, a first candidate that says why (untracedText).
   */
  untraced(selection: Selection, why: string): void {
    if (this.finished) return;
    this.filesSeen++;
    if (this.shared) this.shared.filesSeen = this.filesSeen;
    for (let p = 0; p < this.patterns.length; p++) {
      const pattern = this.patterns[p]!;
      if (pattern.kind === PatternKind.function || this.matched[p]) continue;
      const hit = pattern.kind === PatternKind.include ? selection.includes.includes(this.indexIn(PatternKind.include, p)) : selection.packages.includes(this.indexIn(PatternKind.package, p));
      if (!hit) continue;
      const text = untracedText(display(selection.paths), why);
      this.keep(p, text, -1);
      // Written now as well (once): a thread that is terminated (vitest's vm pools end their
      // workers so) never reaches its end; a match later, anywhere, still clears the pattern.
      const key = `${p} ${text}`;
      if (!this.told.has(key) && this.told.size < CANDIDATES_MAX * this.patterns.length) {
        this.told.add(key);
        this.emit(p, SelectionFlag.unmatched, text, this.filesSeen);
      }
    }
  }

  /** Untraced files' candidates already written (untraced): pattern number and text. */
  private readonly told = new Set<string>();

  /** The functions of a table the runtime registered (names as the table gives them). */
  functions(names: string[]): void {
    if (this.finished) return;
    this.functionsSeen += names.length;
    for (let p = 0; p < this.patterns.length; p++) {
      const glob = this.functionGlobs[p];
      if (!glob) continue;
      for (const name of names) {
        if (glob.test(name)) {
          this.match(p, name);
          break;
        }
      }
    }
    this.candidateNames(names);
    this.takeShared();
  }

  /** Each pattern matched by the loader this thread shares a buffer with, as matched here. */
  takeShared(): void {
    const shared = this.sharedIn;
    if (!shared || this.finished) return;
    for (let p = 0; p < this.patterns.length; p++) {
      if (this.matched[p]) continue;
      const first = shared.read(p, 0);
      if (first !== undefined) this.match(p, first);
    }
  }

  private indexIn(kind: PatternKindNumber, p: number): number {
    let index = 0;
    for (let i = 0; i < p; i++) if (this.patterns[i]!.kind === kind) index++;
    return index;
  }

  private match(p: number, text: string): void {
    if (this.matched[p]) return;
    this.matched[p] = true;
    this.shared?.write(p, 0, text);
    this.emit(p, 0, text, 0);
  }

  private keep(p: number, text: string, at: number): void {
    const closest = this.closest[p]!;
    if (!closest.wants(at)) return;
    closest.add(text, at);
    if (this.shared) closest.items.forEach((item, slot) => this.shared!.write(p, slot + 1, item.text));
  }

  private emit(p: number, flags: number, text: string | undefined, seen: number): void {
    const output = this.output;
    if (!output) return;
    try {
      const pattern = this.patterns[p]!;
      output.record(flags, p, output.str(pattern.text), text === undefined ? 0 : output.str(text), pattern.kind, seen);
    } catch {
      // Never worth the program.
    }
  }

  /** The thread's end: for each pattern it never matched, the closest candidates it saw. */
  finish(): void {
    if (this.finished || !this.output) return;
    this.takeShared();
    this.finished = true;
    const loader = this.sharedIn;
    for (let p = 0; p < this.patterns.length; p++) {
      if (this.matched[p]) continue;
      const pattern = this.patterns[p]!;
      const closest = this.closest[p]!;
      if (pattern.kind === PatternKind.function) {
        for (const name of this.seenNames) closest.add(name, patternDistance(pattern, name));
      } else {
        for (const paths of this.seenFiles) {
          const found = candidate(pattern, paths);
          if (found) closest.add(found.text, found.distance);
        }
      }
      if (loader) {
        for (let slot = 1; slot <= CANDIDATES_MAX; slot++) {
          const text = loader.read(p, slot);
          if (text !== undefined) closest.add(text, candidateDistance(pattern, text));
        }
      }
      const seen = pattern.kind === PatternKind.function ? this.functionsSeen : this.filesSeen + (loader?.filesSeen ?? 0);
      if (closest.items.length === 0) this.emit(p, SelectionFlag.unmatched, undefined, seen);
      for (const item of closest.items) this.emit(p, SelectionFlag.unmatched, item.text, seen);
    }
  }
}

/** A candidate naming a selected file left untraced, and why; ranked before any other (candidateDistance). */
export function untracedText(path: string, why: string): string {
  return `${path} (${why}: ${NOT_TRACED})`;
}

const NOT_TRACED = "not traced";

/** A candidate's distance from a pattern: an untraced selected file's (untracedText) comes first. */
export function candidateDistance(pattern: Pattern, text: string): number {
  return text.endsWith(`: ${NOT_TRACED})`) ? -1 : patternDistance(pattern, text);
}

/** The path shown for a file: relative to root when it is under root by any path, else its real path. */
function display(paths: FilePaths): string {
  return paths.forms.find((form) => !form.startsWith("/")) ?? paths.real;
}
