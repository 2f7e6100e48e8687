import { afterEach, describe, expect, it } from 'vitest';
import { DriverError } from '../../../src/drivers/driver.js';
import { NO_VALID_HOST } from '../../../src/drivers/fake/index.js';
import { FakeCloud, seededRandom } from '../../../src/drivers/fake/index.js';
import { advance, createNow, fakeSettings, serverRequest, simCloud, type Sim } from './helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.cloud.close();
  sim = undefined;
});

async function rejection(promise: Promise<unknown>): Promise<DriverError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DriverError);
  return error as DriverError;
}

describe('fake cloud servers', () => {
  it('a new server is BUILD, then ACTIVE after the active latency, with addresses and the exact metadata', async () => {
    sim = simCloud();
    const request = serverRequest(sim.imageId);
    const id = await createNow(sim);

    const [building] = await sim.cloud.listServers();
    expect(building).toMatchObject({ id, name: request.name, status: 'BUILD', addresses: {}, availabilityZone: 'nova' });

    await advance(sim.clock, 9.999);
    expect((await sim.cloud.listServers())[0]?.status).toBe('BUILD');
    await advance(sim.clock, 0.001);
    const [active] = await sim.cloud.listServers();
    expect(active?.status).toBe('ACTIVE');
    expect(active?.metadata).toEqual(request.metadata);
    // Loopback addresses in the cloud's own ranges: public 127.64-127, private 127.128-191.
    const [, publicNet] = /^127\.(\d+)\.\d+\.\d+$/.exec(active?.addresses.publicV4 ?? '') ?? [];
    const [, privateNet] = /^127\.(\d+)\.\d+\.\d+$/.exec(active?.addresses.privateV4 ?? '') ?? [];
    expect(Number(publicNet)).toBeGreaterThanOrEqual(64);
    expect(Number(publicNet)).toBeLessThan(128);
    expect(Number(privateNet)).toBe(Number(publicNet) + 64);
    expect(active).toMatchObject({ imageId: sim.imageId, flavorId: 'm1.small' });
  });

  it('the create call itself takes the create latency', async () => {
    sim = simCloud({ latency: { create: 3 } });
    let done = false;
    const pending = sim.cloud.createServer(serverRequest(sim.imageId)).then(() => { done = true; });
    await advance(sim.clock, 2.9);
    expect(done).toBe(false);
    expect(await sim.cloud.listServers()).toEqual([]);
    await advance(sim.clock, 0.1);
    await pending;
    expect(done).toBe(true);
  });

  it('two clouds hand out different server ids and addresses, as real clouds do', async () => {
    sim = simCloud();
    const other = new FakeCloud(fakeSettings({}), { clock: sim.clock, random: seededRandom(42), name: 'another-provider' });
    const otherImage = other.addImage('trusty').id;
    const pendingTheirs = other.createServer(serverRequest(otherImage));
    const mine = await createNow(sim);
    const theirs = await pendingTheirs;
    await advance(sim.clock, 10);
    expect(theirs.id).not.toBe(mine);
    expect(theirs.id).toMatch(/^5e[0-9a-f]{6}-0000-4000-8000-000000000001$/);
    const [a] = await sim.cloud.listServers();
    const [b] = await other.listServers();
    expect(a?.addresses.publicV4).not.toBe(b?.addresses.publicV4);
    // The same name gives the same ids again: a restarted daemon's cloud is the same cloud.
    const again = new FakeCloud(fakeSettings({}), { clock: sim.clock, name: 'another-provider' });
    expect(again.addImage('trusty').id).toBe(otherImage);
    await other.close();
    await again.close();
  });

  it('each server gets its own addresses and the availability zone it asked for', async () => {
    sim = simCloud();
    await createNow(sim, { availabilityZone: 'az1' });
    await createNow(sim, { name: 'second' });
    await advance(sim.clock, 10);
    const servers = await sim.cloud.listServers();
    expect(servers.map((s) => s.availabilityZone)).toEqual(['az1', 'nova']);
    expect(new Set(servers.map((s) => s.addresses.publicV4)).size).toBe(2);
    expect(new Set(servers.map((s) => s.id)).size).toBe(2);
  });

  it('with error-status 1 every server ends in ERROR with a fault', async () => {
    sim = simCloud({ failureRate: { errorStatus: 1 } });
    const id = await createNow(sim);
    await advance(sim.clock, 10);
    expect(sim.cloud.server(id)).toMatchObject({ status: 'ERROR', fault: NO_VALID_HOST, addresses: {} });
  });

  it('with stuck-in-build 1 a server stays in BUILD forever', async () => {
    sim = simCloud({ failureRate: { stuckInBuild: 1 } });
    const id = await createNow(sim);
    await advance(sim.clock, 365 * 24 * 3600);
    expect(sim.cloud.server(id)?.status).toBe('BUILD');
  });

  it('with create failure 1 the create call fails as a Nova 500 and no server exists', async () => {
    sim = simCloud({ failureRate: { create: 1 } });
    const pending = rejection(sim.cloud.createServer(serverRequest(sim.imageId)));
    await advance(sim.clock, 1);
    const error = await pending;
    expect(error.kind).toBe('unavailable');
    expect(error.retryable).toBe(true);
    expect(error.details.status).toBe(500);
    expect(error.message).toMatch(/HTTP 500/);
    expect(await sim.cloud.listServers()).toEqual([]);
  });

  it('the same seed gives the same failures', async () => {
    const outcomes = async (seed: number) => {
      sim = simCloud({ failureRate: { errorStatus: 0.5 }, quota: { instances: -1, cores: -1, ram: -1 } }, seed);
      for (let i = 0; i < 8; i++) await createNow(sim, { name: `n${i}` });
      await advance(sim.clock, 10);
      const statuses = (await sim.cloud.listServers()).map((s) => s.status);
      await sim.cloud.close();
      return statuses;
    };
    const first = await outcomes(7);
    expect(await outcomes(7)).toEqual(first);
    expect(first).toContain('ERROR');
    expect(first).toContain('ACTIVE');
  });

  it('refuses a server beyond the instances quota with Nova\'s message', async () => {
    sim = simCloud({ quota: { instances: 2 } });
    await createNow(sim, { name: 'a' });
    await createNow(sim, { name: 'b' });
    const pending = rejection(sim.cloud.createServer(serverRequest(sim.imageId)));
    await advance(sim.clock, 1);
    const error = await pending;
    expect(error.kind).toBe('quota');
    expect(error.message).toBe('Quota exceeded for instances: Requested 1, but already used 2 of 2 instances');
  });

  it('refuses a server beyond the cores and ram quota, and -1 means unlimited', async () => {
    sim = simCloud({ quota: { instances: -1, cores: 5, ram: -1 } });
    await createNow(sim, { flavorId: 'm1.large' });
    const pending = rejection(sim.cloud.createServer(serverRequest(sim.imageId, { flavorId: 'm1.large' })));
    await advance(sim.clock, 1);
    expect((await pending).message).toBe('Quota exceeded for cores: Requested 4, but already used 4 of 5 cores');
    await sim.cloud.close();

    sim = simCloud({ quota: { instances: -1, cores: -1, ram: 10000 } });
    await createNow(sim, { flavorId: 'm1.large' });
    const ram = rejection(sim.cloud.createServer(serverRequest(sim.imageId, { flavorId: 'm1.small' })));
    await advance(sim.clock, 1);
    expect((await ram).message).toBe('Quota exceeded for ram: Requested 2048, but already used 8192 of 10000 ram');
  });

  it('reports quota limits and what live servers use', async () => {
    sim = simCloud();
    await createNow(sim, { flavorId: 'm1.large' });
    await createNow(sim, { flavorId: 'm1.small' });
    expect(await sim.cloud.getQuota()).toEqual({
      instances: { limit: 10, used: 2 },
      cores: { limit: 40, used: 5 },
      ram: { limit: 81920, used: 10240 },
    });
    expect(await sim.cloud.listFlavors()).toEqual([
      { id: 'm1.small', name: 'm1.small', ram: 2048, vcpus: 1 },
      { id: 'm1.large', name: 'm1.large', ram: 8192, vcpus: 4 },
    ]);
  });

  it('names an unknown flavor or image', async () => {
    sim = simCloud();
    const flavor = rejection(sim.cloud.createServer(serverRequest(sim.imageId, { flavorId: 'm9.huge' })));
    const image = rejection(sim.cloud.createServer(serverRequest('no-such-image')));
    await advance(sim.clock, 1);
    expect(await flavor).toMatchObject({ kind: 'bad-request', message: 'Flavor m9.huge could not be found.' });
    expect(await image).toMatchObject({ kind: 'bad-request', message: 'Image no-such-image could not be found.' });
  });

  it('enforces Nova\'s metadata limits: 128 items, keys and values of at most 255 characters', async () => {
    sim = simCloud({ quota: { instances: -1 } });
    const items = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    const cases = [
      { metadata: items(129), message: /metadata_items: Requested 129, but the limit is 128/ },
      { metadata: { ['k'.repeat(256)]: 'v' }, message: /metadata key .* 1 to 255 characters \(is 256\)/ },
      { metadata: { key: 'v'.repeat(256) }, message: /value for key key: at most 255 characters \(is 256\)/ },
      { metadata: { '': 'v' }, message: /metadata key/ },
    ];
    const pending = cases.map((c) => rejection(sim!.cloud.createServer(serverRequest(sim!.imageId, { metadata: c.metadata }))));
    const fine = sim.cloud.createServer(serverRequest(sim.imageId, { metadata: { ...items(127), ['k'.repeat(255)]: 'v'.repeat(255) } }));
    await advance(sim.clock, 1);
    for (const [i, c] of cases.entries()) {
      const error = await pending[i]!;
      expect(error.kind).toBe('bad-request');
      expect(error.message).toMatch(c.message);
    }
    const { id } = await fine;
    expect(Object.keys(sim.cloud.server(id)!.metadata)).toHaveLength(128);
  });

  it('a delete is accepted at once; the server stays listed as deleting until the delete latency passes', async () => {
    sim = simCloud();
    const id = await createNow(sim);
    await advance(sim.clock, 10);
    await sim.cloud.deleteServer(id);

    expect(sim.cloud.server(id)).toMatchObject({ status: 'ACTIVE', taskState: 'deleting' });
    expect((await sim.cloud.getQuota()).instances.used).toBe(1);
    await advance(sim.clock, 4.999);
    expect((await sim.cloud.listServers()).map((s) => s.id)).toEqual([id]);
    await advance(sim.clock, 0.001);
    expect(await sim.cloud.listServers()).toEqual([]);
    expect((await sim.cloud.getQuota()).instances.used).toBe(0);
  });

  it('deleting a server already gone (or never there) resolves', async () => {
    sim = simCloud({ latency: { delete: 0 } });
    const id = await createNow(sim);
    await sim.cloud.deleteServer(id);
    expect(await sim.cloud.listServers()).toEqual([]);
    await expect(sim.cloud.deleteServer(id)).resolves.toBeUndefined();
    await expect(sim.cloud.deleteServer('5e000000-0000-4000-8000-00000000ffff')).resolves.toBeUndefined();
  });

  it('a server in BUILD can be deleted', async () => {
    sim = simCloud();
    const id = await createNow(sim);
    await sim.cloud.deleteServer(id);
    expect(sim.cloud.server(id)).toMatchObject({ status: 'BUILD', taskState: 'deleting' });
    await advance(sim.clock, 5);
    expect(sim.cloud.server(id)).toBeUndefined();
  });

  it('with delete failure 1 the delete fails as unavailable and the server stays', async () => {
    sim = simCloud({ failureRate: { delete: 1 } });
    const id = await createNow(sim);
    const error = await rejection(sim.cloud.deleteServer(id));
    expect(error.kind).toBe('unavailable');
    await advance(sim.clock, 60);
    expect(sim.cloud.server(id)?.taskState).toBeUndefined();
  });

  it('listServers returns copies', async () => {
    sim = simCloud({ latency: { active: 0 } });
    const id = await createNow(sim);
    const [server] = await sim.cloud.listServers();
    server!.metadata.nodepool = 'changed';
    server!.addresses.publicV4 = '0.0.0.0';
    server!.status = 'ERROR';
    expect(sim.cloud.server(id)).toMatchObject({ status: 'ACTIVE', metadata: serverRequest(sim.imageId).metadata });
    expect(sim.cloud.server(id)?.addresses.publicV4).not.toBe('0.0.0.0');
  });
});
