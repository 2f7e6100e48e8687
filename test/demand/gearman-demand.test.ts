/**
 * The demand stream on a simulated clock, the servers played by an in-memory
 * status function: when it polls, what it logs about a server that fails,
 * what it counts meanwhile, and how a reload switches it.
 */
import { Subject, switchMap, type Subscription } from 'rxjs';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { gearmanDemand, GearmanStatusError, serverName } from '../../src/demand/index.js';
import type { GearmanDemandOptions, GearmanServerAddress, GearmanStatusOptions, GearmanStatusRow } from '../../src/demand/index.js';
import { memoryLogger } from '../streams/support.js';

const EAST = { host: 'east.example.org', port: 4730 };
const WEST = { host: 'west.example.org', port: 4730 };
const INTERVAL = 10_000;

/** Servers in memory: each answers its rows, fails, or holds the request until released. */
class FakeServers {
  readonly rows = new Map<string, GearmanStatusRow[]>();
  readonly failing = new Map<string, Error>();
  readonly asked: { server: string; timeoutMs: number | undefined; signal: AbortSignal | undefined }[] = [];
  private held: (() => void)[] | undefined;

  queue(server: GearmanServerAddress, fn: string, total: number): void {
    const rows = this.rows.get(serverName(server)) ?? [];
    this.rows.set(serverName(server), [...rows.filter((r) => r.fn !== fn), { fn, total, running: 0, workers: 0 }]);
  }

  fail(server: GearmanServerAddress, error: Error = new GearmanStatusError(serverName(server), 'connection refused')): void {
    this.failing.set(serverName(server), error);
  }

  heal(server: GearmanServerAddress): void {
    this.failing.delete(serverName(server));
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const go of waiting) go();
  }

  readonly status = async (server: GearmanServerAddress, options: GearmanStatusOptions): Promise<GearmanStatusRow[]> => {
    const name = serverName(server);
    this.asked.push({ server: name, timeoutMs: options.timeoutMs, signal: options.signal });
    if (this.held) await new Promise<void>((go) => this.held?.push(go));
    const error = this.failing.get(name);
    if (error) throw error;
    return this.rows.get(name) ?? [];
  };
}

const subscriptions: Subscription[] = [];
afterEach(() => { for (const s of subscriptions.splice(0)) s.unsubscribe(); });

function run(servers: GearmanServerAddress[], fake: FakeServers, options: Partial<GearmanDemandOptions> = {}) {
  const clock = new SimulatedClock();
  const { logger, lines } = memoryLogger();
  const emitted: Record<string, number>[] = [];
  let completed = false;
  const subscription = gearmanDemand(servers, { labels: ['small', 'large'], logger, clock, intervalMs: INTERVAL, status: fake.status, ...options })
    .subscribe({ next: (d) => emitted.push(d), complete: () => { completed = true; } });
  subscriptions.push(subscription);
  /** Moves the clock and lets the in-memory answers (promises only) settle. */
  const tick = async (ms = INTERVAL) => {
    clock.increment(ms);
    await settle();
  };
  const logged = (level: string) => lines.filter((l) => l.level === level);
  return { emitted, tick, logged, subscription, completed: () => completed };
}

const settle = () => new Promise<void>((done) => setImmediate(done));

describe('the Gearman demand stream', () => {
  it('asks every server at once and then every interval, and emits what each poll found', async () => {
    const fake = new FakeServers();
    fake.queue(EAST, 'build:job:small', 7);
    fake.queue(WEST, 'build:job:large', 2);
    const { emitted, tick } = run([EAST, WEST], fake, { timeoutMs: 1234 });

    await tick(0);
    expect(emitted).toEqual([{ small: 7, large: 2 }]);
    expect(fake.asked.map((a) => [a.server, a.timeoutMs])).toEqual([['east.example.org:4730', 1234], ['west.example.org:4730', 1234]]);

    await tick(INTERVAL - 1);
    expect(emitted).toHaveLength(1);
    fake.queue(EAST, 'build:job:small', 3);
    await tick(1);
    expect(emitted).toEqual([{ small: 7, large: 2 }, { small: 3, large: 2 }]);
  });

  it('logs a failing server once when its outage begins, counts nothing from it, and still counts the others', async () => {
    const fake = new FakeServers();
    fake.queue(EAST, 'build:job:small', 7);
    fake.queue(WEST, 'build:job:large', 2);
    const { emitted, tick, logged } = run([EAST, WEST], fake);
    await tick(0);

    fake.fail(WEST);
    for (let i = 0; i < 5; i++) await tick();
    expect(emitted.slice(1)).toEqual(Array(5).fill({ small: 7 }));
    expect(logged('warn')).toHaveLength(1);
    expect(logged('warn')[0]).toMatchObject({
      server: 'west.example.org:4730',
      msg: `gearman west.example.org:4730: connection refused; counting no demand from it, asking again every ${INTERVAL} ms`,
    });
  });

  it('logs once at info when the server answers again, and counts it again', async () => {
    const fake = new FakeServers();
    fake.queue(WEST, 'build:job:large', 2);
    const { emitted, tick, logged } = run([EAST, WEST], fake);
    fake.fail(WEST);
    await tick(0);
    await tick();
    await tick();

    fake.heal(WEST);
    await tick();
    await tick();
    expect(emitted).toEqual([{}, {}, {}, { large: 2 }, { large: 2 }]);
    expect(logged('info')).toEqual([expect.objectContaining({ server: 'west.example.org:4730', seconds: 30, msg: 'gearman west.example.org:4730 answers again' })]);

    // A new outage is a new warning.
    fake.fail(WEST, new GearmanStatusError('west.example.org:4730', 'no complete status answer within 5000 ms (0 lines read)'));
    await tick();
    await tick();
    expect(logged('warn').map((l) => l.msg)).toEqual([
      `gearman west.example.org:4730: connection refused; counting no demand from it, asking again every ${INTERVAL} ms`,
      `gearman west.example.org:4730: no complete status answer within 5000 ms (0 lines read); counting no demand from it, asking again every ${INTERVAL} ms`,
    ]);
  });

  it('names the server even when the failure does not', async () => {
    const fake = new FakeServers();
    fake.fail(EAST, new Error('socket hang up'));
    const { tick, logged } = run([EAST], fake);
    await tick(0);
    expect(logged('warn')[0]?.msg).toMatch(/^gearman east\.example\.org:4730: socket hang up;/);
  });

  it('takes a status function that throws at once as a failed server, not as the end of the stream', async () => {
    const fake = new FakeServers();
    fake.queue(EAST, 'build:job:small', 1);
    const status: GearmanDemandOptions['status'] = (server, options) => {
      if (server.host === WEST.host) throw new Error('no such host');
      return fake.status(server, options);
    };
    const { emitted, tick, logged } = run([EAST, WEST], fake, { status });
    await tick(0);
    await tick();
    expect(emitted).toEqual([{ small: 1 }, { small: 1 }]);
    expect(logged('warn').map((l) => l.msg)).toEqual([`gearman west.example.org:4730: no such host; counting no demand from it, asking again every ${INTERVAL} ms`]);
  });

  it('asks a server listed twice once per poll', async () => {
    const fake = new FakeServers();
    fake.queue(EAST, 'build:job:small', 2);
    const { emitted, tick } = run([EAST, { ...EAST }], fake);
    await tick(0);
    expect(fake.asked).toHaveLength(1);
    expect(emitted).toEqual([{ small: 2 }]);
  });

  it('never overlaps polls: an interval that comes while one is running is skipped', async () => {
    const fake = new FakeServers();
    fake.queue(EAST, 'build:job:small', 1);
    fake.hold();
    const { emitted, tick } = run([EAST], fake);
    await tick(0);
    await tick();
    await tick();
    expect(fake.asked).toHaveLength(1);
    fake.release();
    await settle();
    expect(emitted).toEqual([{ small: 1 }]);
    await tick();
    expect(fake.asked).toHaveLength(2);
  });

  it('cancels a request in flight when unsubscribed', async () => {
    const fake = new FakeServers();
    fake.hold();
    const { tick, subscription } = run([EAST], fake);
    await tick(0);
    expect(fake.asked[0]?.signal?.aborted).toBe(false);
    subscription.unsubscribe();
    expect(fake.asked[0]?.signal?.aborted).toBe(true);
    fake.release();
  });

  it('with no servers, emits no demand once and completes', async () => {
    const fake = new FakeServers();
    const { emitted, completed } = run([], fake);
    expect(emitted).toEqual([{}]);
    expect(completed()).toBe(true);
  });

  it('follows a reload through switchMap: the old polls stop, the new servers are asked at once', async () => {
    const fake = new FakeServers();
    fake.queue(EAST, 'build:job:small', 7);
    fake.queue(WEST, 'build:job:large', 2);
    const clock = new SimulatedClock();
    const { logger } = memoryLogger();
    const settings = new Subject<{ servers: GearmanServerAddress[]; labels: string[]; intervalMs: number }>();
    const emitted: Record<string, number>[] = [];
    subscriptions.push(settings.pipe(
      switchMap((s) => gearmanDemand(s.servers, { labels: s.labels, intervalMs: s.intervalMs, logger, clock, status: fake.status })),
    ).subscribe((d) => emitted.push(d)));

    settings.next({ servers: [EAST], labels: ['small'], intervalMs: INTERVAL });
    clock.increment(0);
    await settle();
    settings.next({ servers: [EAST, WEST], labels: ['small', 'large'], intervalMs: 1000 });
    clock.increment(0);
    await settle();
    expect(emitted).toEqual([{ small: 7 }, { small: 7, large: 2 }]);

    clock.increment(1000);
    await settle();
    expect(emitted).toHaveLength(3);
    expect(fake.asked.map((a) => a.server)).toEqual(['east.example.org:4730', 'east.example.org:4730', 'west.example.org:4730', 'east.example.org:4730', 'west.example.org:4730']);
  });
});
