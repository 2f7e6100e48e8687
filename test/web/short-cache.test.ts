import { describe, expect, it } from 'vitest';
import { ShortCache } from '../../src/web/short-cache.js';

describe('the short cache of the status pages', () => {
  it('answers a burst with one read, reads again once the time is up, and does not keep a failure', async () => {
    let now = 0;
    let reads = 0;
    let fail = false;
    const cache = new ShortCache(async () => {
      reads += 1;
      if (fail) throw new Error('database gone');
      return reads;
    }, 1_000, () => now);
    expect(await Promise.all(Array.from({ length: 50 }, () => cache.get()))).toEqual(Array(50).fill(1));
    now = 999;
    expect(await cache.get()).toBe(1);
    now = 1_000;
    fail = true;
    await expect(cache.get()).rejects.toThrow('database gone');
    fail = false;
    expect(await cache.get()).toBe(3);
  });
});
