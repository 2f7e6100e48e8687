import { VirtualAction, VirtualTimeScheduler, take, toArray } from 'rxjs';
import type { Subscription } from 'rxjs';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidCronExpression, cronSchedule, nextTime } from '../../src/streams/index.js';

const subscriptions: Subscription[] = [];
afterEach(() => { for (const s of subscriptions.splice(0)) s.unsubscribe(); });

const at = (iso: string) => Date.parse(iso);
const iso = (d: Date) => d.toISOString();

/** A clock set to `start` and a subscription keeping every fire time. */
function schedule(expression: string, start: string, tz?: string) {
  const clock = new SimulatedClock();
  clock.set(at(start));
  const fired: string[] = [];
  subscriptions.push(cronSchedule(expression, { clock, ...(tz !== undefined && { tz }) }).subscribe((d) => fired.push(iso(d))));
  return { clock, fired };
}

describe('cronSchedule', () => {
  it('fires at each time the line names, and not before', () => {
    const { clock, fired } = schedule('*/5 * * * *', '2024-01-01T00:00:30Z');
    clock.set(at('2024-01-01T00:04:59.999Z'));
    expect(fired).toEqual([]);
    clock.set(at('2024-01-01T00:05:00Z'));
    expect(fired).toEqual(['2024-01-01T00:05:00.000Z']);
    clock.set(at('2024-01-01T00:10:00Z'));
    clock.set(at('2024-01-01T00:15:00Z'));
    expect(fired).toEqual(['2024-01-01T00:05:00.000Z', '2024-01-01T00:10:00.000Z', '2024-01-01T00:15:00.000Z']);
  });

  it('does not drift: a day of minutes fires exactly on each minute', () => {
    const { clock, fired } = schedule('* * * * *', '2024-03-01T00:00:00Z');
    for (let i = 0; i < 24 * 60; i++) clock.increment(60_000);
    expect(fired).toHaveLength(24 * 60);
    expect(fired.every((t) => t.endsWith(':00.000Z'))).toBe(true);
    expect(fired.at(-1)).toBe('2024-03-02T00:00:00.000Z');
  });

  it('a late timer neither shifts the schedule nor fires the missed times in a burst', () => {
    const { clock, fired } = schedule('*/5 * * * *', '2024-01-01T00:00:00Z');
    clock.set(at('2024-01-01T00:17:42Z')); // the process was suspended
    expect(fired).toEqual(['2024-01-01T00:05:00.000Z']);
    clock.set(at('2024-01-01T00:20:00Z'));
    expect(fired).toEqual(['2024-01-01T00:05:00.000Z', '2024-01-01T00:20:00.000Z']);
  });

  it('reads the fields in the given time zone', () => {
    const { clock, fired } = schedule('0 3 * * *', '2024-06-01T00:00:00Z', 'Europe/Berlin');
    clock.set(at('2024-06-02T00:00:00Z'));
    expect(fired).toEqual(['2024-06-01T01:00:00.000Z']); // 03:00 CEST
  });

  it('runs on any rxjs scheduler (virtual time)', () => {
    const scheduler = new VirtualTimeScheduler(VirtualAction, Number.POSITIVE_INFINITY);
    const fired: string[] = [];
    cronSchedule('0 */6 * * *', { scheduler }).pipe(take(3), toArray()).subscribe((ds) => fired.push(...ds.map(iso)));
    scheduler.flush();
    expect(fired).toEqual(['1970-01-01T06:00:00.000Z', '1970-01-01T12:00:00.000Z', '1970-01-01T18:00:00.000Z']);
  });

  it('an invalid line errors the stream with the reason', () => {
    const errors: unknown[] = [];
    cronSchedule('*/5 * * *').subscribe({ error: (e: unknown) => errors.push(e) });
    cronSchedule('61 * * * *').subscribe({ error: (e: unknown) => errors.push(e) });
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(InvalidCronExpression);
    expect((errors[0] as Error).message).toContain('expected 5 fields');
    expect((errors[1] as InvalidCronExpression).expression).toBe('61 * * * *');
  });

  it('nextTime is strictly after the given time', () => {
    expect(new Date(nextTime('*/5 * * * *', at('2024-01-01T00:05:00Z'))).toISOString()).toBe('2024-01-01T00:10:00.000Z');
    expect(new Date(nextTime('*/5 * * * *', at('2024-01-01T00:04:59.500Z'))).toISOString()).toBe('2024-01-01T00:05:00.000Z');
  });
});
