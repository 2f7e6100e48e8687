import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { RateQueue } from '../../src/core/rate-queue.js';

const flush = async () => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
};

describe('the rate queue', () => {
  it('starts calls at most once per interval, in order', async () => {
    const clock = new SimulatedClock();
    const queue = new RateQueue(1_000, clock);
    const started: [string, number][] = [];
    const call = (name: string) => queue.run(name, async () => void started.push([name, clock.now()]));
    const all = Promise.all([call('a'), call('b'), call('c')]);
    await flush();
    expect(started).toEqual([['a', 0]]);
    clock.increment(999);
    await flush();
    expect(started).toHaveLength(1);
    clock.increment(1);
    await flush();
    clock.increment(1_000);
    await flush();
    await all;
    expect(started).toEqual([['a', 0], ['b', 1_000], ['c', 2_000]]);
    expect(Object.fromEntries(queue.calls)).toEqual({ a: 1, b: 1, c: 1 });
  });

  it('does not delay a call that comes after a quiet interval', async () => {
    const clock = new SimulatedClock();
    clock.set(10_000);
    const queue = new RateQueue(500, clock);
    await queue.run('x', async () => {});
    clock.increment(600);
    let ran = false;
    const done = queue.run('y', async () => {
      ran = true;
    });
    await flush();
    expect(ran).toBe(true);
    await done;
  });

  it('keeps going after a failed call', async () => {
    const clock = new SimulatedClock();
    const queue = new RateQueue(0, clock);
    await expect(queue.run('bad', async () => Promise.reject(new Error('503')))).rejects.toThrow('503');
    await expect(queue.run('good', async () => 42)).resolves.toBe(42);
  });
});
