/**
 * The whole system over the OpenStack APIs: nodepoold and nodepool-builder
 * as real processes with `driver: openstack`, pointed through clouds.yaml at
 * the OpenStack simulator (real HTTP on loopback). A real SSH server answers
 * on port 22 of every address the simulated Neutron hands out (127.42.0.x),
 * so the SSH check, the node-set files and the ready step run for real.
 *
 * Needs root (port 22) and a free port 22 on 127.42.0.10-30: skipped with
 * the reason otherwise, except in CI where that is a failure.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../src/tools/openstack-simulator/index.js';
import { runExecutable } from '../support/cli.js';
import { FAKE_IMAGE_CREATE, tempDir, writeConfigFile } from '../support/config-files.js';
import { startBuilder, startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { startSshServer, type TestSshServer } from '../support/ssh-server.js';
import { keyFile, makeKey } from '../ssh/fixtures.js';

const ADDRESSES = Array.from({ length: 21 }, (_, i) => `127.42.0.${10 + i}`);
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';
const isRoot = process.getuid?.() === 0;
const FAST = { NODEPOOL_BUILDER_TICK_SECONDS: '0.2', NODEPOOL_BUILDER_SURVEY_SECONDS: '0.5' };

const daemons: RunningDaemon[] = [];
let sim: OpenStackSimulator | undefined;
let ssh: TestSshServer | undefined;
let db: Database | undefined;
afterAll(async () => {
  for (const d of daemons) await d.stop('SIGTERM', 20_000).catch(() => d.kill());
  await db?.close();
  await sim?.close();
  await ssh?.close();
});

const suite = isRoot || inCi ? describe : describe.skip;
if (!isRoot && !inCi) console.warn('skipping the OpenStack end-to-end test: it needs root to answer SSH on port 22 of 127.42.0.x');

suite('nodepoold and nodepool-builder against the OpenStack APIs', () => {
  it('builds and uploads through Glance, fills min-ready with metadata, lists aliens, survives an error storm and leaks nothing', { timeout: 180_000 }, async () => {
    const key = makeKey();
    ssh = await startSshServer({ username: 'jenkins', publicKey: key.public, alsoListenOn: ADDRESSES.map((host) => ({ host, port: 22 })) });
    sim = await startOpenStackSimulator({
      timings: { activeMs: 400, deleteMs: 300 },
      networks: [{ name: 'public', cidr: '127.42.0.0/24', shared: true, allocationPool: { start: '127.42.0.10', end: '127.42.0.30' } }],
    });
    const cloud = sim;
    const dir = tempDir();
    const cloudsFile = join(dir, 'clouds.yaml');
    writeFileSync(cloudsFile, cloud.cloudsYaml('sim'));
    const env = { ...FAST, OS_CLIENT_CONFIG_FILE: cloudsFile };
    const dburi = `sqlite://${join(dir, 'np.db')}`;
    const config = (minReady: number) => ({
      dburi,
      'images-dir': join(dir, 'images'),
      labels: [{ name: 'small', image: 'debian', 'min-ready': minReady, providers: [{ name: 'sim' }] }],
      providers: [{
        name: 'sim',
        cloud: 'sim',
        'max-servers': 4,
        rate: 0.01,
        'api-timeout': 20,
        'boot-timeout': 30,
        'launch-timeout': 60,
        keypair: 'nodepool-key',
        'availability-zones': ['az1'],
        networks: [{ name: 'public' }],
        images: [{ name: 'debian', 'min-ram': 1024, 'private-key': keyFile(key), meta: { purpose: 'ci' } }],
      }],
      targets: [{ name: 'local' }],
      diskimages: [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE }],
    });
    const configFile = writeConfigFile(dir, config(2));
    db = await openDatabase(dburi);
    const store = db;
    const builder = startBuilder(['-c', configFile], env);
    daemons.push(builder);
    const nodepoold = startNodepoold(['-c', configFile, '--no-builder'], env);
    daemons.push(nodepoold);
    const tails = (e: Error) => {
      throw new Error(`${e.message}\n--- nodepoold:\n${nodepoold.tail(30)}\n--- builder:\n${builder.tail(20)}`);
    };

    // The build went to Glance with nodepool's properties.
    const upload = await waitFor('a ready upload', async () => (await store.uploads.list({ states: ['ready'] }))[0], { timeoutMs: 60_000 }).catch(tails);
    expect(cloud.image(upload.externalId ?? '')).toMatchObject({
      status: 'active',
      diskFormat: 'qcow2',
      properties: { purpose: 'ci', nodepool_build_id: String(upload.buildId), nodepool_upload_id: String(upload.id) },
    });

    // min-ready reached, each server carrying nodepool's metadata.
    const ready = await waitFor('2 ready nodes', async () => {
      const nodes = await store.nodes.list({ state: 'ready' });
      return nodes.length === 2 ? nodes : undefined;
    }, { timeoutMs: 60_000 }).catch(tails);
    for (const node of ready) {
      const server = cloud.server(node.externalId ?? '');
      expect(server?.metadata.nodepool && JSON.parse(server.metadata.nodepool)).toEqual({ image_name: 'debian', provider_name: 'sim', node_id: node.id });
      expect(server?.metadata.purpose).toBe('ci');
      expect(server?.metadata.groups && JSON.parse(server.metadata.groups)).toEqual(['debian', 'sim']);
      expect(server).toMatchObject({ availabilityZone: 'az1', keyName: 'nodepool-key', imageId: upload.externalId });
      expect(node.ip).toMatch(/^127\.42\.0\./);
    }
    expect(ssh.received.auth.some((a) => a.accepted && a.username === 'jenkins')).toBe(true);

    // Aliens: a server and a nodepool-made image that no record knows.
    const images = await runExecutable('nodepool', ['-c', configFile, 'alien-image-list', '--json'], { env });
    cloud.seedImage({ name: 'orphan', status: 'active', properties: { nodepool_build_id: '999' } });
    const flavor = cloud.flavors().find((f) => f.name === 'm1.small')?.id;
    const token = await keystoneToken(cloud);
    const created = await fetch(`${cloud.endpoints.compute}/servers`, {
      method: 'POST',
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json', 'OpenStack-API-Version': 'compute 2.79' },
      body: JSON.stringify({ server: { name: 'stranger', imageRef: upload.externalId, flavorRef: flavor, networks: 'none' } }),
    });
    const stranger = ((await created.json()) as { server: { id: string } }).server.id;
    expect(JSON.parse(images.stdout)).toEqual([]);
    const aliens = await runExecutable('nodepool', ['-c', configFile, 'alien-list', '--json'], { env });
    expect((JSON.parse(aliens.stdout) as { server_id: string; hostname: string }[]).map((a) => [a.server_id, a.hostname])).toEqual([[stranger, 'stranger']]);
    const alienImages = await runExecutable('nodepool', ['-c', configFile, 'alien-image-list', '--json'], { env });
    expect((JSON.parse(alienImages.stdout) as { name: string }[]).map((a) => a.name)).toEqual(['orphan']);

    // An error storm while nodes are replaced: 5xx, 429 with Retry-After and dropped connections.
    cloud.setFailures([
      { route: 'GET /compute/v2.1/servers/detail', status: 503, times: 4 },
      { route: 'POST /compute/v2.1/servers', status: 500, times: 2 },
      { route: 'DELETE /compute/v2.1/servers/{id}', status: 429, retryAfter: 1, times: 2 },
      { route: 'GET /compute/v2.1/flavors/detail', reset: true, times: 1 },
    ]);
    for (const node of ready) expect((await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id)], { env })).code).toBe(0);
    await waitFor('2 new ready nodes after the storm', async () => {
      const nodes = await store.nodes.list({ state: 'ready' });
      return nodes.length === 2 && nodes.every((n) => !ready.some((r) => r.id === n.id));
    }, { timeoutMs: 90_000 }).catch(tails);

    // min-ready 0 launches nothing more (ready nodes stay until used): delete them,
    // and the cloud keeps only what nodepool did not make.
    writeConfigFile(dir, config(0));
    await nodepoold.waitForLog('the new configuration', (l) => l.msg.startsWith('configuration changed'), 90_000).catch(tails);
    for (const node of await store.nodes.list()) await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id)], { env });
    await waitFor('no node left', async () => (await store.nodes.list()).length === 0, { timeoutMs: 60_000 }).catch(tails);
    await waitFor('no server of nodepool left', () => cloud.servers().every((s) => s.id === stranger), { timeoutMs: 30_000 }).catch(tails);
    expect(cloud.servers().map((s) => s.id)).toEqual([stranger]);
    console.log(`OpenStack end to end: API calls ${JSON.stringify(cloud.counters())}`);
  });
});

async function keystoneToken(cloud: OpenStackSimulator): Promise<string> {
  const { username, password, projectName } = cloud.credentials;
  const response = await fetch(`${cloud.url}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: username, domain: { name: 'Default' }, password } } },
        scope: { project: { name: projectName, domain: { name: 'Default' } } },
      },
    }),
  });
  return response.headers.get('x-subject-token') ?? '';
}
