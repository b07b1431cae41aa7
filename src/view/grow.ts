/** Growable typed arrays: the view index keeps millions of slices without an object each. */

type TypedArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;
type TypedArrayClass<T extends TypedArray> = { new (length: number): T };

export class Grow<T extends TypedArray> {
  data: T;
  length = 0;

  constructor(
    private readonly type: TypedArrayClass<T>,
    capacity = 1024,
  ) {
    this.data = new type(capacity);
  }

  push(value: number): number {
    if (this.length === this.data.length) {
      const bigger = new this.type(this.data.length * 2);
      bigger.set(this.data as never);
      this.data = bigger;
    }
    this.data[this.length] = value;
    return this.length++;
  }

  /** Gives back the unused capacity (once the list is complete). */
  trim(): void {
    if (this.data.length > this.length) this.data = this.data.slice(0, this.length) as T;
  }

  /** The used part (a view, not a copy). */
  get view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

/** First index in [lo, hi) whose value is >= x (values ascending). */
export function lowerBound(values: ArrayLike<number>, x: number, lo = 0, hi = values.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The same over `order` (indexes into `values`), which lists them ascending. */
export function lowerBoundBy(order: Uint32Array, values: Float64Array, x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[order[mid]!]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
