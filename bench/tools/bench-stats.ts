/** Small statistics shared by the search benchmarks. */

/** The p-th percentile (nearest rank) of values; NaN when empty. p: 0..100. */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** Share of the truth's top-10 found in got's top-10 (ids of any kind). */
export function recallAt10<T>(got: readonly T[], truth: readonly T[]): number {
  const t = new Set(truth.slice(0, 10));
  return got.slice(0, 10).filter((o) => t.has(o)).length / Math.max(1, Math.min(10, t.size));
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** x with `digits` decimals, or "n/a" when not finite. */
export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}
