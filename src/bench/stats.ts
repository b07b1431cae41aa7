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

export interface Growth {
  /** Median RSS over the first and the last minute (or tenth) after the warm-up. */
  startBytes: number;
  endBytes: number;
  growthBytes: number;
  growthRatio: number;
  /** Least-squares slope after the warm-up, in bytes per minute. */
  slopeBytesPerMinute: number;
  /** Flat: growth under max(2%, 4 MiB) from start to end. */
  flat: boolean;
}

const flatBytes = 4 * 1024 ** 2;
const flatRatio = 0.02;

export function growth(samples: { t: number; value: number }[]): Growth {
  const window = Math.max(1, Math.min(60, Math.floor(samples.length / 10)));
  const startBytes = median(samples.slice(0, window).map((sample) => sample.value));
  const endBytes = median(samples.slice(-window).map((sample) => sample.value));
  const growthBytes = endBytes - startBytes;
  const n = samples.length;
  const meanT = samples.reduce((sum, s) => sum + s.t, 0) / n;
  const meanV = samples.reduce((sum, s) => sum + s.value, 0) / n;
  const covariance = samples.reduce((sum, s) => sum + (s.t - meanT) * (s.value - meanV), 0);
  const variance = samples.reduce((sum, s) => sum + (s.t - meanT) ** 2, 0);
  return {
    startBytes,
    endBytes,
    growthBytes,
    growthRatio: growthBytes / startBytes,
    slopeBytesPerMinute: variance > 0 ? (covariance / variance) * 60 : 0,
    flat: growthBytes <= Math.max(flatBytes, startBytes * flatRatio),
  };
}

