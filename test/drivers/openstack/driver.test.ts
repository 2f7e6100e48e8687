/**
 * The OpenStack driver over real HTTP against the OpenStack simulator
 * (src/tools/openstack-simulator), one call at a time: what it sends, what it makes of
 * the answers, and how it lives through errors.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../../src/config/types.js';
import { DriverError } from '../../../src/drivers/driver.js';
import { connectionFor, OpenStackDriver } from '../../../src/drivers/openstack/index.js';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../../src/tools/openstack-simulator/index.js';
import { tempDir } from '../../support/config-files.js';
import { waitFor } from '../../support/daemon.js';

let sim: OpenStackSimulator;
let driver: OpenStackDriver;
let base: string;

function provider(extra: Partial<Provider> = {}): Provider {
  return {
    name: 'sim', driver: 'openstack', cloud: 'sim', maxServers: 5, rate: 0, availabilityZones: [], bootTimeout: 60, launchTimeout: 3600,
    networks: [], ipv6Preferred: false, templateHostname: 't', imageType: 'qcow2', cleanFloatingIps: false, images: [], apiTimeout: 10, ...extra,
  };
}

/** A driver for the simulator through a clouds.yaml, as an operator configures it. */
function driverFor(p: Provider, cloudsYaml = sim.cloudsYaml('sim')): OpenStackDriver {
  const dir = tempDir();
  const file = join(dir, 'clouds.yaml');
  writeFileSync(file, cloudsYaml);
  return new OpenStackDriver(p, { connection: connectionFor(p, { env: { OS_CLIENT_CONFIG_FILE: file }, cwd: dir, homeDir: dir, systemDir: dir }) });
}

beforeEach(async () => {
  sim = await startOpenStackSimulator({ timings: { activeMs: 50, deleteMs: 50 } });
  base = sim.seedImage({ name: 'base', properties: { distro: 'debian' } }).id;
  driver = driverFor(provider());
});
afterEach(async () => {
  await driver.close();
  await sim.close();
});

const flavorId = async (name = 'm1.small') => (await driver.listFlavors()).find((f) => f.name === name)?.id as string;

describe('OpenStack driver: servers', () => {
  it('creates a server with metadata, zone and key, sees it go ACTIVE with a loopback address, deletes it', async () => {
    const metadata = { nodepool: '{"node_id": 1}', groups: '["debian","sim"]' };
    const { id } = await driver.createServer({ name: 'small-sim-1', imageId: base, flavorId: await flavorId(), metadata, availabilityZone: 'az1', keyName: 'nodepool-key' });
    const active = await waitFor('ACTIVE', async () => (await driver.listServers()).find((s) => s.id === id && s.status === 'ACTIVE'));
    expect(active).toMatchObject({ name: 'small-sim-1', metadata, availabilityZone: 'az1', imageId: base });
    expect(active.addresses.publicV4).toMatch(/^127\./);
    expect(sim.server(id)).toMatchObject({ keyName: 'nodepool-key' });

    await driver.deleteServer(id);
    await waitFor('gone', async () => !(await driver.listServers()).some((s) => s.id === id));
    // A server already gone counts as deleted.
    await driver.deleteServer(id);
  });

  it('resolves network names through Neutron, and sends "auto" when none is configured', async () => {
    const [network] = sim.networks();
    const named = await driver.createServer({ name: 'n1', imageId: base, flavorId: await flavorId(), metadata: {}, networks: [{ name: network?.name }] });
    const auto = await driver.createServer({ name: 'n2', imageId: base, flavorId: await flavorId(), metadata: {}, networks: [] });
    const none = await driver.createServer({ name: 'n3', imageId: base, flavorId: await flavorId(), metadata: {}, networks: [{ name: 'none' }] });
    await waitFor('all ACTIVE', async () => (await driver.listServers()).filter((s) => s.status === 'ACTIVE').length === 3);
    const servers = await driver.listServers();
    expect(servers.find((s) => s.id === named.id)?.addresses.publicV4).toMatch(/^127\./);
    expect(servers.find((s) => s.id === auto.id)?.addresses.publicV4).toMatch(/^127\./);
    expect(servers.find((s) => s.id === none.id)?.addresses).toEqual({});
    const error = await driver
      .createServer({ name: 'n4', imageId: base, flavorId: await flavorId(), metadata: {}, networks: [{ name: 'nowhere' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as Error).message).toBe('sim: no network named nowhere in Neutron');
  });

  it('reports a server in ERROR with its fault', async () => {
    sim.setErrorNamePattern(/^doomed/);
    const { id } = await driver.createServer({ name: 'doomed-1', imageId: base, flavorId: await flavorId(), metadata: {} });
    const failed = await waitFor('ERROR', async () => (await driver.listServers()).find((s) => s.id === id && s.status === 'ERROR'));
    expect(failed.fault).toBe('No valid host was found.');
  });

  it("turns the cloud's refusals into DriverErrors with the status, the service and the cloud's message", async () => {
    const refusal = async (extra: Record<string, unknown>) => {
      const e = await driver.createServer({ name: 'x', imageId: base, flavorId: await flavorId(), metadata: {}, ...extra }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(DriverError);
      return { kind: (e as DriverError).kind, status: (e as DriverError).details.status, service: (e as DriverError).details.service, message: (e as Error).message };
    };
    expect(await refusal({ availabilityZone: 'nova' })).toEqual({
      kind: 'bad-request', status: 400, service: 'compute', message: 'sim: compute POST /servers: 400 The requested availability zone is not available',
    });
    expect(await refusal({ keyName: 'nope' })).toMatchObject({ kind: 'bad-request', message: 'sim: compute POST /servers: 400 Invalid key_name provided.' });
    sim.setQuota({ instances: 0 });
    const quota = await refusal({});
    expect(quota).toMatchObject({ kind: 'quota', status: 403 });
    expect(quota.message).toMatch(/^sim: compute POST \/servers: 403 Quota exceeded for instances/);
  });

  it('reads the quota with what is in use', async () => {
    sim.setQuota({ instances: 7, cores: 9, ram: 10_000 });
    await driver.createServer({ name: 'q1', imageId: base, flavorId: await flavorId('m1.medium'), metadata: {} });
    expect(await driver.getQuota()).toEqual({
      instances: { limit: 7, used: 1 },
      cores: { limit: 9, used: 2 },
      ram: { limit: 10_000, used: 4096 },
    });
  });
});

describe('OpenStack driver: images', () => {
  it('uploads a file streamed into Glance with the properties, lists and deletes it', async () => {
    const file = join(tempDir(), 'debian-7.qcow2');
    writeFileSync(file, Buffer.alloc(3 * 1024 * 1024 + 5, 7));
    const properties = { nodepool_build_id: '7', nodepool_upload_id: '9', purpose: 'ci' };
    const { id } = await driver.uploadImage({ name: 'template-debian-1', filePath: file, diskFormat: 'qcow2', properties });
    expect(sim.image(id)).toMatchObject({ status: 'active', size: 3 * 1024 * 1024 + 5, diskFormat: 'qcow2', containerFormat: 'bare' });
    const listed = (await driver.listImages()).find((i) => i.id === id);
    expect(listed).toEqual({ id, name: 'template-debian-1', status: 'active', properties, diskFormat: 'qcow2' });
    expect((await driver.listImages()).find((i) => i.id === base)?.properties).toEqual({ distro: 'debian' });
    await driver.deleteImage(id);
    expect(sim.image(id)).toBeUndefined();
    await driver.deleteImage(id);
  });

  it('deletes the image record again when the upload fails, leaving nothing behind', async () => {
    const file = join(tempDir(), 'x.qcow2');
    writeFileSync(file, 'data');
    sim.setFailures([{ route: 'PUT /image/v2/images/{id}/file', status: 500, times: 1 }]);
    const error = await driver.uploadImage({ name: 'broken', filePath: file, diskFormat: 'qcow2', properties: {} }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'unavailable', details: { status: 500, service: 'image' } });
    expect(sim.images().filter((i) => i.name === 'broken')).toEqual([]);
  });
});

describe('OpenStack driver: floating IPs', () => {
  it('lists floating IPs with whether they are attached, and deletes one; a cloud without them has none', async () => {
    sim.setFloatingIpsEnabled(true);
    const [network] = sim.networks();
    const { id } = sim.seedFloatingIp({ floatingIpAddress: '127.99.0.5', network: network?.name });
    expect(await driver.listFloatingIps()).toEqual([{ id, address: '127.99.0.5', attached: false }]);
    await driver.deleteFloatingIp(id);
    expect(await driver.listFloatingIps()).toEqual([]);
    sim.setFloatingIpsEnabled(false);
    expect(await driver.listFloatingIps()).toEqual([]);
  });
});

describe('OpenStack driver: sessions and errors', () => {
  it('logs in once and re-uses the token; a revoked token is answered by one new login', async () => {
    await driver.listServers();
    await driver.listFlavors();
    await driver.listImages();
    expect(sim.calls('POST /identity/v3/auth/tokens')).toBe(1);
    sim.revokeAllTokens();
    await driver.listServers();
    expect(sim.calls('POST /identity/v3/auth/tokens')).toBe(2);
  });

  it('logs in again before a short-lived token expires', async () => {
    sim.setTokenLifetime(2);
    await driver.listServers();
    await waitFor('a second login', async () => {
      await driver.listServers();
      return sim.calls('POST /identity/v3/auth/tokens') >= 2;
    }, { timeoutMs: 5000, intervalMs: 200 });
  });

  it('a wrong password is an auth error naming where the settings came from', async () => {
    const wrong = driverFor(provider(), sim.cloudsYaml('sim').replace('password: nodepool', 'password: wrong'));
    const error = await wrong.listServers().catch((e: unknown) => e);
    await wrong.close();
    expect(error).toMatchObject({ kind: 'auth', details: { status: 401, service: 'identity' } });
    expect((error as Error).message).toMatch(/^sim: identity login at http:\/\/127\.0\.0\.1:\d+\/identity\/v3 \(.*clouds\.yaml \(cloud sim\)\): 401 /);
  });

  it('retries 503, 429 with Retry-After and a dropped connection, within the api-timeout', async () => {
    sim.setFailures([
      { route: 'GET /compute/v2.1/servers/detail', status: 503, times: 2 },
      { route: 'GET /compute/v2.1/flavors/detail', status: 429, retryAfter: 1, times: 1 },
      { route: 'GET /image/v2/images', reset: true, times: 1 },
    ]);
    expect(await driver.listServers()).toEqual([]);
    const started = Date.now();
    expect((await driver.listFlavors()).length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect((await driver.listImages()).map((i) => i.id)).toContain(base);
    expect(sim.calls('GET /compute/v2.1/servers/detail')).toBe(3);
    expect(sim.pendingFailures().every((f) => f.fired === f.times)).toBe(true);
  });

  it('gives up with an unavailable error when the errors outlast the api-timeout', async () => {
    await driver.close();
    driver = driverFor(provider({ apiTimeout: 2 }));
    sim.setFailures([{ route: 'GET /compute/v2.1/servers/detail', status: 500, times: Infinity, message: 'the database is on fire' }]);
    const error = await driver.listServers().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).kind).toBe('unavailable');
  });

  it('does not retry a create (not idempotent): the error reaches the caller at once', async () => {
    sim.setFailures([{ route: 'POST /compute/v2.1/servers', status: 503, times: 1 }]);
    const error = await driver.createServer({ name: 'c', imageId: base, flavorId: await flavorId(), metadata: {} }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'unavailable', details: { status: 503 } });
    expect(sim.calls('POST /compute/v2.1/servers')).toBe(1);
    expect(sim.servers()).toEqual([]);
  });
});
