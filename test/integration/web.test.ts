/**
 * nodepoold's status web server, the daemon running as a process: its pages
 * equal the commands' output for the same records, on SQLite and MariaDB.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { createTempSqliteUri, describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { poolConfig, writePoolConfig } from '../support/pool-config.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
});

async function startWithWebapp(configFile: string): Promise<{ daemon: RunningDaemon; url: string }> {
  const daemon = startNodepoold(['-c', configFile, '--no-builder'], {}, { webapp: true });
  running.push(daemon);
  const line = await daemon.waitForLog('the status web server’s address', (l) => typeof l.url === 'string' && /listening on/.test(l.msg));
  return { daemon, url: line.url as string };
}

/** Ages tick between two reads; everything else must be byte for byte the same. */
const withoutAges = (text: string) => text.replace(/\d{2}:\d{2}:\d{2}:\d{2}/g, 'DD:HH:MM:SS');

async function page(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describeEachBackend('the status web server of nodepoold', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('serves the node, image, dib-image and daemon lists exactly as the commands print them, as text and JSON', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 2, providers: ['fake-a'] }] });
    // Records of an image no label uses, in a provider nodepoold does not run: listed, never booted from.
    const build = await db.builds.create({ image: 'other', builder: 'nb01', filename: 'other-1', formats: ['qcow2'], state: 'ready' });
    await db.uploads.create({ buildId: build.id, provider: 'elsewhere', image: 'other', externalId: 'img-1', externalName: 'other-1', state: 'ready' });
    const { daemon, url } = await startWithWebapp(configFile);
    await waitFor('2 ready nodes', async () => (await db.nodes.list({ state: 'ready' })).length === 2);

    for (const [path, command] of [['node-list', 'list'], ['image-list', 'image-list'], ['dib-image-list', 'dib-image-list'], ['daemon-list', 'daemon-list']] as const) {
      // The cache may hold a list from before the last change for up to a second: read until the two agree.
      await waitFor(`${path} equal to nodepool ${command}`, async () => {
        const cli = await runExecutable('nodepool', ['-c', configFile, command]);
        const web = await page(`${url}/${path}`);
        return web.status === 200 && withoutAges(web.body) === withoutAges(cli.stdout);
      }, { timeoutMs: 10_000, intervalMs: 300 });
      await waitFor(`${path}.json equal to nodepool ${command} --json`, async () => {
        const cli = await runExecutable('nodepool', ['-c', configFile, command, '--json']);
        const web = await page(`${url}/${path}.json`);
        return web.status === 200 && withoutAges(web.body) === withoutAges(cli.stdout);
      }, { timeoutMs: 10_000, intervalMs: 300 });
    }
    const dibList = await page(`${url}/dib-image-list`);
    expect(dibList.body).toContain('| other-1 ');

    const [first] = await db.nodes.list({ state: 'ready' });
    const one = JSON.parse((await page(`${url}/node-list.json?node_id=${first?.id}`)).body) as { id: number }[];
    expect(one.map((n) => n.id)).toEqual([first?.id]);
    expect(JSON.parse((await page(`${url}/node-list.json?node_id=999999`)).body)).toEqual([]);
    expect((await page(`${url}/node-list?node_id=x`)).status).toBe(400);
    expect((await page(`${url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${url}/node-list`, { method: 'DELETE' })).status).toBe(405);

    const labels = await page(`${url}/label-list`);
    expect(labels.body).toContain('| small | 2         |');
    expect(await page(`${url}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
    await waitFor('/readyz 200 once fake-a has listed its servers', async () => (await page(`${url}/readyz`)).status === 200);

    // Closed at the stop: nothing answers on the port any more.
    expect(await daemon.stop('SIGTERM')).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    await db.knex('node').del();
    await db.knex('actor_snapshot').del();
    await db.knex('image_upload').del();
    await db.knex('image_build').del();
  });
});

describe('the status web server of nodepoold, on SQLite', () => {
  it('refuses to start on a port in use with NP_WEBAPP_PORT_IN_USE naming the address, exit 1 and no stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const dir = tempDir();
      const configFile = writeConfigFile(dir, { ...poolConfig({ dir, dburi: createTempSqliteUri() }), webapp: { listen: '127.0.0.1', port } });
      const result = await runExecutable('nodepoold', ['-d', '-c', configFile, '--no-builder'], { timeoutMs: 30_000 });
      expect(result.code).toBe(1);
      const lastLine = result.stderr.trim().split('\n').at(-1);
      expect(lastLine).toBe(`nodepoold: [NP_WEBAPP_PORT_IN_USE] the status web server cannot listen on 127.0.0.1:${port}: the port is in use (set webapp.port, or start with --no-webapp)`);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('serves nothing with --no-webapp', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: createTempSqliteUri() });
    const daemon = startNodepoold(['-c', configFile, '--no-builder']);
    running.push(daemon);
    await daemon.waitForLog('start', (l) => l.msg === 'nodepoold started');
    expect(daemon.lines.some((l) => /status web server/.test(l.msg))).toBe(false);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });
});
