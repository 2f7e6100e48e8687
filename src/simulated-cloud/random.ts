/**
 * mulberry32: a tiny seeded generator, so a test (or a benchmark) that sets
 * failure rates gets the same failures on every run. Both simulated clouds
 * draw their failures from it when given a seed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
