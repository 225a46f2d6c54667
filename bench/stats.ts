/**
 * Statistics of repeated runs: median, min and max of each figure, and the Deno/Node ratio
 * computed pair by pair (run i of Deno against run i of Node, then the median of the ratios).
 *
 * @module
 */

/** Median, minimum and maximum of a set of samples (NaN fields when there are none). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median of `xs` (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min, max and count of the finite values in `xs`. */
export function summarize(xs: readonly number[]): Summary {
  const s = xs.filter(Number.isFinite);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length };
}

/**
 * Ratios `a[i] / b[i]` of paired runs (pairs with a missing or non-positive side are skipped),
 * summarized. Pairing cancels drift (load from other work on the machine) that hits both
 * sides of a pair alike.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): Summary {
  const r: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i]) && b[i] > 0) r.push(a[i] / b[i]);
  }
  return summarize(r);
}

/** Formats a summary as `median (min–max)` with `digits` decimals; `n/a` when empty. */
export function formatSummary(s: Summary, digits = 0): string {
  if (s.n === 0) return "n/a";
  const f = (x: number) => x.toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}
