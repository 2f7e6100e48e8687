/**
 * nodepoold and nodepool-builder against a real OpenStack (Zed, Debian's
 * packages, Nova's fake virt driver) on this machine, through clouds.yaml:
 * the cloud that ../shared/peers/openstack/setup.sh installs and starts. Not
 * part of `npm test`: run `npm run test:openstack` (README).
 *
 * The project `nodepool` (cloud `local`, an ordinary member) gets a quota of
 * 3 instances for the run (set as `local-admin`, restored at the end). A real
 * SSH server answers on port 22 of the addresses Neutron hands out
 * (127.42.0.10-250, loopback), so each node passes its SSH check (needs root).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/config/types.js';
import { openDatabase, type Database } from '../../src/db/index.js';
import { connectionFor, OpenStackDriver, OpenStackSession } from '../../src/drivers/openstack/index.js';
import { runExecutable } from '../support/cli.js';
import { FAKE_IMAGE_CREATE, tempDir, writeConfigFile } from '../support/config-files.js';
import { startBuilder, startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { startSshServer, type TestSshServer } from '../support/ssh-server.js';
import { keyFile, makeKey } from '../ssh/fixtures.js';

const CLOUDS_YAML = process.env.OS_CLIENT_CONFIG_FILE ?? '/etc/openstack/clouds.yaml';
const ADDRESSES = Array.from({ length: 241 }, (_, i) => `127.42.0.${10 + i}`);
const QUOTA = 3;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const provider = (cloud: string): Provider => ({
  name: 'local', driver: 'openstack', cloud, maxServers: 10, rate: 0.2, availabilityZones: ['az1'], bootTimeout: 60, launchTimeout: 300,
  networks: [{ name: 'public' }], ipv6Preferred: false, templateHostname: 'template-{image.name}-{timestamp}', imageType: 'qcow2',
  cleanFloatingIps: false, images: [], apiTimeout: 60,
});
const lookup = { env: { OS_CLIENT_CONFIG_FILE: CLOUDS_YAML } };

const daemons: RunningDaemon[] = [];
let ssh: TestSshServer | undefined;
let db: Database | undefined;
let member: OpenStackDriver;
let admin: OpenStackSession;
let projectId = '';
let originalQuota: number | undefined;

async function setInstanceQuota(instances: number): Promise<void> {
  await admin.request('compute', 'PUT', `/os-quota-sets/${projectId}`, { body: { quota_set: { instances } } });
}

beforeAll(async () => {
  member = new OpenStackDriver(provider('local'), { connection: connectionFor(provider('local'), lookup) });
  admin = new OpenStackSession(connectionFor(provider('local-admin'), lookup), 'local-admin');
  const memberSession = new OpenStackSession(connectionFor(provider('local'), lookup), 'local');
  projectId = await memberSession.projectId().catch((err: Error) => {
    throw new Error(`the local OpenStack does not answer (${err.message}); run ../shared/peers/openstack/setup.sh (or start.sh) first`);
  });
  await memberSession.close();
  originalQuota = (await member.getQuota()).instances.limit;
  await setInstanceQuota(QUOTA);
});

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGTERM', 30_000).catch(() => d.kill());
  if (originalQuota !== undefined) await setInstanceQuota(originalQuota).catch(() => {});
  await db?.close();
  await ssh?.close();
  await member?.close();
  await admin?.close();
});

describe('nodepool against the real OpenStack on this machine', () => {
  it('uploads through Glance, reaches min-ready within the quota with metadata in Nova, lists aliens, deletes everything', { timeout: 600_000 }, async () => {
    const key = makeKey();
    ssh = await startSshServer({ username: 'jenkins', publicKey: key.public, alsoListenOn: ADDRESSES.map((host) => ({ host, port: 22 })) });
    const before = { servers: (await member.listServers()).map((s) => s.id), images: (await member.listImages()).map((i) => i.id) };
    const dir = tempDir();
    const env = { OS_CLIENT_CONFIG_FILE: CLOUDS_YAML, NODEPOOL_BUILDER_SURVEY_SECONDS: '1' };
    const dburi = `sqlite://${join(dir, 'np.db')}`;
    const config = (minReady: number, withImages: boolean) => ({
      dburi,
      'images-dir': join(dir, 'images'),
      // Without images the label must be disabled and list no provider, or the file is (rightly) refused.
      labels: [{ name: 'small', image: 'debian', 'min-ready': withImages ? minReady : -1, providers: withImages ? [{ name: 'local' }] : [] }],
      providers: [{
        name: 'local',
        cloud: 'local',
        'max-servers': 10,
        rate: 0.2,
        'boot-timeout': 60,
        'launch-timeout': 300,
        keypair: 'nodepool-key',
        'availability-zones': ['az1'],
        networks: [{ name: 'public' }],
        images: withImages ? [{ name: 'debian', 'min-ram': 512, 'private-key': keyFile(key), meta: { purpose: 'ci' } }] : [],
      }],
      targets: [{ name: 'local' }],
      diskimages: withImages ? [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE }] : [],
    });
    // min-ready 4 over a quota of 3 instances: the quota must win.
    const configFile = writeConfigFile(dir, config(4, true));
    db = await openDatabase(dburi);
    const store = db;
    const builder = startBuilder(['-c', configFile], env);
    const nodepoold = startNodepoold(['-c', configFile, '--no-builder'], env);
    daemons.push(builder, nodepoold);
    const tails = (e: Error) => {
      throw new Error(`${e.message}\n--- nodepoold:\n${nodepoold.tail(40)}\n--- builder:\n${builder.tail(20)}`);
    };
    const log: string[] = [];
    const note = (what: string) => log.push(`${elapsed().padStart(8)}  ${what}`);

    const upload = await waitFor('the upload in Glance', async () => (await store.uploads.list({ states: ['ready'] }))[0], { timeoutMs: 120_000 }).catch(tails);
    const glance = (await member.listImages()).find((i) => i.id === upload.externalId);
    expect(glance).toMatchObject({
      status: 'active',
      diskFormat: 'qcow2',
      properties: { purpose: 'ci', nodepool_build_id: String(upload.buildId), nodepool_upload_id: String(upload.id) },
    });
    note(`upload ${upload.id} active in Glance as ${glance?.name} (${upload.externalId})`);

    const ready = await waitFor(`${QUOTA} ready nodes`, async () => {
      const nodes = await store.nodes.list({ state: 'ready' });
      return nodes.length === QUOTA ? nodes : undefined;
    }, { timeoutMs: 240_000, intervalMs: 500 }).catch(tails);
    note(`${ready.length} nodes ready (min-ready 4, quota ${QUOTA} instances)`);
    const servers = await member.listServers();
    for (const node of ready) {
      const server = servers.find((s) => s.id === node.externalId);
      expect(server?.status).toBe('ACTIVE');
      expect(JSON.parse(server?.metadata.nodepool ?? '{}')).toEqual({ image_name: 'debian', provider_name: 'local', node_id: node.id });
      expect(JSON.parse(server?.metadata.groups ?? '[]')).toEqual(['debian', 'local']);
      expect(server?.metadata.purpose).toBe('ci');
      expect(server?.availabilityZone).toBe('az1');
      expect(node.ip).toMatch(/^127\.42\.0\./);
    }
    note(`metadata read back from Nova for ${ready.length} servers`);
    // Quota respected: never a fourth node, and no create refused by the quota.
    await nodepoold.waitForLog('an allocation after the nodes were ready', (l) => l.msg.includes('is ready'), 1000).catch(() => undefined);
    expect((await store.nodes.list()).length).toBe(QUOTA);
    expect(nodepoold.lines.filter((l) => /Quota exceeded/i.test(l.msg))).toEqual([]);

    const aliens = JSON.parse((await runExecutable('nodepool', ['-c', configFile, 'alien-list', '--json'], { env })).stdout) as { server_id: string }[];
    expect(aliens.map((a) => a.server_id).sort()).toEqual([...before.servers].sort());
    const alienImages = JSON.parse((await runExecutable('nodepool', ['-c', configFile, 'alien-image-list', '--json'], { env })).stdout) as unknown[];
    expect(alienImages).toEqual([]);
    note(`alien-list: ${aliens.length} server(s) not nodepool's; alien-image-list: none`);

    // Everything goes: the nodes by command, the image by taking it out of the configuration.
    writeConfigFile(dir, config(0, true));
    await nodepoold.waitForLog('the new configuration', (l) => l.msg.startsWith('configuration changed'), 90_000).catch(tails);
    for (const node of await store.nodes.list()) await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id)], { env });
    await waitFor('every node deleted', async () => (await store.nodes.list()).length === 0, { timeoutMs: 180_000 }).catch(tails);
    writeConfigFile(dir, config(-1, false));
    await waitFor('every upload deleted', async () => (await store.uploads.list()).length === 0, { timeoutMs: 180_000 }).catch(tails);
    const after = { servers: (await member.listServers()).map((s) => s.id), images: (await member.listImages()).map((i) => i.id) };
    expect(after.servers.sort()).toEqual(before.servers.sort());
    expect(after.images.sort()).toEqual(before.images.sort());
    note('every server and image nodepool made is gone from Nova and Glance');
    console.log(`nodepool against the local OpenStack:\n${log.join('\n')}`);
    writeFileSync(join(dir, 'summary.txt'), log.join('\n'));
  });
});
