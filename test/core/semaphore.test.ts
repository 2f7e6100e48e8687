import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/core/semaphore.js';
import { deferred, flush } from '../support/deferred.js';

describe('a semaphore', () => {
  it('lets `size` holders in at once and the others in the order they came', async () => {
    const slots = new Semaphore(2);
    const gates = [deferred<void>(), deferred<void>(), deferred<void>(), deferred<void>()];
    const started: number[] = [];
    const runs = gates.map((gate, i) => slots.run(async () => {
      started.push(i);
      await gate.promise;
    }));
    await flush();
    expect(started).toEqual([0, 1]);
    gates[1]?.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    for (const gate of gates) gate.resolve();
    await Promise.all(runs);
  });

  it('gives the slot back when the work fails', async () => {
    const slots = new Semaphore(1);
    await expect(slots.run(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(slots.run(async () => 'yes')).resolves.toBe('yes');
  });
});
