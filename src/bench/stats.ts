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
