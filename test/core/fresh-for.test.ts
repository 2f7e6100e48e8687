import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { FreshFor } from '../../src/core/fresh-for.js';
import type { Clock } from '../../src/core/clock.js';

function clockAt(start: number): Clock & { advance(ms: number): void } {
  const clock = new SimulatedClock();
  clock.set(start);
  return { now: () => clock.now(), setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock), advance: (ms) => clock.increment(ms) };
}

describe('answers kept for a short while', () => {
  it('callers within the time share one read; the answer is read again once it is old', async () => {
    const clock = clockAt(1000);
    const fresh = new FreshFor<number>(clock, 500);
    let reads = 0;
    const read = () => Promise.resolve(++reads);
    expect(await Promise.all([fresh.get('image', read), fresh.get('image', read)])).toEqual([1, 1]);
    clock.advance(499);
    expect(await fresh.get('image', read)).toBe(1);
    clock.advance(1);
    expect(await fresh.get('image', read)).toBe(2);
    expect(await fresh.get('other', read)).toBe(3);
  });

  it('does not keep a failed answer', async () => {
    const fresh = new FreshFor<string>(clockAt(0), 1000);
    await expect(fresh.get('image', () => Promise.reject(new Error('cloud down')))).rejects.toThrow('cloud down');
    expect(await fresh.get('image', () => Promise.resolve('ubuntu'))).toBe('ubuntu');
  });
});
