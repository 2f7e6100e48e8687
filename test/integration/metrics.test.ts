/**
 * nodepoold's metrics, the daemon running as a process on SQLite and
 * MariaDB: /metrics over real HTTP in Prometheus' text format, and statsd
 * packets to STATSD_HOST:STATSD_PORT caught by a real UDP socket.
 */
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { writePoolConfig } from '../support/pool-config.js';
import { sampleSum } from '../support/prometheus-text.js';
import { startStatsdListener, type StatsdListener } from '../support/statsd-listener.js';

const running: RunningDaemon[] = [];
let listener: StatsdListener | undefined;
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
  await listener?.close();
  listener = undefined;
});

describeEachBackend('nodepoold’s metrics', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('serves /metrics with the nodes, launches and cloud calls, and sends statsd with 0.4’s keys', { timeout: 60_000 }, async () => {
    listener = await startStatsdListener();
    const statsd = listener;
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 2, providers: ['fake-a'] }] });
    const daemon = startNodepoold(['-c', configFile, '--no-builder'], { STATSD_HOST: '127.0.0.1', STATSD_PORT: String(statsd.port) }, { webapp: true });
    running.push(daemon);
    const url = (await daemon.waitForLog('the status web server’s address', (l) => typeof l.url === 'string' && /listening on/.test(l.msg))).url as string;
    await waitFor('2 ready nodes', async () => (await db.nodes.list({ state: 'ready' })).length === 2);

    const metrics = async () => {
      const response = await fetch(`${url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return response.text();
    };
    const ready = { provider: 'fake-a', label: 'small', state: 'ready' };
    await waitFor('/metrics counting 2 ready nodes', async () => sampleSum(await metrics(), 'nodepool_nodes', ready) === 2);
    const text = await metrics();
    expect(sampleSum(text, 'nodepool_launches_total', { provider: 'fake-a', label: 'small', result: 'ready' })).toBe(2);
    expect(sampleSum(text, 'nodepool_cloud_api_calls_total', { provider: 'fake-a', operation: 'createServer', outcome: 'ok' })).toBe(2);
    expect(sampleSum(text, 'nodepool_cloud_api_calls_total', { provider: 'fake-a', operation: 'listServers', outcome: 'ok' })).toBeGreaterThan(0);
    expect(sampleSum(text, 'nodepool_rate_queue_wait_seconds_count', { provider: 'fake-a' })).toBeGreaterThan(0);
    expect(sampleSum(text, 'nodepool_provider_max_servers', { provider: 'fake-a' })).toBe(10);
    expect(sampleSum(text, 'nodepool_label_min_ready', { label: 'small' })).toBe(2);
    expect(sampleSum(text, 'nodepool_label_demand', { label: 'small' })).toBe(0);
    expect(sampleSum(text, 'process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(text).toContain('# HELP nodepool_launch_duration_seconds ');
    expect((await fetch(`${url}/metrics?x=1`)).status).toBe(400);

    await waitFor('the statsd gauges', () => statsd.gauge('nodepool.nodes.ready') === 2 && statsd.gauge('nodepool.provider.fake-a.nodes.ready') === 2);
    expect(statsd.count('nodepool.launch.provider.fake-a.ready')).toBe(2);
    expect(statsd.count('nodepool.launch.image.debian.ready')).toBe(2);
    expect(statsd.malformed).toEqual([]);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });
});

it('a STATSD_PORT that is not a port refuses the start with NP_STATSD_SETTINGS', async () => {
  const dir = tempDir();
  const configFile = writePoolConfig({ dir, dburi: `sqlite://${dir}/np.db` });
  const result = await runExecutable('nodepoold', ['-c', configFile, '--no-webapp'], { env: { STATSD_HOST: '127.0.0.1', STATSD_PORT: 'eighty' } });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('[NP_STATSD_SETTINGS] STATSD_PORT must be a port number (1-65535), not "eighty"');
});
