/**
 * nodepool-builder's status web server, the builder running as a process:
 * its two listings equal the commands' output for the same records, on
 * SQLite and MariaDB; it offers no node or label pages.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { sampleSum } from '../support/prometheus-text.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, createTempSqliteUri, describeEachBackend } from '../support/databases.js';
import { startBuilder, waitFor, type RunningDaemon } from '../support/daemon.js';
import { oneProviderConfig } from '../support/one-provider.js';

const TUNING = { NODEPOOL_BUILDER_TICK_SECONDS: '0.2', NODEPOOL_BUILDER_SURVEY_SECONDS: '0.5' };

const running: RunningDaemon[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    if (failed) console.error(`nodepool-builder ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.stop('SIGTERM', 10_000).catch(() => daemon.kill());
  }
});

function builder(args: readonly string[], options: { webapp?: boolean } = {}): RunningDaemon {
  const daemon = startBuilder(args, TUNING, options);
  running.push(daemon);
  return daemon;
}

/** Ages tick between two reads; everything else must be byte for byte the same. */
const withoutAges = (text: string) => text.replace(/\d{2}:\d{2}:\d{2}:\d{2}/g, 'DD:HH:MM:SS');

async function page(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describeEachBackend('the status web server of nodepool-builder', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterEach(async () => {
    await clearAll(db);
  });

  it('serves the dib-image and image lists exactly as the commands print them, and no node or label pages', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, oneProviderConfig(dir, backend.uri, { buildSeconds: 0 }));
    const daemon = builder(['-c', configFile, '--webapp-port', '0'], { webapp: true });
    const line = await daemon.waitForLog('the status web server’s address', (l) => typeof l.url === 'string' && /listening on/.test(l.msg));
    const url = line.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor('a ready upload', async () => (await db.uploads.list()).some((u) => u.state === 'ready'), { timeoutMs: 30_000 });

    for (const listing of ['dib-image-list', 'image-list'] as const) {
      // The cache may hold a list from before the last change for up to a second: read until the two agree.
      await waitFor(`${listing} equal to nodepool ${listing}`, async () => {
        const cli = await runExecutable('nodepool', ['-c', configFile, listing]);
        const web = await page(`${url}/${listing}`);
        return web.status === 200 && withoutAges(web.body) === withoutAges(cli.stdout);
      }, { timeoutMs: 10_000, intervalMs: 300 });
      await waitFor(`${listing}.json equal to nodepool ${listing} --json`, async () => {
        const cli = await runExecutable('nodepool', ['-c', configFile, listing, '--json']);
        const web = await page(`${url}/${listing}.json`);
        return web.status === 200 && withoutAges(web.body) === withoutAges(cli.stdout);
      }, { timeoutMs: 10_000, intervalMs: 300 });
    }
    expect((await page(`${url}/image-list`)).body).toContain('| fake-a ');

    expect(await page(`${url}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
    // Its metrics: its builds and uploads, its own upload calls, its process; no node of nodepoold's.
    await waitFor('/metrics counting the ready upload', async () => sampleSum((await page(`${url}/metrics`)).body, 'nodepool_image_uploads', { image: 'debian', provider: 'fake-a', state: 'ready' }) === 1);
    const metrics = (await page(`${url}/metrics`)).body;
    expect(sampleSum(metrics, 'nodepool_image_builds', { image: 'debian', state: 'ready' })).toBe(1);
    expect(sampleSum(metrics, 'nodepool_image_build_duration_seconds_count', { image: 'debian', result: 'ready' })).toBe(1);
    expect(sampleSum(metrics, 'nodepool_cloud_api_calls_total', { provider: 'fake-a', operation: 'uploadImage', outcome: 'ok' })).toBe(1);
    expect(sampleSum(metrics, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metrics).not.toMatch(/^nodepool_nodes\{/m);
    const nodeList = await page(`${url}/node-list`);
    expect(nodeList.status).toBe(404);
    expect(nodeList.body).toBe('/node-list is not a page of the status server; pages: /image-list, /dib-image-list, /metrics, /healthz, / (the inspector page), /api/pool, /api/actors, /api/events\n');
    for (const path of ['/node-list.json', '/label-list', '/readyz']) expect((await page(`${url}${path}`)).status).toBe(404);

    // Closed at the stop: nothing answers on the port any more.
    expect(await daemon.stop('SIGTERM')).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('the status web server of nodepool-builder, on SQLite', () => {
  it('refuses to start on a port in use with NP_WEBAPP_PORT_IN_USE naming the address, exit 1 and no stack trace', { timeout: 40_000 }, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const dir = tempDir();
      const configFile = writeConfigFile(dir, oneProviderConfig(dir, createTempSqliteUri(), { buildSeconds: 0 }));
      const result = await runExecutable('nodepool-builder', ['-d', '-c', configFile, '--webapp-port', String(port)], { timeoutMs: 30_000 });
      expect(result.code).toBe(1);
      const lastLine = result.stderr.trim().split('\n').at(-1);
      expect(lastLine).toBe(`nodepool-builder: [NP_WEBAPP_PORT_IN_USE] the status web server cannot listen on 127.0.0.1:${port}: the port is in use (set --webapp-port, or start with --no-webapp)`);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('serves nothing with --no-webapp', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, oneProviderConfig(dir, createTempSqliteUri(), { buildSeconds: 0 }));
    const daemon = builder(['-c', configFile]);
    await daemon.waitForLog('start', (l) => /^builder started with/.test(l.msg));
    expect(daemon.process.spawnargs).toContain('--no-webapp');
    expect(daemon.lines.some((l) => /status web server/.test(l.msg))).toBe(false);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });

  it('refuses a --webapp-port that is not a port, as a usage error', async () => {
    const result = await runExecutable('nodepool-builder', ['--webapp-port', '70000']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("expected a port from 0 to 65535, got '70000'");
  });
});
