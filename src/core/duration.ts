/**
 * Durations as written on scope's command line, read in one place: a number (fractions
 * allowed) and a unit, ns, us (µs), ms, s, m or h. A bare number is refused (0 aside) unless
 * the command says which unit it means: `--since 5` read as 5 ns, next to a dump whose
 * times are in ms, found nothing and said nothing.
 */
const NS_PER_UNIT: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Nanoseconds of `text` ("150ms", "1.5m", "0"); `bare`: the unit of a bare number. Undefined when malformed. */
export function parseDurationNs(text: string, bare?: "s"): bigint | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?$/i.exec(text.trim());
  if (!match) return undefined;
  const [, number, given] = match;
  const unit = given?.toLowerCase() ?? bare ?? (/^0+(\.0+)?$/.test(number!) ? "s" : undefined);
  if (unit === undefined) return undefined;
  const scale = NS_PER_UNIT[unit]!;
  const [whole, fraction = ""] = number!.split(".");
  return BigInt(whole!) * scale + (BigInt(fraction.padEnd(9, "0").slice(0, 9)) * scale) / 1_000_000_000n;
}
