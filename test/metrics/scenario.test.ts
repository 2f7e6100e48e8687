/**
 * The metrics after a scripted scenario, in nodepoold's real host on a
 * simulated clock (SQLite and MariaDB): five nodes launched, one launch that
 * fails, two nodes deleted. The Prometheus counters and the statsd packets,
 * caught by a real UDP socket on loopback, must say exactly that.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/index.js';
import { Logging } from '../../src/log/index.js';
import { openPoolMetrics, type PoolMetrics } from '../../src/metrics/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { harnessDatabase, startHarness, type Harness } from '../support/harness.js';
import { oneProviderConfig, type OneProviderOptions } from '../support/one-provider.js';
import { sampleSum } from '../support/prometheus-text.js';
import { startStatsdListener, type StatsdListener } from '../support/statsd-listener.js';

const quiet = new Logging({ level: 'error', destination: 'stderr', loggers: {} });

describeEachBackend('metrics of a scripted scenario', (backend) => {
  const database = harnessDatabase(backend);
  let db: Database;
  let statsd: StatsdListener;
  let metrics: PoolMetrics;
  beforeEach(async () => {
    db = database();
    statsd = await startStatsdListener();
    metrics = await openPoolMetrics({
      clock: systemClock,
      log: quiet.get('nodepool.stats'),
      prometheus: true,
      statsd: { host: '127.0.0.1', port: statsd.port, prefix: 'ci' },
      gaugeDelayMs: 5,
      gaugeIntervalMs: 50,
    });
  });
  afterEach(async () => {
    await metrics.close();
    await statsd.close();
  });

  const config = (dir: string, o: OneProviderOptions) => oneProviderConfig(dir, backend.uri, { launchTimeout: 60, ...o });
  const countIn = async (state: string) => (await db.nodes.list({ state: state as never })).length;
  const text = async () => {
    const page = metrics.prometheusPage;
    if (!page) throw new Error('no Prometheus registry');
    return page.text();
  };

  async function deleteNodes(h: Harness, count: number): Promise<number[]> {
    const ready = (await db.nodes.list({ state: 'ready' })).slice(0, count);
    for (const node of ready) {
      await db.transaction(async (tx) => {
        await tx.nodes.setState(node.id, 'delete');
        await tx.changes.append('node', node.id, 'delete');
      });
    }
    await h.until(`${count} nodes gone`, async () => (await Promise.all(ready.map((n) => db.nodes.get(n.id)))).every((n) => !n), { stepMs: 1_000 });
    return ready.map((n) => n.id);
  }

  it('launch 5 with one failure, delete 2: the counters and the statsd packets say exactly that', async () => {
    const dir = tempDir();
    // The first node's server never leaves BUILD: it fails at the launch timeout (60 s).
    const h = await startHarness({ db, dir, config: config(dir, { minReady: 1, failureRate: { 'stuck-in-build': 1 } }), nodepoold: { metrics } });
    h.host.gateways.calls.subscribe((call) => metrics.cloudCall(call));
    const stuck = await h.until('a server for the first node', async () => (await db.nodes.list()).find((n) => n.externalId));
    // Then the cloud builds servers again, and five nodes are wanted.
    h.rewrite(config(dir, { minReady: 5 }), { apply: true });
    await h.until('five ready and the stuck node gone', async () => (await countIn('ready')) === 5 && !(await db.nodes.get(stuck.id)), { stepMs: 2_000 });

    let page = await text();
    const small = { provider: 'fake-a', label: 'small' };
    expect(sampleSum(page, 'nodepool_launches_total', { ...small, result: 'ready' })).toBe(5);
    expect(sampleSum(page, 'nodepool_launches_total', { ...small, result: 'timeout' })).toBe(1);
    expect(sampleSum(page, 'nodepool_launch_duration_seconds_count', small)).toBe(6);
    // The failed node was deleted.
    expect(sampleSum(page, 'nodepool_deletes_total', small)).toBe(1);
    expect(sampleSum(page, 'nodepool_nodes', { ...small, state: 'ready' })).toBe(5);
    expect(sampleSum(page, 'nodepool_nodes', { ...small, state: 'building' })).toBe(0);
    expect(sampleSum(page, 'nodepool_provider_max_servers', { provider: 'fake-a' })).toBe(10);
    expect(sampleSum(page, 'nodepool_label_min_ready', { label: 'small' })).toBe(5);
    expect(sampleSum(page, 'nodepool_cloud_api_calls_total', { provider: 'fake-a', operation: 'createServer', outcome: 'ok' })).toBe(6);

    const deleted = await deleteNodes(h, 2);
    expect(deleted).toHaveLength(2);
    // min-ready asks for two more.
    await h.until('five ready again', async () => (await countIn('ready')) === 5 && (await db.nodes.list()).length === 5, { stepMs: 1_000 });
    page = await text();
    expect(sampleSum(page, 'nodepool_launches_total', { ...small, result: 'ready' })).toBe(7);
    expect(sampleSum(page, 'nodepool_launches_total', { ...small, result: 'timeout' })).toBe(1);
    expect(sampleSum(page, 'nodepool_deletes_total', small)).toBe(3);
    expect(sampleSum(page, 'nodepool_delete_duration_seconds_count', { provider: 'fake-a' })).toBe(3);
    expect(sampleSum(page, 'nodepool_cloud_api_calls_total', { provider: 'fake-a', operation: 'createServer' })).toBe(8);
    expect(sampleSum(page, 'nodepool_cloud_api_calls_total', { provider: 'fake-a', operation: 'deleteServer' })).toBe(3);
    expect(sampleSum(page, 'process_cpu_seconds_total')).toBeGreaterThan(0);

    // statsd: 0.4's keys, with the prefix, every line well formed.
    await h.until('the gauges after the last change', () => statsd.gauge('ci.nodepool.nodes.ready') === 5 && statsd.gauge('ci.nodepool.nodes.delete') === 0, { realMs: 5_000 });
    expect(statsd.malformed).toEqual([]);
    for (const key of ['provider.fake-a', 'image.debian', 'target.local']) {
      expect(statsd.count(`ci.nodepool.launch.${key}.ready`)).toBe(7);
      expect(statsd.timings(`ci.nodepool.launch.${key}.ready`)).toHaveLength(7);
      expect(statsd.count(`ci.nodepool.launch.${key}.error.timeout`)).toBe(1);
    }
    expect(statsd.count('ci.nodepool.launch.ready')).toBe(7);
    expect(statsd.timings('ci.nodepool.launch.error.timeout')[0]).toBeGreaterThanOrEqual(60_000);
    expect(statsd.count('ci.nodepool.delete.debian.fake-a.local')).toBe(3);
    expect(statsd.timings('ci.nodepool.delete.debian.fake-a.local')).toHaveLength(3);
    expect(statsd.gauge('ci.nodepool.provider.fake-a.nodes.ready')).toBe(5);
    expect(statsd.gauge('ci.nodepool.label.small.nodes.ready')).toBe(5);
    expect(statsd.gauge('ci.nodepool.target.local.nodes.ready')).toBe(5);
    expect(statsd.gauge('ci.nodepool.label.small.nodes.building')).toBe(0);
    expect(statsd.gauge('ci.nodepool.provider.fake-a.max_servers')).toBe(10);
    // No node id, server id or address in any key.
    for (const key of statsd.keys()) expect(key).toMatch(/^ci\.nodepool\.[a-z_]+(\.[a-z0-9_-]+)*$/);
    for (const id of deleted) expect([...statsd.keys()].some((k) => k.includes(`.${id}.`))).toBe(false);
  });

  it('a build and its upload: their durations, the build state gauge, the image file size and the upload key', async () => {
    const dir = tempDir();
    const h = await startHarness({
      db,
      dir,
      config: oneProviderConfig(dir, backend.uri, { buildSeconds: 0 }),
      clock: 'real',
      nodepoold: false,
      builder: { buildWorkers: 1, uploadWorkers: 1, metrics, tuning: { tickMs: 20, surveyIntervalMs: 50 } },
    });
    await h.until('an upload ready', async () => (await db.uploads.list()).some((u) => u.state === 'ready'), { realMs: 30_000 });
    const page = await text();
    expect(sampleSum(page, 'nodepool_image_build_duration_seconds_count', { image: 'debian', result: 'ready' })).toBe(1);
    expect(sampleSum(page, 'nodepool_image_upload_duration_seconds_count', { image: 'debian', provider: 'fake-a', result: 'ready' })).toBe(1);
    expect(sampleSum(page, 'nodepool_image_builds', { image: 'debian', state: 'ready' })).toBe(1);
    expect(sampleSum(page, 'nodepool_image_uploads', { image: 'debian', provider: 'fake-a', state: 'ready' })).toBe(1);
    // Nothing of nodepoold's in a builder's metrics.
    expect(sampleSum(page, 'nodepool_nodes')).toBe(0);
    await h.until('the statsd packets', () => statsd.count('ci.nodepool.image_update.debian.fake-a') === 1 && statsd.gauge('ci.nodepool.dib_image_build.debian.qcow2.size') !== undefined, { realMs: 5_000 });
    expect(statsd.gauge('ci.nodepool.dib_image_build.debian.qcow2.size')).toBeGreaterThan(0);
    expect(statsd.timings('ci.nodepool.image_update.debian.fake-a')).toHaveLength(1);
    expect(statsd.malformed).toEqual([]);
  });
});
