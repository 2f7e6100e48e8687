import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type NodepoolConfig } from '../../src/config/index.js';
import type { Provider } from '../../src/config/types.js';
import type { Database } from '../../src/db/index.js';
import { DriverError, type ProviderDriver, type Server } from '../../src/drivers/driver.js';
import { createFakeDriver, type FakeDriver } from '../../src/drivers/fake/index.js';
import { listAlienImages, listAlienServers, serverIp } from '../../src/cli/commands/aliens.js';
import { CommandFailure } from '../../src/cli/failure.js';
import { runExecutable } from '../support/cli.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { poolConfig } from '../support/pool-config.js';

type Row = string[];

/** The data rows of a PrettyTable, cells trimmed; the header is checked separately. */
function tableRows(stdout: string): { header: Row; rows: Row[] } {
  const lines = stdout.trim().split('\n');
  const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());
  expect(lines[0]).toMatch(/^\+[-+]+\+$/);
  expect(lines[2]).toBe(lines[0]);
  expect(lines.at(-1)).toBe(lines[0]);
  return { header: cells(lines[1] ?? ''), rows: lines.slice(3, -1).map(cells) };
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function configOf(file: string): NodepoolConfig {
  const result = loadConfig(file);
  if (!result.config) throw new Error(`invalid ${file}: ${JSON.stringify(result.problems)}`);
  return result.config;
}

describe('serverIp', () => {
  it('prefers public v4, then public v6, then private v4, else none', () => {
    const ip = (addresses: Server['addresses']) => serverIp({ addresses });
    expect(ip({ publicV4: '203.0.113.5', publicV6: '2001:db8::5', privateV4: '10.0.0.5' })).toBe('203.0.113.5');
    expect(ip({ publicV6: '2001:db8::5', privateV4: '10.0.0.5' })).toBe('2001:db8::5');
    expect(ip({ privateV4: '10.0.0.5' })).toBe('10.0.0.5');
    expect(ip({})).toBeNull();
  });
});

describeEachBackend('nodepool alien-list and alien-image-list', (backend) => {
  let dir: string;
  let configFile: string;
  let db: Database;
  const nodepool = (...args: string[]) => runExecutable('nodepool', ['-c', configFile, ...args]);

  /** What the clouds hold, and which of it is alien (see beforeAll). */
  const world = {
    aliens: { a: { name: '', id: '', ip: '' }, b: { name: '', id: '' } },
    alienImages: { a: { name: '', id: '' }, b: { name: '', id: '' } },
  };

  /** The cloud of a configured fake provider, reached through its state file as another process would. */
  function cloudOf(name: string): FakeDriver {
    const provider = configOf(configFile).providers.find((p) => p.name === name);
    if (!provider) throw new Error(`no provider ${name}`);
    return createFakeDriver(provider);
  }

  async function newServer(driver: FakeDriver, name: string, imageId: string): Promise<string> {
    return (await driver.createServer({ name, imageId, flavorId: 'm1.tiny', metadata: {} })).id;
  }

  /**
   * fake-a (servers ACTIVE at once) and fake-b (retired, max-servers -1;
   * servers stay in BUILD, so they have no address yet). A row of fake-a
   * records the id of fake-b's stray server and image: it must not account
   * for them in fake-b.
   */
  beforeAll(async () => {
    dir = tempDir();
    configFile = writeConfigFile(
      dir,
      poolConfig({ dir, dburi: backend.uri, providers: [{ name: 'fake-a', active: 0 }, { name: 'fake-b', maxServers: -1, active: 3600 }] }),
    );
    db = await backend.open();

    const a = cloudOf('fake-a');
    const b = cloudOf('fake-b');
    try {
      // Images: the cloud's own (never listed), nodepool's with a ready upload, nodepool's with one being deleted.
      const cirrosA = a.cloud.addImage('cirros', { os_distro: 'cirros' });
      const readyA = a.cloud.addImage('debian-1700000001', { nodepool_build_id: '1', nodepool_upload_id: '1' });
      const deletingA = a.cloud.addImage('debian-1700000002', { nodepool_build_id: '2', nodepool_upload_id: '2' });
      const cirrosB = b.cloud.addImage('cirros');
      const strayB = b.cloud.addImage('debian-1700000003', { nodepool_build_id: '1', nodepool_upload_id: '3' });

      const build1 = await db.builds.create({ image: 'debian', builder: 'nb01', filename: 'debian-1', formats: ['qcow2'], state: 'ready' });
      const build2 = await db.builds.create({ image: 'debian', builder: 'nb01', filename: 'debian-2', formats: ['qcow2'], state: 'deleting' });
      await db.uploads.create({ buildId: build1.id, provider: 'fake-a', image: 'debian', externalName: readyA.name, externalId: readyA.id, state: 'ready' });
      await db.uploads.create({ buildId: build2.id, provider: 'fake-a', image: 'debian', externalName: deletingA.name, externalId: deletingA.id, state: 'deleting' });

      // Servers: one a node row records, one a sub-node row records, one nobody records.
      const nodeServer = await newServer(a, 'small-fake-a-1', cirrosA.id);
      const subServer = await newServer(a, 'small-fake-a-2-sub', cirrosA.id);
      const leaked = await newServer(a, 'leaked-a', cirrosA.id);
      // fake-b: the first is recorded only by a row of fake-a, the second by its own node row.
      const strayServer = await newServer(b, 'stray-b', cirrosB.id);
      const ownB = await newServer(b, 'small-fake-b-1', cirrosB.id);

      const fields = { label: 'small', target: 'local', state: 'ready' } as const;
      await db.nodes.create({ ...fields, provider: 'fake-a', hostname: 'small-fake-a-1', externalId: nodeServer });
      const parent = await db.nodes.create({ ...fields, provider: 'fake-a', hostname: 'small-fake-a-2', externalId: 'server-long-gone' });
      await db.subnodes.create({ nodeId: parent.id, hostname: 'small-fake-a-2-sub', externalId: subServer, state: 'ready' });
      await db.nodes.create({ ...fields, provider: 'fake-b', hostname: 'small-fake-b-1', externalId: ownB });
      await db.nodes.create({ ...fields, provider: 'fake-a', hostname: 'small-fake-a-3', externalId: strayServer });
      await db.uploads.create({ buildId: build1.id, provider: 'fake-a', image: 'debian', externalName: strayB.name, externalId: strayB.id, state: 'ready' });

      const leakedIp = a.cloud.server(leaked)?.addresses.publicV4;
      expect(leakedIp).toMatch(/^127\.\d+\.\d+\.\d+$/);
      expect(b.cloud.server(strayServer)?.addresses).toEqual({});
      world.aliens = { a: { name: 'leaked-a', id: leaked, ip: leakedIp ?? '' }, b: { name: 'stray-b', id: strayServer } };
      world.alienImages = { a: { name: deletingA.name, id: deletingA.id }, b: { name: strayB.name, id: strayB.id } };
    } finally {
      await a.close();
      await b.close();
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  // ---- alien-list ----------------------------------------------------------------

  it('alien-list shows, for every provider, the servers no node or sub-node row of that provider records', async () => {
    const result = await nodepool('alien-list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { header, rows } = tableRows(result.stdout);
    expect(header).toEqual(['Provider', 'Hostname', 'Server ID', 'IP']);
    const { a, b } = world.aliens;
    expect(rows).toEqual([
      ['fake-a', a.name, a.id, a.ip],
      ['fake-b', b.name, b.id, ''],
    ]);
  });

  it('alien-list PROVIDER lists only that provider (a retired one too)', async () => {
    const result = await nodepool('alien-list', 'fake-b');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(tableRows(result.stdout).rows).toEqual([['fake-b', world.aliens.b.name, world.aliens.b.id, '']]);
  });

  it('alien-list --json prints the same rows with snake_case keys', async () => {
    const result = await nodepool('alien-list', '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(Object.keys(rows[0] ?? {})).toEqual(['provider', 'hostname', 'server_id', 'ip']);
    const { a, b } = world.aliens;
    expect(rows).toEqual([
      { provider: 'fake-a', hostname: a.name, server_id: a.id, ip: a.ip },
      { provider: 'fake-b', hostname: b.name, server_id: b.id, ip: null },
    ]);
  });

  it('with no aliens, alien-list prints an empty table and exits 0', async () => {
    const other = tempDir();
    const file = writeConfigFile(other, poolConfig({ dir: other, dburi: backend.uri, providers: [{ name: 'fake-a' }] }));
    const result = await runExecutable('nodepool', ['-c', file, 'alien-list']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(tableRows(result.stdout)).toEqual({ header: ['Provider', 'Hostname', 'Server ID', 'IP'], rows: [] });
  });

  // ---- alien-image-list ------------------------------------------------------------

  it('alien-image-list shows images carrying nodepool_build_id that no ready upload of that provider holds', async () => {
    const result = await nodepool('alien-image-list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { header, rows } = tableRows(result.stdout);
    expect(header).toEqual(['Provider', 'Name', 'Image ID']);
    const { a, b } = world.alienImages;
    expect(rows).toEqual([
      ['fake-a', a.name, a.id],
      ['fake-b', b.name, b.id],
    ]);
  });

  it('alien-image-list PROVIDER and --json', async () => {
    const one = await nodepool('alien-image-list', 'fake-a');
    expect(one.code).toBe(0);
    expect(tableRows(one.stdout).rows).toEqual([['fake-a', world.alienImages.a.name, world.alienImages.a.id]]);

    const result = await nodepool('alien-image-list', '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(Object.keys(rows[0] ?? {})).toEqual(['provider', 'name', 'image_id']);
    expect(rows).toEqual([
      { provider: 'fake-a', name: world.alienImages.a.name, image_id: world.alienImages.a.id },
      { provider: 'fake-b', name: world.alienImages.b.name, image_id: world.alienImages.b.id },
    ]);
  });

  // ---- failures ------------------------------------------------------------------

  it('an unknown provider says so and exits 1', async () => {
    for (const command of ['alien-list', 'alien-image-list']) {
      const result = await nodepool(command, 'nope');
      expect(result.code, command).toBe(1);
      expect(result.stderr.trim(), command).toBe('nodepool: Provider nope not found.');
      expect(result.stdout, command).toBe('');
    }
  });

  it('a provider whose cloud cannot be reached is skipped with a warning; the others are listed; exit 1', async () => {
    const config = poolConfig({ dir, dburi: backend.uri, providers: [{ name: 'fake-a', active: 0 }] });
    const providers = config.providers as Record<string, unknown>[];
    providers.unshift({
      name: 'os-dead',
      driver: 'openstack',
      'auth-url': `http://127.0.0.1:${await closedPort()}/v3`,
      username: 'nodepool',
      password: 'secret',
      'project-name': 'ci',
      'api-timeout': 2,
      'max-servers': 5,
      images: [{ name: 'debian', 'min-ram': 1024 }],
    });
    const file = writeConfigFile(tempDir(), config);

    for (const [command, what] of [['alien-list', 'servers'], ['alien-image-list', 'images']] as const) {
      const result = await runExecutable('nodepool', ['-c', file, command]);
      expect(result.code, command).toBe(1);
      const stderr = result.stderr.trim().split('\n');
      expect(stderr, command).toHaveLength(2);
      // Today the openstack driver is not available; once it is, the call to the closed port fails.
      expect(stderr[0], command).toMatch(
        new RegExp(`^nodepool: warning: provider os-dead skipped: listing its ${what} failed: .+$`),
      );
      expect(stderr[1], command).toBe('nodepool: Provider os-dead was not listed; the rows shown are those of the other providers.');
      const expected = command === 'alien-list'
        ? [['fake-a', world.aliens.a.name, world.aliens.a.id, world.aliens.a.ip]]
        : [['fake-a', world.alienImages.a.name, world.alienImages.a.id]];
      expect(tableRows(result.stdout).rows, command).toEqual(expected);
    }
  });

  it('a simulated cloud without a state file, or with a broken one, is skipped with a warning', async () => {
    const config = poolConfig({ dir, dburi: backend.uri, providers: [{ name: 'fake-a', active: 0 }] });
    const providers = config.providers as Record<string, unknown>[];
    const broken = join(tempDir(), 'broken.json');
    writeFileSync(broken, 'this is not JSON');
    providers.push(
      { name: 'fake-mem', driver: 'fake', 'max-servers': 5, images: [{ name: 'debian', 'min-ram': 1024 }] },
      { name: 'fake-broken', driver: 'fake', 'max-servers': 5, fake: { 'state-file': broken }, images: [{ name: 'debian', 'min-ram': 1024 }] },
    );
    const file = writeConfigFile(tempDir(), config);

    const result = await runExecutable('nodepool', ['-c', file, 'alien-image-list', '--json']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'nodepool: warning: provider fake-mem skipped: its simulated cloud has no fake.state-file and lives only inside nodepoold, where no command can reach it',
      expect.stringMatching(new RegExp(`^nodepool: warning: provider fake-broken skipped: fake cloud state file ${broken}: is not valid JSON .*; fix or remove it$`)),
      'nodepool: Providers fake-mem, fake-broken were not listed; the rows shown are those of the other providers.',
    ]);
    expect(JSON.parse(result.stdout)).toEqual([{ provider: 'fake-a', name: world.alienImages.a.name, image_id: world.alienImages.a.id }]);

    const alone = await runExecutable('nodepool', ['-c', file, 'alien-list', 'fake-mem']);
    expect(alone.code).toBe(1);
    expect(alone.stderr.trim().split('\n').at(-1)).toBe('nodepool: Provider fake-mem was not listed.');
    expect(tableRows(alone.stdout).rows).toEqual([]);
  });

  // ---- in-process, with drivers that fail ------------------------------------------

  it('a cloud call that fails skips that provider, and every driver opened is closed', async () => {
    const config = configOf(configFile);
    const closed: string[] = [];
    const made: string[] = [];
    const fakeDriver = (provider: Provider): ProviderDriver => {
      made.push(provider.name);
      const real = createFakeDriver(provider);
      const failing = provider.name === 'fake-b';
      const fail = () => Promise.reject(new DriverError('unavailable', 'Nova listServers failed: 503 Service Unavailable\n(retry later)'));
      return Object.assign(Object.create(real) as ProviderDriver, {
        listServers: failing ? fail : () => real.listServers(),
        listImages: failing ? () => Promise.reject(new Error('Glance says no')) : () => real.listImages(),
        close: async () => {
          closed.push(provider.name);
          await real.close();
        },
      });
    };
    const out: string[] = [];
    const err: string[] = [];
    const output = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };

    const servers = listAlienServers(db, config, output, { json: true, createDriver: fakeDriver });
    await expect(servers).rejects.toThrow(CommandFailure);
    await expect(servers).rejects.toThrow('Provider fake-b was not listed; the rows shown are those of the other providers.');
    expect(err).toEqual(['nodepool: warning: provider fake-b skipped: listing its servers failed: Nova listServers failed: 503 Service Unavailable (retry later)']);
    expect(JSON.parse(out.join(''))).toEqual([{ provider: 'fake-a', hostname: world.aliens.a.name, server_id: world.aliens.a.id, ip: world.aliens.a.ip }]);
    expect(made.sort()).toEqual(['fake-a', 'fake-b']);
    expect(closed.sort()).toEqual(['fake-a', 'fake-b']);

    out.length = 0;
    err.length = 0;
    await expect(listAlienImages(db, config, output, { provider: 'fake-b', createDriver: fakeDriver })).rejects.toThrow(
      /^Provider fake-b was not listed\.$/,
    );
    expect(err).toEqual(['nodepool: warning: provider fake-b skipped: listing its images failed: Glance says no']);
    expect(closed.sort()).toEqual(['fake-a', 'fake-b', 'fake-b']);

    made.length = 0;
    await expect(listAlienServers(db, config, output, { provider: 'nope', createDriver: fakeDriver })).rejects.toThrow('Provider nope not found.');
    expect(made).toEqual([]);
  });
});
