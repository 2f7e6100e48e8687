/**
 * The provider driver contract: what every driver does, whichever cloud is
 * behind it (src/drivers/driver.ts). One suite, run against each target of
 * contract-targets.ts: the fake driver (in memory, and on a state file) and
 * the OpenStack driver talking HTTP to the OpenStack simulator on 127.0.0.1.
 *
 * Time: every cloud runs on a simulated clock. A call that waits out a
 * latency on it is let through by moving the clock to its timer (settle); a
 * change the cloud makes in its own time (a build, a delete) is waited for by
 * moving the clock a second at a time, within a bound (eventually). The real
 * clock only waits, within a bound, for real I/O to finish.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serverMetadata } from '../../src/core/server-metadata.js';
import { DriverError, type ProviderDriver, type Server } from '../../src/drivers/driver.js';
import { BUILD_MS, CONTRACT_TARGETS, type ContractCloud } from './contract-targets.js';
import { removeTempDirs, tempDir } from './fake/helpers.js';

/** A Nova-shaped id that no cloud has. */
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000beef';
/** How long, on the cloud's clock, a build or a delete may take before a test gives up. */
const CLOUD_TIME_BOUND_MS = 120_000;
/** How long, in real time, a call or a wait may take before a test gives up. */
const REAL_TIME_BOUND_MS = 10_000;

/** One poll interval of the real clock, always inside a bounded wait. */
function pollInterval(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2));
}

/**
 * The outcome of a call, letting through the waits it makes on the cloud's
 * clock (the fake's create and upload latencies): while it is pending, time
 * moves to the next timer of the cloud's clock, if there is one.
 */
async function settle<T>(cloud: ContractCloud, call: Promise<T>): Promise<T> {
  let settled = false;
  const watched = call.finally(() => {
    settled = true;
  });
  watched.catch(() => undefined);
  const deadline = Date.now() + REAL_TIME_BOUND_MS;
  while (!settled) {
    await pollInterval();
    if (settled) break;
    if (Date.now() > deadline) throw new Error(`a call still pending after ${REAL_TIME_BOUND_MS} ms`);
    cloud.clock.advanceToNextTimer();
  }
  return watched;
}

/** Waits for `check` to give a value, moving the cloud's clock a second at a time; bounded in cloud and real time. */
async function eventually<T>(cloud: ContractCloud, what: string, check: () => Promise<T | undefined | false>): Promise<T> {
  const cloudLimit = cloud.clock.now() + CLOUD_TIME_BOUND_MS;
  const deadline = Date.now() + REAL_TIME_BOUND_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (cloud.clock.now() >= cloudLimit || Date.now() > deadline) {
      throw new Error(`${what}: not within ${CLOUD_TIME_BOUND_MS / 1000} s of the cloud's time`);
    }
    cloud.clock.advance(1000);
  }
}

/** The DriverError a call rejects with (fails the test if it resolves or throws something else). */
async function rejection(cloud: ContractCloud, call: Promise<unknown>): Promise<DriverError> {
  const error = await settle(cloud, call).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DriverError);
  return error as DriverError;
}

async function flavorNamed(driver: ProviderDriver, name: string): Promise<{ id: string; ram: number; vcpus: number }> {
  const flavor = (await driver.listFlavors()).find((f) => f.name === name);
  if (!flavor) throw new Error(`no flavor ${name}`);
  return flavor;
}

describe.each(CONTRACT_TARGETS)('driver contract: $name', (target) => {
  let cloud: ContractCloud;
  let driver: ProviderDriver;

  beforeEach(async () => {
    cloud = await target.start();
    driver = cloud.driver;
  });
  afterEach(async () => {
    await cloud.close();
    removeTempDirs();
  });

  /** Creates a server of `flavor` from the cloud's image; resolves with its id. */
  async function create(name: string, flavor = 'm1.small', metadata: Record<string, string> = {}): Promise<string> {
    const { id: flavorId } = await flavorNamed(driver, flavor);
    return (await settle(cloud, driver.createServer({ name, imageId: cloud.imageId, flavorId, metadata }))).id;
  }

  async function listed(id: string): Promise<Server | undefined> {
    return (await driver.listServers()).find((s) => s.id === id);
  }

  it('capabilities say whether other processes share the cloud, and where a node answers SSH', () => {
    expect(driver.capabilities.sharedAcrossProcesses).toBe(target.sharedAcrossProcesses);
    expect(driver.capabilities.sshEndpoint('127.0.0.7')).toEqual(target.sshEndpoint('127.0.0.7'));
  });

  it('listServers shows a created server with its name, image and exact metadata, in BUILD, then ACTIVE with a public address', async () => {
    const metadata = serverMetadata({ image: 'contract-base', provider: 'contract', nodeId: 7, meta: { purpose: 'contract test' } });
    const id = await create('contract-node-7', 'm1.small', metadata);

    const building = await listed(id);
    expect(building).toMatchObject({ id, name: 'contract-node-7', status: 'BUILD', imageId: cloud.imageId });
    expect(building?.metadata).toEqual(metadata);

    const active = await eventually(cloud, 'the server ACTIVE', async () => {
      const server = await listed(id);
      return server?.status === 'ACTIVE' && server;
    });
    expect(active.metadata).toEqual(metadata);
    expect(active.addresses.publicV4).toMatch(/^127\.\d+\.\d+\.\d+$/);
  });

  it('deleteServer of a live server makes it disappear and frees its quota; deleting it again (deleting, then gone) resolves', async () => {
    const id = await create('contract-delete');
    const keep = await create('contract-keep');
    const before = await driver.getQuota();

    await driver.deleteServer(id);
    expect(await listed(id)).toMatchObject({ id, taskState: 'deleting' });
    await expect(driver.deleteServer(id)).resolves.toBeUndefined();
    await eventually(cloud, 'the deleted server gone', async () => (await listed(id)) === undefined);

    expect((await driver.listServers()).map((s) => s.id)).toEqual([keep]);
    expect((await driver.getQuota()).instances.used).toBe(before.instances.used - 1);
    await expect(driver.deleteServer(id)).resolves.toBeUndefined();
  });

  it('a server deleted while it builds keeps showing BUILD (with taskState deleting) until it is gone, never ACTIVE', async () => {
    const id = await create('contract-doomed');
    cloud.clock.advance(BUILD_MS - 1000);
    expect((await listed(id))?.status).toBe('BUILD');
    await driver.deleteServer(id);
    // The build would have ended by now; the delete (DELETE_MS, 5 s) is still under way.
    cloud.clock.advance(2000);
    expect(await listed(id)).toMatchObject({ status: 'BUILD', taskState: 'deleting' });
    await eventually(cloud, 'the deleted server gone', async () => {
      const server = await listed(id);
      expect(server?.status).not.toBe('ACTIVE');
      return server === undefined;
    });
  });

  it('deleteServer of a server the cloud never had resolves', async () => {
    await expect(driver.deleteServer(UNKNOWN_ID)).resolves.toBeUndefined();
  });

  it('createServer with an unknown image or flavor rejects with kind bad-request and makes no server', async () => {
    const { id: flavorId } = await flavorNamed(driver, 'm1.small');
    const image = await rejection(cloud, driver.createServer({ name: 'no-image', imageId: UNKNOWN_ID, flavorId, metadata: {} }));
    expect(image.kind).toBe('bad-request');
    const flavor = await rejection(cloud, driver.createServer({ name: 'no-flavor', imageId: cloud.imageId, flavorId: 'no-such-flavor', metadata: {} }));
    expect(flavor.kind).toBe('bad-request');
    expect(await driver.listServers()).toEqual([]);
  });

  it('more metadata items than Nova takes (128) rejects with kind bad-request and makes no server', async () => {
    const { id: flavorId } = await flavorNamed(driver, 'm1.small');
    const metadata = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`key${i}`, 'v']));
    const error = await rejection(cloud, driver.createServer({ name: 'too-much', imageId: cloud.imageId, flavorId, metadata }));
    expect(error.kind).toBe('bad-request');
    expect(await driver.listServers()).toEqual([]);
  });

  it('uploadImage of a file that cannot be read rejects with kind bad-request naming the file, and leaves no image', async () => {
    const missing = join(tempDir(), 'never-built.qcow2');
    const before = (await driver.listImages()).length;
    const error = await rejection(cloud, driver.uploadImage({ name: 'contract-missing', filePath: missing, diskFormat: 'qcow2', properties: {} }));
    expect(error.kind).toBe('bad-request');
    expect(error.message).toContain(missing);
    expect(await driver.listImages()).toHaveLength(before);
  });

  it('a create beyond the quota rejects with kind quota and Nova\'s message, and makes no server', async () => {
    cloud.setQuota({ instances: 1, cores: 100, ram: 1_000_000 });
    const first = await create('contract-q1');
    const error = await rejection(cloud, driver.createServer({
      name: 'contract-q2', imageId: cloud.imageId, flavorId: (await flavorNamed(driver, 'm1.small')).id, metadata: {},
    }));
    expect(error.kind).toBe('quota');
    expect(error.message).toContain('Quota exceeded for instances: Requested 1, but already used 1 of 1 instances');
    expect((await driver.listServers()).map((s) => s.id)).toEqual([first]);
  });

  it('listFlavors gives every flavor an id, a name, its RAM and vCPUs', async () => {
    const flavors = await driver.listFlavors();
    expect(flavors.length).toBeGreaterThan(0);
    for (const flavor of flavors) {
      expect(flavor.id).toEqual(expect.any(String));
      expect(flavor.name).toEqual(expect.any(String));
      expect(Number.isInteger(flavor.ram) && flavor.ram > 0).toBe(true);
      expect(Number.isInteger(flavor.vcpus) && flavor.vcpus > 0).toBe(true);
    }
    expect(flavors.find((f) => f.name === 'm1.large')).toMatchObject({ ram: 8192, vcpus: 4 });
  });

  it('getQuota reports the limits and counts a created server by its flavor', async () => {
    cloud.setQuota({ instances: 7, cores: 30, ram: 40_000 });
    const before = await driver.getQuota();
    expect(before).toEqual({
      instances: { limit: 7, used: 0 },
      cores: { limit: 30, used: 0 },
      ram: { limit: 40_000, used: 0 },
    });
    const large = await flavorNamed(driver, 'm1.large');
    await create('contract-large', 'm1.large');
    expect(await driver.getQuota()).toEqual({
      instances: { limit: 7, used: 1 },
      cores: { limit: 30, used: large.vcpus },
      ram: { limit: 40_000, used: large.ram },
    });
  });

  it('uploadImage resolves with an id listImages shows active with the properties given; deleteImage removes it, and again resolves', async () => {
    const file = join(tempDir(), 'contract-0000000004.qcow2');
    writeFileSync(file, Buffer.alloc(1024 * 1024 + 3, 7));
    const properties = { nodepool_build_id: '4', nodepool_upload_id: '9', distro: 'debian' };

    const { id } = await settle(cloud, driver.uploadImage({ name: 'contract-1700000000', filePath: file, diskFormat: 'qcow2', properties }));
    expect((await driver.listImages()).find((i) => i.id === id)).toEqual({
      id, name: 'contract-1700000000', status: 'active', properties, diskFormat: 'qcow2',
    });

    await driver.deleteImage(id);
    expect((await driver.listImages()).map((i) => i.id)).not.toContain(id);
    await expect(driver.deleteImage(id)).resolves.toBeUndefined();
    await expect(driver.deleteImage(UNKNOWN_ID)).resolves.toBeUndefined();
    expect((await driver.listImages()).map((i) => i.id)).toContain(cloud.imageId);
  });

  it('listFloatingIps shows each floating IP and whether it is attached; deleteFloatingIp removes one, and again resolves', async () => {
    const serverId = await create('contract-fip');
    const free = cloud.seedFloatingIp();
    const attached = cloud.seedFloatingIp(serverId);

    const all = await driver.listFloatingIps();
    expect(all).toHaveLength(2);
    expect(all).toEqual(expect.arrayContaining([
      { id: free.id, address: free.address, attached: false },
      { id: attached.id, address: attached.address, attached: true },
    ]));

    await driver.deleteFloatingIp(free.id);
    expect((await driver.listFloatingIps()).map((f) => f.id)).toEqual([attached.id]);
    await expect(driver.deleteFloatingIp(free.id)).resolves.toBeUndefined();
    await expect(driver.deleteFloatingIp(UNKNOWN_ID)).resolves.toBeUndefined();
  });
});
