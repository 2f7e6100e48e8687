/**
 * The metrics of several nodepoold sharing one database, read from the
 * daemon table and the provider leases when /metrics is asked (SQLite and
 * MariaDB): one info series per daemon with its state, its start time, the
 * owner of each held provider, and how many providers each daemon drives.
 */
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX, providerLease } from '../../src/core/leases.js';
import type { Database } from '../../src/db/index.js';
import { Logging } from '../../src/log/index.js';
import { openPoolMetrics, type NodeSources, type PoolMetrics } from '../../src/metrics/index.js';
import { describeEachBackend } from '../support/databases.js';
import { sampleSum, samples } from '../support/prometheus-text.js';

const quiet = new Logging({ level: 'error', destination: 'stderr', loggers: {} });
const A = 'nodepoold:host-a:101';
const B = 'nodepoold:host-b:202';
const C = 'nodepoold:host-c:303';
const MINUTE = 60_000;

describeEachBackend('the metrics of the daemons sharing a database', (backend) => {
  let db: Database;
  let metrics: PoolMetrics;
  let now: number;
  let clusterReads = 0;

  beforeAll(async () => {
    db = await backend.open();
  });
  beforeEach(async () => {
    metrics = await openPoolMetrics({ clock: systemClock, log: quiet.get('nodepool.stats'), prometheus: true });
    const sources: NodeSources = {
      tally: () => db.nodes.tally(),
      providers: () => [],
      labels: () => [],
      targets: () => [],
      // As nodepoold reads it: the table and the leases, judged at the time of the read.
      cluster: async () => {
        clusterReads += 1;
        const [daemons, providerLeases] = await Promise.all([db.daemons.list(), db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX)]);
        return { daemons, providerLeases, now };
      },
    };
    metrics.watchNodes(sources);
  });
  afterEach(async () => {
    await metrics.close();
  });

  const page = async () => {
    const prometheus = metrics.prometheusPage;
    if (!prometheus) throw new Error('no Prometheus registry');
    return prometheus.text();
  };

  it('says which daemon drives which provider, and each daemon’s state and start', async () => {
    now = Date.now();
    await db.daemons.heartbeat({ name: A, host: 'host-a', pid: 101, startedAt: 1_700_000_000_000, web: null }, MINUTE, now);
    await db.daemons.heartbeat({ name: B, host: 'host-b', pid: 202, startedAt: 1_700_000_500_000, web: null }, MINUTE, now);
    await db.daemons.setDraining(B, true);
    await db.daemons.heartbeat({ name: C, host: 'host-c', pid: 303, startedAt: 1_699_000_000_000, web: null }, MINUTE, now - 5 * MINUTE);
    await db.leases.tryAcquire(providerLease('fake-a'), A, MINUTE, now);
    await db.leases.tryAcquire(providerLease('fake-b'), A, MINUTE, now);
    await db.leases.tryAcquire(providerLease('fake-c'), B, MINUTE, now);
    // Lapsed with its dead owner: nobody drives fake-d.
    await db.leases.tryAcquire(providerLease('fake-d'), C, MINUTE, now - 5 * MINUTE);
    // Not a provider lease: no series.
    await db.leases.tryAcquire(ALLOCATION_LEASE, A, MINUTE, now);

    const before = clusterReads;
    const text = await page();
    expect(clusterReads - before).toBe(1);
    const info = samples(text).filter((s) => s.name === 'nodepool_daemon_info');
    expect(info.map((s) => [s.labels, s.value])).toEqual(expect.arrayContaining([
      [{ daemon: 'host-a:101', host: 'host-a', pid: '101', state: 'alive' }, 1],
      [{ daemon: 'host-b:202', host: 'host-b', pid: '202', state: 'draining' }, 1],
      [{ daemon: 'host-c:303', host: 'host-c', pid: '303', state: 'dead' }, 1],
    ]));
    expect(info).toHaveLength(3);
    expect(sampleSum(text, 'nodepool_daemon_start_time_seconds', { daemon: 'host-a:101' })).toBe(1_700_000_000);
    expect(sampleSum(text, 'nodepool_daemon_start_time_seconds', { daemon: 'host-b:202' })).toBe(1_700_000_500);

    const owners = samples(text).filter((s) => s.name === 'nodepool_provider_owner');
    expect(owners.map((s) => [s.labels.provider, s.labels.daemon, s.value]).sort()).toEqual([
      ['fake-a', 'host-a:101', 1],
      ['fake-b', 'host-a:101', 1],
      ['fake-c', 'host-b:202', 1],
    ]);
    expect(sampleSum(text, 'nodepool_daemon_providers', { daemon: 'host-a:101' })).toBe(2);
    expect(sampleSum(text, 'nodepool_daemon_providers', { daemon: 'host-b:202' })).toBe(1);
    // A daemon that drives nothing still has its series, at 0.
    expect(samples(text).filter((s) => s.name === 'nodepool_daemon_providers' && s.labels.daemon === 'host-c:303').map((s) => s.value)).toEqual([0]);
  });

  it('follows a handover at the next read: the old series go, the new owner’s come', async () => {
    now = Date.now();
    expect(await db.leases.transfer(providerLease('fake-c'), B, A, MINUTE, now)).toBe(true);
    await db.daemons.remove(C);
    const text = await page();
    expect(samples(text).filter((s) => s.name === 'nodepool_provider_owner').map((s) => `${s.labels.provider}@${s.labels.daemon}`).sort()).toEqual([
      'fake-a@host-a:101', 'fake-b@host-a:101', 'fake-c@host-a:101',
    ]);
    expect(sampleSum(text, 'nodepool_daemon_providers', { daemon: 'host-a:101' })).toBe(3);
    expect(sampleSum(text, 'nodepool_daemon_providers', { daemon: 'host-b:202' })).toBe(0);
    expect(sampleSum(text, 'nodepool_daemon_info', { daemon: 'host-c:303' })).toBe(0);
    // Later, every lease has lapsed and every row expired: dead daemons, no owners.
    now += 2 * MINUTE;
    const later = await page();
    expect(samples(later).filter((s) => s.name === 'nodepool_provider_owner')).toEqual([]);
    expect(samples(later).filter((s) => s.name === 'nodepool_daemon_info').map((s) => s.labels.state)).toEqual(['dead', 'dead']);
  });

  it('has none of these series without a cluster source', async () => {
    const plain = await openPoolMetrics({ clock: systemClock, log: quiet.get('nodepool.stats'), prometheus: true });
    try {
      plain.watchNodes({ tally: () => db.nodes.tally(), providers: () => [], labels: () => [], targets: () => [] });
      const text = await plain.prometheusPage?.text();
      expect(samples(text ?? '').filter((s) => s.name.startsWith('nodepool_daemon_') || s.name === 'nodepool_provider_owner')).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
