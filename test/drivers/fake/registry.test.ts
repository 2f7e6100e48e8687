import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../../src/core/clock.js';
import { DriverError } from '../../../src/drivers/driver.js';
import {
  closeFakeClouds, createFakeDriver, FakeCloud, fakeCloudFor, seededRandom,
} from '../../../src/drivers/fake/index.js';
import { advance, fakeProvider, fakeSettings, removeTempDirs, serverRequest, tempDir } from './helpers.js';

afterEach(async () => {
  await closeFakeClouds();
  removeTempDirs();
});

/** A SimulatedClock that also knows which of its timeouts are still pending. */
class CountingClock implements Clock {
  readonly sim = new SimulatedClock();
  private readonly live = new Set<unknown>();
  get pending(): number { return this.live.size; }
  now(): number { return this.sim.now(); }
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = this.sim.setTimeout(() => { this.live.delete(handle); fn(); }, ms);
    this.live.add(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.live.delete(handle);
    this.sim.clearTimeout(handle as number);
  }
}

describe('fake drivers and the registry', () => {
  it('two providers naming the same state file share one cloud', async () => {
    const clock = new SimulatedClock();
    const stateFile = join(tempDir(), 'cloud.json');
    const launcher = createFakeDriver(fakeProvider('fake-a', fakeSettings({ stateFile, latency: { create: 0 } })), { clock });
    const builder = createFakeDriver(fakeProvider('fake-b', fakeSettings({ stateFile })), { clock });
    expect(builder.cloud).toBe(launcher.cloud);

    const imageId = fakeCloudFor(fakeProvider('fake-a', fakeSettings({ stateFile, latency: { create: 0 } }))).addImage('trusty').id;
    const { id } = await launcher.createServer(serverRequest(imageId));
    expect((await builder.listServers()).map((s) => s.id)).toEqual([id]);
  });

  it('without a state file the provider name picks the cloud', () => {
    const a1 = createFakeDriver(fakeProvider('a', fakeSettings()));
    const a2 = createFakeDriver(fakeProvider('a', fakeSettings()));
    const b = createFakeDriver(fakeProvider('b', fakeSettings()));
    expect(a2.cloud).toBe(a1.cloud);
    expect(b.cloud).not.toBe(a1.cloud);
  });

  it('a later provider\'s settings replace the shared cloud\'s (a configuration reload)', () => {
    const first = createFakeDriver(fakeProvider('p', fakeSettings({ quota: { instances: 1 } })));
    createFakeDriver(fakeProvider('p', fakeSettings({ quota: { instances: 7 } })));
    expect(first.cloud.settings.quota.instances).toBe(7);
  });

  it('the cloud closes with its last driver, and a state file carries it into the next one', async () => {
    const stateFile = join(tempDir(), 'cloud.json');
    const provider = fakeProvider('p', fakeSettings({ stateFile }));
    const one = createFakeDriver(provider, { clock: new SimulatedClock() });
    const two = createFakeDriver(provider);
    one.cloud.addImage('trusty');
    await one.close();
    expect(two.cloud.closed).toBe(false);
    await expect(one.listImages()).rejects.toMatchObject({ kind: 'unavailable' });
    await two.close();
    expect(two.cloud.closed).toBe(true);

    const three = createFakeDriver(provider);
    expect(three.cloud).not.toBe(two.cloud);
    expect((await three.listImages()).map((i) => i.name)).toEqual(['trusty']);
  });

  it('driver errors name the provider', async () => {
    const driver = createFakeDriver(fakeProvider('rax-dfw', fakeSettings({ latency: { create: 0 } })));
    const error = await driver.createServer(serverRequest('missing')).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect(error).toMatchObject({ kind: 'bad-request', details: { provider: 'rax-dfw', status: 400 } });
    expect((error as Error).message).toBe('rax-dfw: Image missing could not be found.');
  });

  it('counts every call by operation, for API calls per node lifecycle', async () => {
    const clock = new SimulatedClock();
    const driver = createFakeDriver(fakeProvider('p', fakeSettings({ latency: { create: 0, delete: 0 } })), { clock });
    const cloud = driver.cloud;
    const imageId = cloud.addImage('trusty').id;
    const { id } = await driver.createServer(serverRequest(imageId));
    await driver.listServers();
    await driver.listServers();
    await driver.deleteServer(id);
    await driver.listServers();
    await driver.createServer(serverRequest('missing')).catch(() => undefined);
    expect(cloud.calls).toMatchObject({ createServer: 2, listServers: 3, deleteServer: 1, listImages: 0 });
    expect(cloud.totalCalls).toBe(6);
    cloud.resetCalls();
    expect(cloud.totalCalls).toBe(0);
  });
});

describe('closing a fake cloud', () => {
  it('cancels pending timers and fails the calls waiting on them', async () => {
    const clock = new CountingClock();
    const cloud = new FakeCloud(fakeSettings(), { clock, random: seededRandom(3) });
    const imageId = cloud.addImage('trusty').id;
    const create = cloud.createServer(serverRequest(imageId)).then(() => undefined, (e: unknown) => e);
    expect(clock.pending).toBe(1);
    expect(cloud.pendingTimers).toBe(1);

    await cloud.close();
    expect(clock.pending).toBe(0);
    expect(cloud.pendingTimers).toBe(0);
    expect(await create).toMatchObject({ kind: 'unavailable', message: 'The fake cloud is closed' });
    await expect(cloud.listServers()).rejects.toMatchObject({ kind: 'unavailable' });
    await advance(clock.sim, 3600);
  });

  it('on the real clock, a waiting call does not keep the process alive', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const cloud = new FakeCloud(fakeSettings({ latency: { create: 3600 } }), { clock: systemClock });
    const imageId = cloud.addImage('trusty').id;
    const create = cloud.createServer(serverRequest(imageId)).then(() => undefined, (e: unknown) => e);
    expect(cloud.pendingTimers).toBe(1);
    expect(timers()).toBe(before);
    await cloud.close();
    expect(await create).toMatchObject({ kind: 'unavailable' });
    expect(cloud.pendingTimers).toBe(0);
  });
});
