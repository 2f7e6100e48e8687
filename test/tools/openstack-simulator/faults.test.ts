import { describe, expect, it } from 'vitest';
import { Client, clockedSimulator, simulator, waitFor } from './helpers.js';

const SERVERS = 'GET /compute/v2.1/servers/detail';

describe('fault injection of the OpenStack simulator', () => {
  it('the next N calls to a route answer 500 in the service shape, then it works again', async () => {
    const sim = await simulator({ failures: [{ route: SERVERS, status: 500, times: 2 }] });
    const client = await Client.login(sim);
    for (let i = 0; i < 2; i += 1) {
      const failed = await client.compute('GET', '/servers/detail');
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({
        computeFault: { code: 500, message: 'The server has either erred or is incapable of performing the requested operation.' },
      });
    }
    expect((await client.compute('GET', '/servers/detail')).status).toBe(200);
    expect(sim.calls(SERVERS)).toBe(3);
    expect(sim.pendingFailures()).toEqual([]);
    expect(sim.requests().filter((r) => r.route === SERVERS).map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it('429 carries Retry-After, and Nova retryAfter in an overLimit body; 413 too', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    sim.setFailures([
      { route: 'POST /compute/v2.1/servers', status: 429, retryAfter: 7 },
      { route: 'POST /compute/v2.1/servers', status: 413, retryAfter: 3, message: 'Over the rate limit.' },
    ]);
    const limited = await client.createServer({});
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.body).toEqual({ overLimit: { code: 429, message: 'The client has sent too many requests in a given amount of time', retryAfter: '7' } });
    const large = await client.createServer({});
    expect(large.status).toBe(413);
    expect(large.body).toEqual({ overLimit: { code: 413, message: 'Over the rate limit.', retryAfter: '3' } });
    expect((await client.createServer({})).status).toBe(202);
    expect(sim.servers()).toHaveLength(1);
  });

  it('a 503 on Glance and Neutron and a 500 on Keystone come in each service shape', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    sim.setFailures([
      { route: 'GET /image/v2/images', status: 503 },
      { route: 'GET /network/v2.0/networks', status: 500 },
      { route: 'POST /identity/v3/auth/tokens', status: 500 },
    ]);
    const image = await client.image('GET', '/v2/images');
    expect(image.status).toBe(503);
    expect(image.body).toMatchObject({ code: '503 Service Unavailable', title: 'Service Unavailable' });
    const network = await client.network('GET', '/v2.0/networks');
    expect(network.body).toEqual({
      NeutronError: { type: 'HTTPInternalServerError', message: 'Request Failed: internal server error while processing your request.', detail: '' },
    });
    const login = await Client.login(sim).catch((error: Error) => error.message);
    expect(login).toBe('login failed: 500');
  });

  it('skip lets calls through first; * matches every route; reset drops the connection', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    sim.setFailures([{ route: SERVERS, status: 503, skip: 1 }]);
    expect((await client.compute('GET', '/servers/detail')).status).toBe(200);
    expect((await client.compute('GET', '/servers/detail')).status).toBe(503);
    sim.setFailures([{ route: '*', status: 500, times: 2 }]);
    expect((await client.compute('GET', '/flavors/detail')).status).toBe(500);
    expect((await client.image('GET', '/v2/images')).status).toBe(500);
    expect((await client.network('GET', '/v2.0/networks')).status).toBe(200);
    sim.setFailures([{ route: SERVERS, reset: true }]);
    await expect(client.compute('GET', '/servers/detail')).rejects.toThrow();
    expect((await client.compute('GET', '/servers/detail')).status).toBe(200);
  });

  it('latency delays the answer of one route by real time', async () => {
    const sim = await simulator({ latencyMs: { [SERVERS]: 600 } });
    const client = await Client.login(sim);
    let started = Date.now();
    expect((await client.compute('GET', '/servers/detail')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    started = Date.now();
    await client.compute('GET', '/flavors/detail');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('latency runs on the simulator clock: the answer comes when the test moves time', async () => {
    const { sim, clock } = await clockedSimulator();
    const client = await Client.login(sim);
    sim.setLatency(SERVERS, 5000);
    let answered = false;
    const pending = client.compute('GET', '/servers/detail').then((a) => { answered = true; return a; });
    await waitFor(() => (sim.calls(SERVERS) === 1 ? true : undefined), 5000, 'the request to arrive');
    expect(answered).toBe(false);
    clock.increment(5000);
    expect((await pending).status).toBe(200);
  });

  it('a slow response sends the headers, then trickles the body over the given time', async () => {
    const sim = await simulator({ slowResponsesMs: { 'GET /compute/v2.1/flavors/detail': 1000 } });
    const client = await Client.login(sim);
    const started = Date.now();
    const response = await fetch(`${sim.endpoints.compute}/flavors/detail`, { headers: { 'x-auth-token': client.token } });
    const headersAt = Date.now() - started;
    const body = (await response.json()) as { flavors: unknown[] };
    const bodyAt = Date.now() - started;
    expect(response.status).toBe(200);
    expect(body.flavors).toHaveLength(4);
    expect(headersAt).toBeLessThan(700);
    expect(bodyAt).toBeGreaterThanOrEqual(900);
  });

  it('counts calls per METHOD and route template', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const id: string = (await client.createServer({})).body.server.id;
    await client.compute('GET', `/servers/${id}`);
    await client.compute('GET', `/servers/${id}`);
    await client.compute('DELETE', `/servers/${id}`);
    expect(sim.counters()).toEqual({
      'DELETE /compute/v2.1/servers/{id}': 1,
      'GET /compute/v2.1/servers/{id}': 2,
      'POST /compute/v2.1/servers': 1,
      'POST /identity/v3/auth/tokens': 1,
    });
    expect(sim.routes()).toContain('PUT /image/v2/images/{id}/file');
    sim.resetCounters();
    expect(sim.counters()).toEqual({});
  });
});
