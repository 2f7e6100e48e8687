import type { Subscription } from 'rxjs';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../src/db/records.js';
import { pollChanges } from '../../src/streams/index.js';
import type { ChangeSource, PollChangesOptions } from '../../src/streams/index.js';
import { memoryLogger } from './support.js';

/** The change table in memory; it can fail, or hold queries until released. */
class MemoryChangeLog implements ChangeSource {
  readonly rows: ChangeRecord[] = [];
  queries = 0;
  running = 0;
  mostAtOnce = 0;
  failures = 0;
  private held: (() => void)[] | undefined;

  append(count = 1): void {
    for (let i = 0; i < count; i++) {
      const id = this.rows.length + 1;
      this.rows.push({ id, kind: 'node', recordId: 100 + id, action: 'hold', at: id });
    }
  }

  /** Until release(), queries do not answer. */
  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const go of waiting) go();
  }

  async since(lastId: number, limit: number): Promise<ChangeRecord[]> {
    return this.query(() => this.rows.filter((r) => r.id > lastId).slice(0, limit));
  }

  async latestId(): Promise<number> {
    return this.query(() => this.rows.length);
  }

  private async query<T>(answer: () => T): Promise<T> {
    this.queries++;
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      if (this.held) await new Promise<void>((go) => this.held?.push(go));
      if (this.failures > 0) {
        this.failures--;
        throw new Error('SQLITE_BUSY: database is locked');
      }
      return answer();
    } finally {
      this.running--;
    }
  }
}

const subscriptions: Subscription[] = [];
afterEach(() => { for (const s of subscriptions.splice(0)) s.unsubscribe(); });

function poll(source: ChangeSource, options: PollChangesOptions = {}) {
  const clock = new SimulatedClock();
  const { logger, lines } = memoryLogger();
  const ids: number[] = [];
  const errors: unknown[] = [];
  const subscription = pollChanges(source, { clock, logger, intervalMs: 1000, ...options })
    .subscribe({ next: (r) => ids.push(r.id), error: (e: unknown) => errors.push(e) });
  subscriptions.push(subscription);
  /** Moves the clock and lets the in-memory queries (promises only, no timers) settle. */
  const tick = async (ms = 1000) => {
    clock.increment(ms);
    await new Promise((settled) => setImmediate(settled));
  };
  return { ids, errors, lines, tick, subscription };
}

describe('pollChanges', () => {
  it('starts after the newest change at subscription and emits each later change once, in order', async () => {
    const log = new MemoryChangeLog();
    log.append(3);
    const { ids, tick } = poll(log);
    await tick(0);
    log.append(2);
    await tick();
    expect(ids).toEqual([4, 5]);
    await tick();
    log.append();
    await tick();
    expect(ids).toEqual([4, 5, 6]);
  });

  it('a change committed late, below an id already seen (MySQL commit order), is emitted once when it appears', async () => {
    const log = new MemoryChangeLog();
    const { ids, tick } = poll(log, { startAfter: 0 });
    log.rows.push({ id: 1, kind: 'node', recordId: 1, action: 'hold', at: 1 });
    log.rows.push({ id: 3, kind: 'node', recordId: 3, action: 'delete', at: 3 });
    await tick(0);
    expect(ids).toEqual([1, 3]);
    // Id 2 was taken first but its transaction committed last.
    log.rows.splice(1, 0, { id: 2, kind: 'node', recordId: 2, action: 'hold', at: 2 });
    await tick();
    await tick();
    expect(ids).toEqual([1, 3, 2]);
  });

  it('never emits a change from before the subscription, even within the look-behind', async () => {
    const log = new MemoryChangeLog();
    log.append(5);
    const { ids, tick } = poll(log, { lookBehind: 10 });
    await tick(0);
    await tick();
    log.append();
    await tick();
    expect(ids).toEqual([6]);
  });

  it('startAfter resumes from a known id', async () => {
    const log = new MemoryChangeLog();
    log.append(4);
    const { ids, tick } = poll(log, { startAfter: 2 });
    await tick(0);
    expect(ids).toEqual([3, 4]);
  });

  it('a backlog larger than a page is read page by page in one poll', async () => {
    const log = new MemoryChangeLog();
    log.append(5);
    const { ids, tick } = poll(log, { startAfter: 0, pageSize: 2 });
    await tick(0);
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    expect(log.queries).toBe(3);
  });

  it('a failing poll is logged once, retried every interval, and its end is logged; the stream goes on', async () => {
    const log = new MemoryChangeLog();
    const { ids, errors, lines, tick } = poll(log, { startAfter: 0 });
    log.append(2);
    log.failures = 3;
    await tick(0);
    await tick();
    await tick();
    expect(ids).toEqual([]);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['polling the change log failed; trying again every 1000 ms until it answers']);
    await tick();
    expect(ids).toEqual([1, 2]);
    expect(lines.filter((l) => l.level === 'info').map((l) => l.msg)).toEqual(['the change log can be read again']);
    expect(errors).toEqual([]);
  });

  it('a failure on the first query (the newest id) is retried too', async () => {
    const log = new MemoryChangeLog();
    log.append(2);
    log.failures = 1;
    const { ids, errors, tick } = poll(log);
    await tick(0);
    await tick();
    log.append();
    await tick();
    expect(ids).toEqual([3]);
    expect(errors).toEqual([]);
  });

  it('never runs two polls at once: ticks during a slow poll are dropped', async () => {
    const log = new MemoryChangeLog();
    log.append(1);
    const { ids, tick } = poll(log, { startAfter: 0 });
    log.hold();
    await tick(0);
    await tick();
    await tick();
    expect(log.queries).toBe(1);
    log.release();
    await tick(0);
    expect(ids).toEqual([1]);
    log.append();
    await tick();
    expect(ids).toEqual([1, 2]);
    expect(log.mostAtOnce).toBe(1);
  });

  it('stops polling when unsubscribed', async () => {
    const log = new MemoryChangeLog();
    const { subscription, tick } = poll(log, { startAfter: 0 });
    await tick(0);
    const queries = log.queries;
    subscription.unsubscribe();
    await tick();
    await tick();
    expect(log.queries).toBe(queries);
  });
});
