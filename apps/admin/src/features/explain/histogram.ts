export interface Bin {
  /** Inclusive lower edge. */
  from: number;
  /** Exclusive upper edge (inclusive for the last bin). */
  to: number;
  count: number;
}

/** Bin edges fall on multiples of this, so bins read as round numbers (0.60–0.65). */
const EDGE_STEP = 0.05;

/**
 * Similarity values into `binCount` equal bins spanning their range rounded out to EDGE_STEP.
 * Rounding keeps float noise (0.6000000001) out of the edges.
 */
export function histogram(values: readonly number[], binCount = 20): Bin[] {
  if (values.length === 0) return [];
  const round = (x: number) => Math.round(x * 1e9) / 1e9;
  const low = round(Math.floor(round(Math.min(...values) / EDGE_STEP)) * EDGE_STEP);
  let high = round(Math.ceil(round(Math.max(...values) / EDGE_STEP)) * EDGE_STEP);
  if (high <= low) high = round(low + EDGE_STEP);
  const width = (high - low) / binCount;
  const bins: Bin[] = Array.from({ length: binCount }, (_, index) => ({
    from: round(low + index * width),
    to: round(low + (index + 1) * width),
    count: 0,
  }));
  for (const value of values) {
    const index = Math.min(binCount - 1, Math.floor((value - low) / width));
    const bin = bins[Math.max(0, index)];
    if (bin) bin.count += 1;
  }
  return bins;
}

/** How many of `values` a threshold keeps (similarity ≥ threshold, as the API applies it). */
export function keptBy(values: readonly number[], threshold: number | undefined): number {
  return threshold === undefined
    ? values.length
    : values.filter((value) => value >= threshold).length;
}
