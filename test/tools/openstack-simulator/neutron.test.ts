import { describe, expect, it } from 'vitest';
import { Client, clockedSimulator, simulator } from './helpers.js';

describe('Neutron of the OpenStack simulator', () => {
  it('lists the shared network public with its loopback subnet, filtered by name', async () => {
    const sim = await simulator();
    sim.seedNetwork({ name: 'private', cidr: '127.43.0.0/24' });
    const client = await Client.login(sim);
    const networks = (await client.network('GET', '/v2.0/networks?name=public')).body.networks;
    expect(networks).toHaveLength(1);
    expect(networks[0]).toMatchObject({ name: 'public', shared: true, status: 'ACTIVE', admin_state_up: true });
    expect((await client.network('GET', '/v2.0/networks')).body.networks).toHaveLength(2);
    const subnets = (await client.network('GET', `/v2.0/subnets?network_id=${networks[0].id}`)).body.subnets;
    expect(subnets).toEqual([expect.objectContaining({
      cidr: '127.42.0.0/24', ip_version: 4, gateway_ip: null, enable_dhcp: false, allocation_pools: [{ start: '127.42.0.10', end: '127.42.0.250' }],
    })]);
    const fields = (await client.network('GET', '/v2.0/networks?name=public&fields=id&fields=name')).body.networks;
    expect(fields).toEqual([{ id: networks[0].id, name: 'public' }]);
  });

  it('refuses a network outside 127.0.0.0/8, so no server address can leave the host', async () => {
    const sim = await simulator();
    expect(() => sim.seedNetwork({ name: 'real', cidr: '10.0.0.0/24' })).toThrow(/127\.0\.0\.0\/8/);
  });

  it('shows the port Nova made for a server by device_id, and floating IPs that can be deleted', async () => {
    const { sim, clock } = await clockedSimulator({ timings: { activeMs: 10 } });
    const client = await Client.login(sim);
    const serverId: string = (await client.createServer({})).body.server.id;
    clock.increment(10);
    const ports = (await client.network('GET', `/v2.0/ports?device_id=${serverId}`)).body.ports;
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ device_id: serverId, device_owner: 'compute:az1', status: 'DOWN' });
    expect(ports[0].fixed_ips[0].ip_address).toBe(sim.server(serverId)?.addresses[0]?.addr);

    const attached = sim.seedFloatingIp({ floatingIpAddress: '127.42.0.251', serverId });
    const loose = sim.seedFloatingIp({ floatingIpAddress: '127.42.0.252' });
    const fips = (await client.network('GET', '/v2.0/floatingips')).body.floatingips;
    expect(fips).toHaveLength(2);
    expect(fips.find((f: { id: string }) => f.id === attached.id)).toMatchObject({
      floating_ip_address: '127.42.0.251', port_id: ports[0].id, fixed_ip_address: ports[0].fixed_ips[0].ip_address, status: 'ACTIVE',
    });
    const byPort = (await client.network('GET', `/v2.0/floatingips?port_id=${ports[0].id}`)).body.floatingips;
    expect(byPort.map((f: { id: string }) => f.id)).toEqual([attached.id]);

    expect((await client.network('DELETE', `/v2.0/floatingips/${loose.id}`)).status).toBe(204);
    const missing = await client.network('DELETE', `/v2.0/floatingips/${loose.id}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ NeutronError: { type: 'FloatingIPNotFound', message: `Floating IP ${loose.id} could not be found`, detail: '' } });

    // Deleting the server frees its port; the floating IP stays, disassociated.
    await client.compute('DELETE', `/servers/${serverId}`);
    clock.increment(1000);
    const left = (await client.network('GET', '/v2.0/floatingips')).body.floatingips;
    expect(left).toEqual([expect.objectContaining({ id: attached.id, port_id: null, fixed_ip_address: null, status: 'DOWN' })]);
  });

  it('without the L3 plugin /v2.0/floatingips is 404, as on the Zed peer', async () => {
    const sim = await simulator({ floatingIps: false });
    const client = await Client.login(sim);
    const answer = await client.network('GET', '/v2.0/floatingips');
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: '404 Not Found', title: 'Not Found' });
    sim.setFloatingIpsEnabled(true);
    expect((await client.network('GET', '/v2.0/floatingips')).status).toBe(200);
  });
});
