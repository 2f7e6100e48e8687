/**
 * Provider ownership among several nodepoold on one database
 * (docs/scaling.md), with the coordinators alone (no actors) on a
 * simulated clock: each provider has exactly one owner, spread over the
 * live daemons; a daemon that joins takes only its share; a graceful stop
 * hands over at once; a dead daemon's providers move once its lease lapses
 * (at once when it ran on this host and its pid is gone); a draining daemon
 * gives everything away; a daemon that cannot renew while others live
 * stops driving before its leases lapse.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { hostname } from 'node:os';
import { ALLOCATION_LEASE } from '../../src/core/leases.js';
import type { Database } from '../../src/db/index.js';
import { Logging } from '../../src/log/index.js';
import { ProviderOwnership, type ReleaseReason } from '../../src/nodepoold/provider-ownership.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

const PROVIDERS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
const TTL = 20_000;
const BEAT = 5_000;

describeEachBackend('provider ownership', (backend) => {
  let db: Database;
  let clock: SimulatedClock;
  const log = new Logging({ level: 'error', destination: 'stderr', loggers: {} }).get('test');

  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => {
    await clearAll(db);
    await db.close();
  });
  /** The coordinators a test made: their beats end with it (one in flight would write into the next test's tables). */
  const made: ProviderOwnership[] = [];
  afterEach(async () => {
    for (const ownership of made.splice(0)) await ownership.stopBeating();
  });
  beforeEach(async () => {
    await clearAll(db);
    await db.knex('daemon').delete();
    clock = new SimulatedClock();
    clock.set(1_000_000);
  });

  /** A daemon as its coordinator sees things: what it drives, and every take and release it was told of. */
  function daemon(name: string, options: { alive?: (pid: number) => boolean } = {}) {
    const driving = new Set<string>();
    const events: { provider: string; what: 'take' | ReleaseReason }[] = [];
    const ownership = new ProviderOwnership({
      db,
      clock,
      log,
      name,
      ttlMs: TTL,
      beatMs: BEAT,
      providers: () => Promise.resolve(PROVIDERS),
      holderAlive: options.alive ?? (() => true),
      onTake: (provider) => {
        expect(driving.has(provider), `${name} takes ${provider} twice`).toBe(false);
        driving.add(provider);
        events.push({ provider, what: 'take' });
        return Promise.resolve();
      },
      onRelease: (provider, reason) => {
        driving.delete(provider);
        events.push({ provider, what: reason });
        return Promise.resolve();
      },
    });
    made.push(ownership);
    return { name, ownership, driving, events };
  }
  type Daemon = ReturnType<typeof daemon>;

  /** The daemon's process is gone: no beat, no stop (its timer, on the simulated clock, fires into nothing). */
  function kill(d: Daemon): void {
    d.ownership.beat = () => Promise.resolve();
  }

  /** Every daemon beats once, in turn, with time moving by a beat. */
  async function beats(daemons: Daemon[], count = 1): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      clock.increment(BEAT);
      for (const d of daemons) await d.ownership.beat();
    }
  }

  async function owners(): Promise<Map<string, string>> {
    const rows = await db.leases.listWithPrefix('provider:');
    return new Map(rows.filter((r) => r.expiresAt > clock.now()).map((r) => [r.name.slice('provider:'.length), r.owner]));
  }

  /** No provider is driven by two daemons, and every provider by one, whose lease says so. */
  async function expectOneOwnerEach(daemons: Daemon[]): Promise<void> {
    const leases = await owners();
    for (const provider of PROVIDERS) {
      const drivers = daemons.filter((d) => d.driving.has(provider)).map((d) => d.name);
      expect(drivers, `drivers of ${provider}`).toHaveLength(1);
      expect(leases.get(provider)).toBe(drivers[0]);
    }
  }

  it('spreads the providers over three daemons, one owner each, and one allocation', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2'), daemon('nodepoold:host-c:3')];
    for (const d of all) await d.ownership.start();
    await beats(all, 3);
    await expectOneOwnerEach(all);
    for (const d of all) expect(d.driving.size, `${d.name} drives`).toBeGreaterThan(0);
    expect(all.filter((d) => d.ownership.allocates())).toHaveLength(1);
    expect((await db.leases.holder(ALLOCATION_LEASE, clock.now()))?.owner).toBe(all.find((d) => d.ownership.allocates())?.name);
    for (const d of all) expect([...d.ownership.drivenProviders()].sort()).toEqual(PROVIDERS);
  });

  it('a daemon that joins takes only its share; the others keep the rest without a break', async () => {
    const first = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2')];
    for (const d of first) await d.ownership.start();
    await beats(first, 2);
    await expectOneOwnerEach(first);
    const before = await owners();
    const joining = daemon('nodepoold:host-c:3');
    await joining.ownership.start();
    const all = [...first, joining];
    await beats(all, 3);
    await expectOneOwnerEach(all);
    const after = await owners();
    for (const provider of PROVIDERS) {
      // Rendezvous hashing: a provider moves only to the newcomer.
      if (after.get(provider) !== before.get(provider)) expect(after.get(provider)).toBe(joining.name);
    }
    expect(joining.driving.size).toBeGreaterThan(0);
    for (const d of first) expect(d.events.filter((e) => e.what === 'lost')).toEqual([]);
  });

  it('a graceful stop hands every provider over at once, with no moment without an owner', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2'), daemon('nodepoold:host-c:3')];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const leaving = all[0] as Daemon;
    const itsProviders = [...leaving.driving];
    for (const p of itsProviders) leaving.driving.delete(p); // the workload stopped its actors before
    await leaving.ownership.stop();
    const handed = await owners();
    for (const provider of itsProviders) expect([all[1]?.name, all[2]?.name]).toContain(handed.get(provider));
    expect(await db.daemons.get(leaving.name)).toBeUndefined();
    // The next beat of the others (no time for a TTL) starts them.
    await beats(all.slice(1), 1);
    await expectOneOwnerEach(all.slice(1));
  });

  it('a provider handed to a daemon that stops before its next beat is passed on at its stop, not left to lapse', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2')];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const [giver, stopping] = all as [Daemon, Daemon];
    const lease = `provider:${[...giver.driving][0] ?? ''}`;
    // The giver hands one of its providers over (as when the hashing names the other), and the other stops before it noticed.
    expect(await db.leases.transfer(lease, giver.name, stopping.name, TTL, clock.now())).toBe(true);
    await stopping.ownership.stop();
    expect((await db.leases.holder(lease, clock.now()))?.owner).toBe(giver.name);
  });

  it('a dead daemon on another host: its providers move once its lease lapses, not before', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2'), daemon('nodepoold:host-c:3')];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const dead = all[0] as Daemon;
    kill(dead);
    const orphaned = [...dead.driving];
    expect(orphaned.length).toBeGreaterThan(0);
    const survivors = all.slice(1);
    await beats(survivors, 2); // 10 s: the lease (20 s) still holds
    for (const p of orphaned) expect(survivors.some((d) => d.driving.has(p))).toBe(false);
    await beats(survivors, 3); // past the TTL
    for (const p of orphaned) expect(survivors.filter((d) => d.driving.has(p))).toHaveLength(1);
    expect(survivors.some((d) => d.ownership.allocates())).toBe(true);
  });

  it('a dead daemon on this host whose pid is gone: its providers move at the next beat', async () => {
    const here = hostname();
    const gone = new Set<number>();
    const alive = (pid: number) => !gone.has(pid);
    const all = [daemon(`nodepoold:${here}:101`, { alive }), daemon(`nodepoold:${here}:102`, { alive }), daemon(`nodepoold:${here}:103`, { alive })];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const dead = all[1] as Daemon;
    kill(dead);
    const orphaned = [...dead.driving];
    gone.add(102);
    const survivors = [all[0] as Daemon, all[2] as Daemon];
    await beats(survivors, 1);
    for (const p of orphaned) expect(survivors.filter((d) => d.driving.has(p))).toHaveLength(1);
  });

  it('a draining daemon gives its providers away and takes them back when undrained', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2')];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const draining = all[0] as Daemon;
    expect(draining.driving.size).toBeGreaterThan(0);
    await db.daemons.setDraining(draining.name, true);
    await beats(all, 2);
    expect(draining.driving.size).toBe(0);
    expect(draining.ownership.allocates()).toBe(false);
    await expectOneOwnerEach(all);
    expect(draining.events.filter((e) => e.what !== 'handover' && e.what !== 'take')).toEqual([]);
    await db.daemons.setDraining(draining.name, false);
    await beats(all, 2);
    expect(draining.driving.size).toBeGreaterThan(0);
    await expectOneOwnerEach(all);
  });

  it('a daemon that cannot renew while others live stops driving before its leases lapse; alone, it drives on', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2')];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const cut = all[0] as Daemon;
    const itsProviders = [...cut.driving];
    const realHeartbeat = db.daemons.heartbeat.bind(db.daemons);
    db.daemons.heartbeat = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    try {
      clock.increment(BEAT);
      await cut.ownership.beat(); // 5 s since the last renewal: still safe
      expect(cut.driving.size).toBe(itsProviders.length);
      clock.increment(BEAT * 2);
      await cut.ownership.beat(); // 15 s: one beat before the lapse
      expect(cut.driving.size).toBe(0);
      expect(cut.events.filter((e) => e.what === 'lost').map((e) => e.provider).sort()).toEqual([...itsProviders].sort());
    } finally {
      db.daemons.heartbeat = realHeartbeat;
    }
  });

  it('a daemon stalled past its lease while others live drives nothing until a beat has renewed it', async () => {
    const all = [daemon('nodepoold:host-a:1'), daemon('nodepoold:host-b:2')];
    for (const d of all) await d.ownership.start();
    await beats(all, 2);
    const stalled = all[0] as Daemon;
    const itsProviders = [...stalled.driving];
    expect(itsProviders.length).toBeGreaterThan(0);
    stalled.ownership.beat = () => Promise.resolve();
    clock.increment(TTL + 1);
    for (const p of itsProviders) expect(stalled.ownership.owns(p)).toBe(false);
    kill(all[1] as Daemon);
  });

  it('alone, a stall past the lease changes nothing: nobody could have taken it', async () => {
    const only = daemon('nodepoold:host-c:3');
    await only.ownership.start();
    kill(only);
    clock.increment(TTL * 3);
    for (const p of PROVIDERS) expect(only.ownership.owns(p)).toBe(true);
  });

  it('alone, a daemon keeps driving through an outage longer than the lease', async () => {
    const only = daemon('nodepoold:host-a:1');
    await only.ownership.start();
    await beats([only], 1);
    expect(only.driving.size).toBe(PROVIDERS.length);
    const realHeartbeat = db.daemons.heartbeat.bind(db.daemons);
    db.daemons.heartbeat = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    try {
      for (let i = 0; i < 8; i += 1) {
        clock.increment(BEAT);
        await only.ownership.beat();
      }
      expect(only.driving.size).toBe(PROVIDERS.length);
    } finally {
      db.daemons.heartbeat = realHeartbeat;
    }
    await beats([only], 1);
    expect(only.driving.size).toBe(PROVIDERS.length);
    expect((await owners()).size).toBe(PROVIDERS.length);
  });

});
