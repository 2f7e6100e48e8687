/** Builders for fake clouds on a simulated clock: settings, providers, time moved by hand. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import type { FakeCloudSettings, Provider } from '../../../src/config/types.js';
import type { CreateServerRequest } from '../../../src/drivers/driver.js';
import { FakeCloud, seededRandom } from '../../../src/drivers/fake/index.js';

type Overrides = {
  latency?: Partial<FakeCloudSettings['latency']>;
  failureRate?: Partial<FakeCloudSettings['failureRate']>;
  quota?: Partial<FakeCloudSettings['quota']>;
  flavors?: FakeCloudSettings['flavors'];
  stateFile?: string;
};

/** Latencies in seconds: creating takes 1, booting 10, deleting 5, uploading 30; nothing fails. */
export function fakeSettings(o: Overrides = {}): FakeCloudSettings {
  return {
    latency: { create: 1, active: 10, delete: 5, upload: 30, ...o.latency },
    failureRate: { create: 0, errorStatus: 0, stuckInBuild: 0, delete: 0, upload: 0, ...o.failureRate },
    quota: { instances: 10, cores: 40, ram: 81920, ...o.quota },
    flavors: o.flavors ?? [
      { name: 'm1.small', ram: 2048, vcpus: 1 },
      { name: 'm1.large', ram: 8192, vcpus: 4 },
    ],
    ...(o.stateFile !== undefined && { stateFile: o.stateFile }),
  };
}

export function fakeProvider(name: string, fake: FakeCloudSettings): Provider {
  return {
    name, driver: 'fake', maxServers: 10, rate: 1, availabilityZones: [], bootTimeout: 120, launchTimeout: 3600,
    networks: [], ipv6Preferred: false, templateHostname: '{image.name}-{timestamp}.template.openstack.org',
    imageType: 'qcow2', cleanFloatingIps: false, images: [], fake,
  };
}

export interface Sim {
  clock: SimulatedClock;
  cloud: FakeCloud;
  imageId: string;
}

/** A cloud on a simulated clock with seeded randomness and one image, `trusty`, already there. */
export function simCloud(o: Overrides = {}, seed = 42): Sim {
  const clock = new SimulatedClock();
  const cloud = new FakeCloud(fakeSettings(o), { clock, random: seededRandom(seed), name: 'fake-provider' });
  const imageId = cloud.addImage('trusty', { distro: 'ubuntu' }).id;
  return { clock, cloud, imageId };
}

export function serverRequest(imageId: string, extra: Partial<CreateServerRequest> = {}): CreateServerRequest {
  return {
    name: 'trusty-fake-provider-1',
    imageId,
    flavorId: 'm1.small',
    metadata: {
      groups: '["trusty","fake-provider"]',
      nodepool: '{"image_name":"trusty","provider_name":"fake-provider","node_id":1}',
    },
    ...extra,
  };
}

/** Lets promise callbacks and pending I/O callbacks run (one turn of the event loop). */
export async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Moves simulated time forward by `seconds`, letting callbacks run before and after. */
export async function advance(clock: SimulatedClock, seconds: number): Promise<void> {
  await settle();
  clock.increment(seconds * 1000);
  await settle();
}

/** Waits (in real time, bounded) for a condition that depends on real I/O finishing. */
export async function until(condition: () => boolean, what: string, boundMs = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > boundMs) throw new Error(`timed out waiting for ${what}`);
    await settle();
  }
}

/** Creates a server, moving the clock over the create latency. */
export async function createNow(sim: Sim, extra: Partial<CreateServerRequest> = {}): Promise<string> {
  const pending = sim.cloud.createServer(serverRequest(sim.imageId, extra));
  await advance(sim.clock, sim.cloud.settings.latency.create);
  return (await pending).id;
}

const dirs: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-fake-'));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
