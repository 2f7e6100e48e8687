import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

describeEachBackend('leases', (backend) => {
  let db: Database;
  /** Ten processes: each its own Database (own pool and connections). */
  let contenders: Database[];

  beforeAll(async () => {
    db = await backend.open();
    contenders = await Promise.all(Array.from({ length: 10 }, () => backend.open()));
  });
  beforeEach(() => clearAll(db));

  async function race(name: string, now: number): Promise<string[]> {
    const results = await Promise.all(contenders.map((c, i) => c.leases.tryAcquire(name, `builder-${i}`, 60_000, now)));
    return results.flatMap((won, i) => (won ? [`builder-${i}`] : []));
  }

  it('of ten builders claiming a free upload at once, exactly one gets it', async () => {
    const winners = await race('upload-trusty-rax', 1_000);
    expect(winners).toHaveLength(1);
    expect((await db.leases.holder('upload-trusty-rax', 1_000))?.owner).toBe(winners[0]);
  });

  it('of ten builders taking over a lapsed lease at once, exactly one gets it', async () => {
    expect(await db.leases.tryAcquire('build-trusty', 'dead-builder', 1_000, 0)).toBe(true);
    const winners = await race('build-trusty', 5_000);
    expect(winners).toHaveLength(1);
    expect(await db.leases.holder('build-trusty', 5_000)).toEqual({ name: 'build-trusty', owner: winners[0], expiresAt: 65_000 });
  });

  it('lists the leases held now under a prefix, not lapsed ones or others', async () => {
    await db.leases.tryAcquire('image-build-1', 'nb01', 60_000, 1_000);
    await db.leases.tryAcquire('image-upload-2', 'nb02', 60_000, 1_000);
    await db.leases.tryAcquire('image-upload-3', 'nb02', 10, 1_000);
    await db.leases.tryAcquire('nodepoold', 'np', 60_000, 1_000);
    const held = await db.leases.heldWithPrefix('image-', 2_000);
    expect(held.map((l) => [l.name, l.owner]).sort()).toEqual([['image-build-1', 'nb01'], ['image-upload-2', 'nb02']]);
  });

  it('a lease is held until it expires, then another process may take it over', async () => {
    expect(await db.leases.tryAcquire('build-trusty', 'nb01', 1_000, 10_000)).toBe(true);
    expect(await db.leases.tryAcquire('build-trusty', 'nb02', 1_000, 10_999)).toBe(false);
    expect((await db.leases.holder('build-trusty', 10_999))?.owner).toBe('nb01');
    expect(await db.leases.holder('build-trusty', 11_000)).toBeUndefined();
    expect(await db.leases.tryAcquire('build-trusty', 'nb02', 1_000, 11_000)).toBe(true);
    expect(await db.leases.holder('build-trusty', 11_500)).toEqual({ name: 'build-trusty', owner: 'nb02', expiresAt: 12_000 });
  });

  it('the holder may claim again to extend its lease', async () => {
    expect(await db.leases.tryAcquire('build-trusty', 'nb01', 1_000, 10_000)).toBe(true);
    expect(await db.leases.tryAcquire('build-trusty', 'nb01', 1_000, 10_500)).toBe(true);
    expect((await db.leases.holder('build-trusty', 11_200))?.expiresAt).toBe(11_500);
  });

  it('only the holder renews; a process that lost its lease learns so', async () => {
    await db.leases.tryAcquire('build-trusty', 'nb01', 1_000, 10_000);
    expect(await db.leases.renew('build-trusty', 'nb01', 1_000, 10_800)).toBe(true);
    expect(await db.leases.renew('build-trusty', 'nb02', 1_000, 10_800)).toBe(false);
    expect((await db.leases.holder('build-trusty', 11_700))?.owner).toBe('nb01');
    // nb01 stalls past expiry, nb02 takes over: nb01's renewal now fails.
    expect(await db.leases.tryAcquire('build-trusty', 'nb02', 1_000, 12_000)).toBe(true);
    expect(await db.leases.renew('build-trusty', 'nb01', 1_000, 12_100)).toBe(false);
    expect(await db.leases.renew('unknown', 'nb01', 1_000, 12_100)).toBe(false);
  });

  it('only the holder releases; a released lease is free at once', async () => {
    await db.leases.tryAcquire('build-trusty', 'nb01', 60_000, 10_000);
    expect(await db.leases.release('build-trusty', 'nb02')).toBe(false);
    expect(await db.leases.release('build-trusty', 'nb01')).toBe(true);
    expect(await db.leases.holder('build-trusty', 10_001)).toBeUndefined();
    expect(await db.leases.tryAcquire('build-trusty', 'nb02', 60_000, 10_001)).toBe(true);
  });

  it('the clock defaults to the database options clock', async () => {
    const start = Date.now();
    expect(await db.leases.tryAcquire('default-clock', 'nb01', 60_000)).toBe(true);
    const lease = await db.leases.holder('default-clock');
    expect(lease?.expiresAt).toBeGreaterThanOrEqual(start + 60_000);
  });
});
