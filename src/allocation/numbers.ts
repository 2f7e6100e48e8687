/** Counts from outside may be negative, fractional or NaN; treat them as whole, never negative. */
export function wholeNumber(n: number | undefined): number {
  if (n === undefined || !Number.isFinite(n) || n <= 0) return 0;
  return Math.floor(n);
}
