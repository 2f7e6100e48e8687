import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { call, post, simulator } from './helpers.js';

const INFO = 'GET /computer/{name}/api/json';

describe('fault injection and inspection of the Jenkins simulator', () => {
  it('lists its routes, and the next N requests fail with the status asked, then it works again', async () => {
    const sim = await simulator({ agents: [{ name: 'n' }] });
    expect(sim.routes()).toEqual([
      'GET /crumbIssuer/api/json', 'GET /computer/', 'GET /computer/api/json', 'POST /computer/doCreateItem',
      'GET /computer/{name}/api/json', 'POST /computer/{name}/doDelete', 'POST /job/{name}/buildWithParameters',
    ]);
    sim.failNext(2, 500);
    for (let i = 0; i < 2; i += 1) {
      const failed = await call(sim, 'GET', 'computer/n/api/json');
      expect(failed.status).toBe(500);
      expect(failed.text).toContain('HTTP ERROR 500 Internal Server Error');
    }
    expect((await call(sim, 'GET', 'computer/n/api/json')).status).toBe(200);
    expect(sim.calls(INFO)).toBe(3);
    expect(sim.requests().map((r) => [r.route, r.status, r.path])).toEqual([
      [INFO, 500, '/computer/n/api/json'], [INFO, 500, '/computer/n/api/json'], [INFO, 200, '/computer/n/api/json'],
    ]);
    expect(sim.pendingFailures()).toEqual([]);
  });

  it('a failure for one route leaves the others alone; counters reset', async () => {
    const sim = await simulator({ agents: [{ name: 'n' }] });
    sim.failNext(1, 503, 'POST /computer/{name}/doDelete');
    expect((await call(sim, 'GET', 'crumbIssuer/api/json')).status).toBe(200);
    expect((await post(sim, 'computer/n/doDelete')).status).toBe(503);
    expect(sim.agent('n')).toBeDefined();
    expect((await post(sim, 'computer/n/doDelete')).status).toBe(302);
    expect(sim.counters()).toEqual({ 'GET /crumbIssuer/api/json': 1, 'POST /computer/{name}/doDelete': 2 });
    sim.failNext(5, 500, INFO);
    sim.clearFailures();
    sim.resetCounters();
    expect([sim.counters(), sim.requests(), sim.pendingFailures()]).toEqual([{}, [], []]);
  });

  it('reset drops the connection; hang never answers', async () => {
    const sim = await simulator({ agents: [{ name: 'n' }] });
    sim.failNext(1, 'reset');
    await expect(call(sim, 'GET', 'computer/n/api/json')).rejects.toThrow(/other side closed|socket/i);
    sim.failNext(1, 'hang');
    const hung = request(new URL('computer/n/api/json', sim.url), { signal: AbortSignal.timeout(150) });
    await expect(hung).rejects.toThrow(/abort|timeout/i);
    expect(sim.requests().map((r) => r.status)).toEqual([0, 0]);
    expect((await call(sim, 'GET', 'computer/n/api/json')).status).toBe(200);
  });

  it('down refuses connections on its port and up serves again with the same state', async () => {
    const sim = await simulator({ agents: [{ name: 'n' }] });
    await sim.down();
    await expect(call(sim, 'GET', 'computer/n/api/json')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await sim.up();
    expect((await call(sim, 'GET', 'computer/n/api/json')).status).toBe(200);
  });

  it('serves under a context path and nothing outside it', async () => {
    const sim = await simulator({ contextPath: '/jenkins', agents: [{ name: 'n' }] });
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}/jenkins/`);
    expect((await call(sim, 'GET', 'computer/n/api/json')).status).toBe(200);
    expect((await call(sim, 'GET', '/computer/n/api/json')).status).toBe(404);
    const deleted = await post(sim, 'computer/n/doDelete');
    expect(deleted.headers.location).toBe(`${sim.url}computer/`);
  });
});
