/** Small statistics for run-to-run figures. */

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Half the relative min–max range: how far one run strays from another by chance. */
export function relativeNoise(values: readonly number[]): number {
  const { median: middle, min, max } = spread(values);
  return middle === 0 ? 0 : (max - min) / 2 / middle;
}

/**
 * Overhead from alternated pairs: the median over pairs of traced/untraced cost, − 1.
 * Pairing cancels the slow drift of a shared machine better than a ratio of medians.
 */
export function pairedOverhead(untracedCost: readonly number[], tracedCost: readonly number[]): Spread {
  const ratios = untracedCost.map((cost, i) => tracedCost[i]! / cost - 1).filter((ratio) => Number.isFinite(ratio));
  return spread(ratios);
}

/**
 * Is a resident-memory series flat after its warm-up? The run is cut in quarters by
 * time: the first is the warm-up (heaps, JIT, the ring's pages touched), the second
 * the reference. Flat means both
 * - the least-squares slope over the second half is at most `flatSlopeBytesPerMinute`
 *   (1 MiB/min: 17 bytes per request at 1000 requests/s, so a per-request leak shows;
 *   while one 4 MiB garbage-collector step in the middle of the 7.5-minute half of a
 *   15-minute soak tilts the line by only 1.5 × 4 / 7.5 = 0.8 MiB/min), and
 * - the median of the last quarter is within `flatRatio` (5%) of the second quarter's
 *   (the 10-minute soak's start and end medians differed by 1.2% and 3% with nothing
 *   leaking; 5% of a 70 MiB program is 3.5 MiB, which a 4 bytes/request leak at
 *   1000 requests/s passes in the 15 minutes between the two quarters' middles of a
 *   30-minute soak).
 * Samples from `seconds` on (the program ending) are not judged. A short soak (seconds) is judged the same way but says little: its "warm-up" is not one.
 */
export interface Flatness {
  /** Median over the second and the last quarter of the run. */
  secondQuarterBytes: number;
  lastQuarterBytes: number;
  /** lastQuarterBytes / secondQuarterBytes − 1. */
  changeRatio: number;
  /** Least-squares slope over the second half, in bytes per minute. */
  slopeBytesPerMinute: number;
  /** The highest sample after the warm-up. */
  peakBytes: number;
  flat: boolean;
}

export const flatSlopeBytesPerMinute = 1024 ** 2;
export const flatRatio = 0.05;

/** Judges samples {t: seconds since the start, value: bytes} of a run of `seconds`. */
export function flatness(samples: readonly { t: number; value: number }[], seconds: number): Flatness {
  const quarter = (n: number) => samples.filter((s) => s.t >= (seconds * n) / 4 && s.t < (seconds * (n + 1)) / 4).map((s) => s.value);
  const secondQuarterBytes = median(quarter(1));
  const lastQuarterBytes = median(quarter(3));
  const half = samples.filter((s) => s.t >= seconds / 2 && s.t < seconds);
  const changeRatio = lastQuarterBytes / secondQuarterBytes - 1;
  const slopeBytesPerMinute = slope(half) * 60;
  const peakBytes = Math.max(...samples.filter((s) => s.t >= seconds / 4 && s.t < seconds).map((s) => s.value));
  return {
    secondQuarterBytes,
    lastQuarterBytes,
    changeRatio,
    slopeBytesPerMinute,
    peakBytes,
    flat: Number.isFinite(changeRatio) && slopeBytesPerMinute <= flatSlopeBytesPerMinute && Math.abs(changeRatio) <= flatRatio,
  };
}

/** Least-squares slope of value over t (0 for fewer than two distinct times). */
function slope(samples: readonly { t: number; value: number }[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const meanT = samples.reduce((sum, s) => sum + s.t, 0) / n;
  const meanV = samples.reduce((sum, s) => sum + s.value, 0) / n;
  const covariance = samples.reduce((sum, s) => sum + (s.t - meanT) * (s.value - meanV), 0);
  const variance = samples.reduce((sum, s) => sum + (s.t - meanT) ** 2, 0);
  return variance > 0 ? covariance / variance : 0;
}
