import { describe, expect, it } from 'vitest';
import { Client, clockedSimulator, simulator } from './helpers.js';

const NODEPOOL_METADATA = { nodepool: '{"node_id": 1}', groups: 'nodepool-smoke,group2', nodepool_provider_name: 'local' };

describe('Nova servers of the OpenStack simulator', () => {
  it('a created server is BUILD (scheduling, then spawning) and ACTIVE after the build time, with loopback addresses', async () => {
    const { sim, clock } = await clockedSimulator({ timings: { activeMs: 4000 } });
    const client = await Client.login(sim);
    const created = await client.createServer({ metadata: NODEPOOL_METADATA, key_name: 'nodepool-key', availability_zone: 'az1' });

    expect(created.status).toBe(202);
    const id: string = created.body.server.id;
    expect(created.body.server).toMatchObject({ 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }] });
    expect(created.body.server.adminPass).toEqual(expect.any(String));
    expect(created.headers.get('location')).toBe(`${sim.endpoints.compute}/servers/${id}`);
    expect(created.headers.get('openstack-api-version')).toBe('compute 2.79');

    const show = async (): Promise<Record<string, unknown>> => (await client.compute('GET', `/servers/${id}`)).body.server;
    expect(await show()).toMatchObject({ status: 'BUILD', 'OS-EXT-STS:task_state': 'scheduling', addresses: {}, hostId: '' });
    clock.increment(2000);
    expect(await show()).toMatchObject({ status: 'BUILD', 'OS-EXT-STS:task_state': 'spawning', 'OS-EXT-STS:vm_state': 'building' });
    clock.increment(1999);
    expect((await show()).status).toBe('BUILD');
    clock.increment(1);
    const active = await show();
    expect(active).toMatchObject({
      status: 'ACTIVE', 'OS-EXT-STS:task_state': null, 'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:power_state': 1,
      metadata: NODEPOOL_METADATA, key_name: 'nodepool-key', 'OS-EXT-AZ:availability_zone': 'az1',
      image: { id: sim.images()[0]?.id }, flavor: { original_name: 'm1.small', vcpus: 1, ram: 2048 },
    });
    expect(active.fault).toBeUndefined();
    const [address] = (active.addresses as Record<string, Array<Record<string, unknown>>>).public ?? [];
    expect(address).toMatchObject({ version: 4, 'OS-EXT-IPS:type': 'fixed' });
    expect(address?.addr).toMatch(/^127\.42\.0\.\d+$/);

    const list = await client.compute('GET', '/servers/detail');
    expect(list.body.servers).toHaveLength(1);
    expect(list.body.servers[0]).toMatchObject({ id, status: 'ACTIVE', metadata: NODEPOOL_METADATA });
    expect(sim.server(id)).toMatchObject({ status: 'ACTIVE', metadata: NODEPOOL_METADATA, flavorName: 'm1.small' });
  });

  it('a server whose name matches the error pattern goes to ERROR with a No valid host fault and no address', async () => {
    const { sim, clock } = await clockedSimulator({ timings: { activeMs: 1000 }, errorNamePattern: /-fail$/ });
    const client = await Client.login(sim);
    const created = await client.createServer({ name: 'np1-fail' });
    expect(created.status).toBe(202);
    clock.increment(1000);
    const server = (await client.compute('GET', `/servers/${created.body.server.id}`)).body.server;
    expect(server).toMatchObject({ status: 'ERROR', 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': null, addresses: {} });
    expect(server.fault).toEqual({ code: 500, message: 'No valid host was found. ', created: '2024-05-01T12:00:01Z' });
    expect(server.fault.details).toBeUndefined();
  });

  it('with error rate 1 every server fails; set back to 0 they build again', async () => {
    const { sim, clock } = await clockedSimulator({ timings: { activeMs: 10 }, errorRate: 1 });
    const client = await Client.login(sim);
    await client.createServer({ name: 'a' });
    sim.setErrorRate(0);
    await client.createServer({ name: 'b' });
    clock.increment(10);
    const statuses = Object.fromEntries(sim.servers().map((s) => [s.name, s.status]));
    expect(statuses).toEqual({ a: 'ERROR', b: 'ACTIVE' });
  });

  it('a deleted server shows task_state deleting for the delete time, then is 404 and out of the list', async () => {
    const { sim, clock } = await clockedSimulator({ timings: { activeMs: 100, deleteMs: 3000 } });
    const client = await Client.login(sim);
    const id: string = (await client.createServer({})).body.server.id;
    clock.increment(100);
    const address = sim.server(id)?.addresses[0]?.addr;

    const deleted = await client.compute('DELETE', `/servers/${id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const deleting = (await client.compute('GET', `/servers/${id}`)).body.server;
    expect(deleting).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:task_state': 'deleting' });
    expect((await client.compute('DELETE', `/servers/${id}`)).status).toBe(204);

    clock.increment(3000);
    const gone = await client.compute('GET', `/servers/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } });
    expect((await client.compute('GET', '/servers/detail')).body.servers).toEqual([]);
    expect((await client.network('GET', `/v2.0/ports?device_id=${id}`)).body.ports).toEqual([]);
    expect((await client.compute('DELETE', `/servers/${id}`)).status).toBe(404);

    // The address is free again for the next server.
    const next: string = (await client.createServer({ name: 'next' })).body.server.id;
    expect(sim.server(next)?.addresses[0]?.addr).toBe(address);
  });

  it('networks is optional before 2.37 and required from 2.37, where "none" and "auto" are accepted', async () => {
    const { sim, clock } = await clockedSimulator({ timings: { activeMs: 1 } });
    const client = await Client.login(sim, '2.36');
    const defaults = await client.serverDefaults();
    delete defaults.networks;

    const old = await client.compute('POST', '/servers', { server: defaults });
    expect(old.status).toBe(202);
    const oldAuto = await client.compute('POST', '/servers', { server: { ...defaults, networks: 'auto' } });
    expect(oldAuto.status).toBe(400);
    expect(oldAuto.body.badRequest.message).toBe("Invalid input for field/attribute networks. Value: auto. 'auto' is not of type 'array'");

    client.microversion = '2.37';
    const missing = await client.compute('POST', '/servers', { server: defaults });
    expect(missing.status).toBe(400);
    expect(missing.body.badRequest.message).toMatch(/^Invalid input for field\/attribute server\. Value: \{'name': 'np0000000001', .*\}\. 'networks' is a required property$/);
    expect(missing.headers.get('x-openstack-nova-api-version')).toBe('2.37');

    const none = await client.compute('POST', '/servers', { server: { ...defaults, name: 'none', networks: 'none' } });
    const auto = await client.compute('POST', '/servers', { server: { ...defaults, name: 'auto', networks: 'auto' } });
    expect([none.status, auto.status]).toEqual([202, 202]);
    clock.increment(1);
    const byName = Object.fromEntries(sim.servers().map((s) => [s.name, s.addresses.length]));
    expect(byName).toEqual({ np0000000001: 1, none: 0, auto: 1 });
    expect((await client.compute('GET', `/servers/${none.body.server.id}`)).body.server.addresses).toEqual({});
  });

  it('the legacy microversion header works, latest is 2.93, and bad versions are 400 and 406', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const legacy = await client.compute('GET', '/flavors/detail', undefined, { 'openstack-api-version': '', 'x-openstack-nova-api-version': '2.50' });
    expect(legacy.headers.get('openstack-api-version')).toBe('compute 2.50');
    client.microversion = 'latest';
    expect((await client.compute('GET', '/flavors/detail')).headers.get('x-openstack-nova-api-version')).toBe('2.93');
    client.microversion = 'two';
    const bad = await client.compute('GET', '/flavors/detail');
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toBe('API Version String two is of invalid format. Must be of format MajorNum.MinorNum.');
    client.microversion = '2.94';
    const tooNew = await client.compute('GET', '/flavors/detail');
    expect(tooNew.status).toBe(406);
    expect(tooNew.body).toEqual({ computeFault: { code: 406, message: 'Version 2.94 is not supported by the API. Minimum is 2.1 and maximum is 2.93.' } });
  });

  it('refuses an unknown availability zone, key pair, flavor, image or network with Nova 400s', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ availability_zone: 'nova' }, 400, 'The requested availability zone is not available'],
      [{ key_name: 'other-key' }, 400, 'Invalid key_name provided.'],
      [{ flavorRef: 'no-such-flavor' }, 400, 'Flavor no-such-flavor could not be found.'],
      [{ imageRef: '00000000-0000-0000-0000-000000000000' }, 400, 'Can not find requested image'],
      [{ networks: [{ uuid: '00000000-0000-0000-0000-000000000001' }] }, 400, 'Network 00000000-0000-0000-0000-000000000001 could not be found.'],
    ];
    for (const [server, status, message] of cases) {
      const answer = await client.createServer(server);
      expect(answer.status).toBe(status);
      expect(answer.body).toEqual({ badRequest: { code: 400, message } });
    }
    const queued = sim.seedImage({ name: 'half', status: 'queued' });
    const notActive = await client.createServer({ imageRef: queued.id });
    expect(notActive.body.badRequest.message).toBe(`Image ${queued.id} is not active.`);
    expect(sim.servers()).toEqual([]);
  });

  it('checks metadata as Nova does: string values of at most 255, valid keys, at most 128 items', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const long = 'x'.repeat(256);
    const tooLong = await client.createServer({ metadata: { nodepool: long } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.badRequest.message).toBe(`Invalid input for field/attribute nodepool. Value: ${long}. '${long}' is too long`);
    const notString = await client.createServer({ metadata: { node_id: 1 } });
    expect(notString.body.badRequest.message).toBe("Invalid input for field/attribute node_id. Value: 1. 1 is not of type 'string'");
    const badKey = await client.createServer({ metadata: { 'a/b': 'x' } });
    expect(badKey.body.badRequest.message).toBe("Invalid input for field/attribute metadata. Value: {'a/b': 'x'}. Additional properties are not allowed ('a/b' was unexpected)");

    const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await client.createServer({ metadata: many });
    expect(tooMany.status).toBe(403);
    expect(tooMany.body).toEqual({ forbidden: { code: 403, message: 'Maximum number of metadata items exceeds 128' } });
    const exactly = await client.createServer({ metadata: Object.fromEntries(Object.entries(many).slice(0, 128)) });
    expect(exactly.status).toBe(202);
  });

  it('a server over the instances or cores quota is 403 with Nova message; usage shows in limits and quota sets', async () => {
    const sim = await simulator({ quota: { instances: 2, cores: 20, ram: 51200 } });
    const client = await Client.login(sim);
    expect((await client.createServer({ name: 'a' })).status).toBe(202);
    expect((await client.createServer({ name: 'b' })).status).toBe(202);
    const over = await client.createServer({ name: 'c' });
    expect(over.status).toBe(403);
    expect(over.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 2 of 2 instances' } });

    sim.setQuota({ instances: 10, cores: 2 });
    const large = sim.flavors().find((f) => f.name === 'm1.large');
    const cores = await client.createServer({ name: 'd', flavorRef: large?.id });
    expect(cores.body.forbidden.message).toBe('Quota exceeded for cores: Requested 4, but already used 2 of 2 cores');

    const limits = (await client.compute('GET', '/limits')).body.limits.absolute;
    expect(limits).toMatchObject({ maxTotalInstances: 10, maxTotalCores: 2, totalInstancesUsed: 2, totalCoresUsed: 2, totalRAMUsed: 4096 });
    const projectId = sim.credentials.projectId;
    const detail = await client.compute('GET', `/os-quota-sets/${projectId}/detail`);
    expect(detail.body.quota_set).toMatchObject({ id: projectId, instances: { limit: 10, in_use: 2, reserved: 0 }, cores: { limit: 2, in_use: 2 } });
    const plain = await client.compute('GET', `/os-quota-sets/${projectId}`);
    expect(plain.body.quota_set).toMatchObject({ instances: 10, cores: 2, ram: 51200 });
    expect(plain.body.quota_set.injected_files).toBeUndefined();
    const other = await client.compute('GET', '/os-quota-sets/someone-else');
    expect(other.status).toBe(403);
  });

  it('lists flavors, availability zones and key pairs as a member sees them', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const flavors = (await client.compute('GET', '/flavors/detail')).body.flavors;
    expect(flavors.map((f: { name: string; ram: number; vcpus: number }) => [f.name, f.ram, f.vcpus])).toEqual([
      ['m1.tiny', 512, 1], ['m1.small', 2048, 1], ['m1.medium', 4096, 2], ['m1.large', 8192, 4],
    ]);
    expect(flavors[0]).toMatchObject({ 'os-flavor-access:is_public': true, 'OS-FLV-EXT-DATA:ephemeral': 0, extra_specs: {}, swap: 0 });
    const zones = (await client.compute('GET', '/os-availability-zone')).body;
    expect(zones).toEqual({ availabilityZoneInfo: [{ zoneName: 'az1', zoneState: { available: true }, hosts: null }] });
    const keypairs = (await client.compute('GET', '/os-keypairs')).body.keypairs;
    expect(keypairs).toHaveLength(1);
    expect(keypairs[0].keypair).toMatchObject({ name: 'nodepool-key', type: 'ssh' });
    const version = await client.compute('GET', '/');
    expect(version.body.version).toMatchObject({ id: 'v2.1', version: '2.93', min_version: '2.1' });
  });

  it('servers/detail filters by name (a regular expression) and pages with limit and marker', async () => {
    const { sim, clock } = await clockedSimulator();
    const client = await Client.login(sim);
    for (const name of ['np1', 'np2', 'other']) {
      await client.createServer({ name });
      clock.increment(1000);
    }
    const np = (await client.compute('GET', '/servers/detail?name=^np')).body.servers.map((s: { name: string }) => s.name);
    expect(np).toEqual(['np2', 'np1']);
    const page = await client.compute('GET', '/servers/detail?limit=2');
    expect(page.body.servers.map((s: { name: string }) => s.name)).toEqual(['other', 'np2']);
    const next: string = page.body.servers_links[0].href;
    const rest = await client.compute('GET', next.slice(sim.endpoints.compute.length));
    expect(rest.body.servers.map((s: { name: string }) => s.name)).toEqual(['np1']);
  });
});
