import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { createFakeDriver, type FakeDriver } from '../../src/drivers/fake/index.js';
import { nodeDeleteLease } from '../../src/core/leases.js';
import { serverMetadata } from '../../src/core/server-metadata.js';
import { runExecutable } from '../support/cli.js';
import { minimalConfig, tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { poolConfig, writePoolConfig } from '../support/pool-config.js';
import { liveServers } from '../support/fake-cloud-state.js';
import { readyNodeSnapshot } from '../support/node-input.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
});

/** The cloud of a configured fake provider, reached through its state file as nodepoold would. */
function cloudOf(configFile: string, providerName = 'fake-a'): FakeDriver {
  const provider = loadConfig(configFile).config?.providers.find((p) => p.name === providerName);
  if (!provider) throw new Error(`no provider ${providerName} in ${configFile}`);
  return createFakeDriver(provider);
}

describeEachBackend('nodepool delete --now', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterEach(async () => {
    await clearAll(db);
  });
  afterAll(async () => {
    await db.close();
  });

  /** A node with its server and one sub-node with its own, as a stopped nodepoold left them. */
  async function seedNodeWithSubnode(configFile: string) {
    const driver = cloudOf(configFile);
    try {
      const image = driver.cloud.addImage('debian');
      const [flavor] = await driver.listFlavors();
      const node = await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', hostname: 'small-fake-a-1' });
      const create = (name: string) =>
        driver.createServer({
          name,
          imageId: image.id,
          flavorId: flavor?.id ?? '',
          metadata: serverMetadata({ image: 'debian', provider: 'fake-a', nodeId: node.id, meta: {} }),
        });
      const server = await create('small-fake-a-1');
      const sub = await create('small-fake-a-1-sub');
      await db.nodes.update(node.id, { externalId: server.id });
      const subnode = await db.subnodes.create({ nodeId: node.id, externalId: sub.id, state: 'ready' });
      await db.snapshots.save(`node-${node.id}`, 'node', await readyNodeSnapshot(node.id, server.id, { subnodes: 1 }));
      await db.snapshots.save(`subnode-${subnode.id}`, 'subnode', await readyNodeSnapshot(subnode.id, sub.id, { role: 'sub', parentId: node.id }));
      return { node: { ...node, externalId: server.id }, server: server.id, sub: sub.id, subnode: subnode.id };
    } finally {
      await driver.close();
    }
  }

  it('with nodepoold stopped: deletes the sub-node server and the server, then the rows and the snapshot, and prints the node', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri });
    const stateFile = join(dir, 'fake-a.json');
    const { node, server, sub, subnode } = await seedNodeWithSubnode(configFile);
    expect(liveServers(stateFile).map((s) => s.id).sort()).toEqual([server, sub].sort());

    const result = await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id), '--now']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\\| ${node.id} +\\| fake-a +\\|.*\\| ${server} +\\|.*\\| delete +\\|`));

    expect(liveServers(stateFile)).toEqual([]);
    expect(await db.nodes.get(node.id)).toBeUndefined();
    expect(await db.subnodes.listForNode(node.id)).toEqual([]);
    expect(await db.snapshots.get(`node-${node.id}`)).toBeUndefined();
    expect(await db.snapshots.get(`subnode-${subnode}`)).toBeUndefined();
    expect((await db.changes.since(0)).map((c) => [c.recordId, c.action])).toEqual([
      [node.id, 'delete'],
      [node.id, 'deleted'],
    ]);
    expect(await db.leases.holder(nodeDeleteLease(node.id))).toBeUndefined();
  });

  it('refuses while someone else holds the node delete lease, and changes nothing', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri });
    const stateFile = join(dir, 'fake-a.json');
    const { node } = await seedNodeWithSubnode(configFile);
    expect(await db.leases.tryAcquire(nodeDeleteLease(node.id), 'nodepoold:elsewhere:42', 60_000)).toBe(true);
    const before = await db.changes.latestId();

    const result = await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id), '--now']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`nodepool: Node ${node.id} is being deleted by nodepoold:elsewhere:42; try again or wait`);
    expect(result.stdout).toBe('');
    expect((await db.nodes.get(node.id))?.state).toBe('ready');
    expect(await db.changes.latestId()).toBe(before);
    expect(liveServers(stateFile).every((s) => s.deleteRequestedAt === undefined)).toBe(true);
    expect(liveServers(stateFile)).toHaveLength(2);
    expect((await db.leases.holder(nodeDeleteLease(node.id)))?.owner).toBe('nodepoold:elsewhere:42');
  });

  it('an unknown id says so, exits 1 and changes nothing', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri });
    const result = await runExecutable('nodepool', ['-c', configFile, 'delete', '424242', '--now']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('nodepool: Node 424242 not found.');
    expect(await db.changes.latestId()).toBe(0);
  });

  it('a simulated cloud without a state file lives inside nodepoold: the node is marked delete for it, exit 0', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig({ dburi: backend.uri }));
    const node = await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', externalId: 'srv-1' });

    const result = await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id), '--now']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\\| ${node.id} +\\| fake-a +\\|.*\\| delete +\\|`));
    expect(result.stderr).toMatch(new RegExp(`Node ${node.id} is marked delete: .*no fake.state-file.*nodepoold`));
    expect((await db.nodes.get(node.id))?.state).toBe('delete');
    expect((await db.changes.since(0)).map((c) => c.action)).toEqual(['delete']);
    expect(await db.leases.holder(nodeDeleteLease(node.id))).toBeUndefined();
  });

  it('while nodepoold runs: the server is deleted once, by the command; nodepoold lets the node go and replaces it', async () => {
    const dir = tempDir();
    // A delete that takes 3 s: nodepoold hears of it (change log, list) while the command still waits.
    const config = poolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 2, providers: ['fake-a'] }] });
    const [provider] = config.providers as { fake: { latency: { delete: number } } }[];
    if (provider) provider.fake.latency.delete = 3;
    const configFile = writeConfigFile(dir, config);
    const stateFile = join(dir, 'fake-a.json');
    const daemon = startNodepoold(['-c', configFile]);
    running.push(daemon);
    await waitFor('2 ready nodes', async () => (await db.nodes.list({ state: 'ready' })).length === 2);
    const [node] = await db.nodes.list({ state: 'ready' });
    if (!node?.externalId) throw new Error('expected a ready node with a server');

    const result = await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id), '--now']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\\| ${node.id} +\\| fake-a +\\|`));
    expect(await db.nodes.get(node.id)).toBeUndefined();
    expect(liveServers(stateFile).some((s) => s.id === node.externalId)).toBe(false);

    await daemon.waitForLog('the node actor removed', (l) => l.node === node.id && l.state === 'removed');
    await waitFor('a replacement ready', async () => {
      const ready = await db.nodes.list({ state: 'ready' });
      return ready.length === 2 && !ready.some((n) => n.id === node.id);
    });
    // nodepoold tried while the command held the lease, and was told to wait.
    expect(daemon.lines.some((l) => l.node === node.id && /is being deleted by nodepool-cli:/.test(l.msg))).toBe(true);
    // The daemon never called the cloud for that server: only the command did.
    expect(daemon.lines.filter((l) => l.server === node.externalId && /^deleting server \S+ of node \d+$/.test(l.msg))).toEqual([]);
    expect(daemon.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    expect(await db.snapshots.get(`node-${node.id}`)).toBeUndefined();
    expect(await daemon.stop()).toBe(0);
  });
});
