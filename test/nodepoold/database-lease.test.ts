import { hostname } from 'node:os';
import { SimulatedClock } from 'xstate';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { DATABASE_LEASE } from '../../src/core/leases.js';
import type { Database } from '../../src/db/index.js';
import { Logging } from '../../src/log/index.js';
import { DatabaseLease, type DatabaseLeaseOptions } from '../../src/nodepoold/database-lease.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { flush } from '../support/deferred.js';

const HOST = hostname();

describeEachBackend('the one-nodepoold-per-database lease', (backend) => {
  let db: Database;
  let simulated: SimulatedClock;
  let clock: Clock;
  let lines: { level: string; msg: string }[];

  beforeAll(async () => {
    db = await backend.open();
  });
  beforeEach(async () => {
    await clearAll(db);
    simulated = new SimulatedClock();
    simulated.set(1_000_000);
    clock = { now: () => simulated.now(), setTimeout: (fn, ms) => simulated.setTimeout(fn, ms), clearTimeout: (id) => simulated.clearTimeout(id as number) };
    lines = [];
  });

  function lease(owner: string, more: Partial<DatabaseLeaseOptions> = {}): DatabaseLease {
    const logging = new Logging({ level: 'debug', destination: 'stderr', loggers: {} }, { stream: { write: (t: string) => void lines.push(JSON.parse(t) as never) } });
    return new DatabaseLease({ leases: db.leases, clock, log: logging.get('nodepool.NodePool'), owner, holderAlive: () => true, ...more });
  }

  /** Lets the heartbeat's database calls finish after the clock moved. */
  async function advance(ms: number): Promise<void> {
    simulated.increment(ms);
    for (let i = 0; i < 20; i += 1) await flush();
    await new Promise((r) => setTimeout(r, 20));
  }

  it('refuses a second nodepoold, naming the host and pid of the one that holds the database', async () => {
    await lease('nodepoold:ci-host-1:4242').take();
    const second = lease(`nodepoold:${HOST}:77`);
    await expect(second.take()).rejects.toMatchObject({
      code: 'NP_DAEMON_DATABASE_IN_USE',
      message: expect.stringContaining('nodepoold on host ci-host-1 with pid 4242') as unknown,
    });
    await expect(second.check()).rejects.toMatchObject({ code: 'NP_DAEMON_DATABASE_IN_USE' });
    expect((await db.leases.holder(DATABASE_LEASE, clock.now()))?.owner).toBe('nodepoold:ci-host-1:4242');
  });

  it('takes over at once from a nodepoold of this host whose pid no longer runs nodepoold', async () => {
    await lease(`nodepoold:${HOST}:4242`).take();
    const alive: number[] = [];
    const next = lease(`nodepoold:${HOST}:5151`, { holderAlive: (pid) => (alive.push(pid), false) });
    await next.check();
    await next.take();
    expect(alive).toContain(4242);
    expect((await db.leases.holder(DATABASE_LEASE, clock.now()))?.owner).toBe(`nodepoold:${HOST}:5151`);
    expect(lines.some((l) => l.msg.includes(`took over the database from nodepoold:${HOST}:4242`))).toBe(true);
  });

  it('takes over from a nodepoold of another host only once it stopped renewing for the lease time', async () => {
    const first = lease('nodepoold:ci-host-1:4242', { ttlMs: 30_000, renewMs: 10_000 });
    await first.take();
    // The first renews: forty seconds later it still holds the database.
    await advance(10_000);
    await advance(10_000);
    await advance(10_000);
    await advance(10_000);
    await expect(lease(`nodepoold:${HOST}:5151`).take()).rejects.toMatchObject({ code: 'NP_DAEMON_DATABASE_IN_USE' });
    // It dies (no more beats): thirty seconds after its last renewal the lease is free.
    await first.release().catch(() => {});
    await db.leases.tryAcquire(DATABASE_LEASE, 'nodepoold:ci-host-1:4242', 30_000, clock.now());
    simulated.increment(29_999);
    await expect(lease(`nodepoold:${HOST}:5151`).take()).rejects.toMatchObject({ code: 'NP_DAEMON_DATABASE_IN_USE' });
    simulated.increment(1);
    await lease(`nodepoold:${HOST}:5151`).take();
    expect((await db.leases.holder(DATABASE_LEASE, clock.now()))?.owner).toBe(`nodepoold:${HOST}:5151`);
  });

  it('a holder whose lease was taken over is told to stop, once', async () => {
    const lost: string[] = [];
    const first = lease('nodepoold:ci-host-1:4242', { ttlMs: 30_000, renewMs: 10_000, onLost: (holder) => lost.push(holder) });
    await first.take();
    // Taken for dead while it could not renew: another host has the lease now.
    await db.knex('lease').where({ name: DATABASE_LEASE }).update({ owner: 'nodepoold:ci-host-2:99' });
    await advance(10_000);
    expect(lost).toEqual(['nodepoold:ci-host-2:99']);
    expect(lines.some((l) => l.level === 'error' && l.msg.includes('taken over by nodepoold on host ci-host-2 with pid 99'))).toBe(true);
    await advance(10_000);
    expect(lost).toHaveLength(1);
    // Its release leaves the new holder's lease alone.
    await first.release();
    expect((await db.leases.holder(DATABASE_LEASE, clock.now()))?.owner).toBe('nodepoold:ci-host-2:99');
  });

  it('a graceful stop gives the database up, so the next nodepoold starts at once', async () => {
    const first = lease('nodepoold:ci-host-1:4242');
    await first.take();
    await first.release();
    await lease(`nodepoold:${HOST}:5151`).take();
  });
});
