/**
 * The provider gateway: one rate-spaced queue for the calls that change the
 * cloud, a lane of its own for the one list of all servers, and every call
 * reported on one stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver } from '../../src/drivers/fake/index.js';
import { GatewayRegistry, type CloudCall } from '../../src/gateway/index.js';
import { Logging } from '../../src/log/index.js';
import { flush } from '../support/deferred.js';
import { fakeProvider, simCloud } from '../drivers/fake/helpers.js';

const registries: GatewayRegistry[] = [];
afterEach(async () => {
  for (const r of registries.splice(0)) await r.close();
});

function world(rate: number) {
  const sim = simCloud({ latency: { create: 0, active: 10, delete: 0 } });
  const registry = new GatewayRegistry({ logging: new Logging(), clock: sim.clock, makeDriver: () => new FakeDriver(sim.cloud, 'p') });
  registries.push(registry);
  const gateway = registry.open({ ...fakeProvider('p', sim.cloud.settings), rate });
  const calls: CloudCall[] = [];
  registry.calls.subscribe((c) => calls.push(c));
  const create = (n: number) =>
    gateway.call('createServer', (d) => d.createServer({ name: `n${n}`, imageId: sim.imageId, flavorId: 'm1.small', metadata: {} }));
  return { ...sim, gateway, calls, create };
}

describe('a provider gateway', () => {
  it('spaces the calls that change the cloud by the rate, in the order asked', async () => {
    const w = world(1);
    const done: number[] = [];
    for (const n of [1, 2, 3]) void w.create(n).then(() => done.push(n));
    await flush();
    expect(done).toEqual([1]);
    w.clock.increment(999);
    await flush();
    expect(done).toEqual([1]);
    w.clock.increment(1);
    await flush();
    expect(done).toEqual([1, 2]);
    w.clock.increment(1000);
    await flush();
    expect(done).toEqual([1, 2, 3]);
  });

  it('lists the servers at once, however many creates wait their turn', async () => {
    const w = world(1);
    for (const n of [1, 2, 3, 4, 5]) void w.create(n);
    await flush();
    let listed: number | undefined;
    void w.gateway.listServers().then((servers) => (listed = servers.length));
    await flush();
    // No time has passed: only the first create ran, and the list did not wait behind the other four.
    expect(listed).toBe(1);
    expect(w.cloud.calls.createServer).toBe(1);
  });

  it('reports every call with its operation, outcome, wait and duration', async () => {
    const w = world(1);
    void w.create(1);
    void w.create(2);
    await flush();
    w.clock.increment(1000);
    await flush();
    const failing = w.gateway.call('deleteServer', () => Promise.reject(new Error('boom')));
    failing.catch(() => {});
    w.clock.increment(1000);
    await expect(failing).rejects.toThrow('boom');
    expect(w.calls.map((c) => [c.operation, c.outcome, c.waitedMs])).toEqual([
      ['createServer', 'ok', 0],
      ['createServer', 'ok', 1000],
      ['deleteServer', 'error', 1000],
    ]);
    expect(w.calls[2]?.errorKind).toBe('other');
  });
});
