/**
 * The clouds the driver contract (contract.test.ts) runs against, each behind
 * its driver: the fake driver in memory and on a state file, and the
 * OpenStack driver over HTTP to the OpenStack simulator on 127.0.0.1. Every
 * cloud runs on a simulated clock that the tests move, so a build or a delete
 * completes when the test says, and nothing sleeps.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import type { Provider } from '../../src/config/types.js';
import type { Clock } from '../../src/core/clock.js';
import type { ProviderDriver } from '../../src/drivers/driver.js';
import { closeFakeClouds, createFakeDriver, seededRandom } from '../../src/drivers/fake/index.js';
import { connectionFor, OpenStackDriver } from '../../src/drivers/openstack/index.js';
import { startOpenStackSimulator } from '../../src/tools/openstack-simulator/index.js';
import { fakeProvider, fakeSettings, tempDir } from './fake/helpers.js';

/** How long the clouds take, on their clock: the same for every target, so the suite reads the same for all. */
export const BUILD_MS = 10_000;
export const DELETE_MS = 5_000;

/**
 * XState's SimulatedClock, knowing which of its timers are pending and when
 * they are due: a call that waits out a latency on the cloud's clock (the
 * fake's create and upload) is let through by moving time to its timer.
 */
export class TestClock implements Clock {
  private readonly sim = new SimulatedClock();
  private readonly due = new Map<unknown, number>();

  constructor(start: number) {
    this.sim.set(start);
  }

  now(): number {
    return this.sim.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle: unknown = this.sim.setTimeout(() => {
      this.due.delete(handle);
      fn();
    }, ms);
    this.due.set(handle, this.now() + ms);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle);
    this.sim.clearTimeout(handle as ReturnType<SimulatedClock['setTimeout']>);
  }

  advance(ms: number): void {
    this.sim.increment(ms);
  }

  /** Moves time to the next pending timer and fires it; false when none is pending. */
  advanceToNextTimer(): boolean {
    if (this.due.size === 0) return false;
    const next = Math.min(...this.due.values());
    this.sim.increment(Math.max(0, next - this.now()));
    return true;
  }
}

/** One cloud with its driver, started for one test. */
export interface ContractCloud {
  readonly driver: ProviderDriver;
  readonly clock: TestClock;
  /** An active image servers boot from. */
  readonly imageId: string;
  setQuota(limits: { instances: number; cores: number; ram: number }): void;
  /** Puts a floating IP into the project, attached to the server's port when one is named. */
  seedFloatingIp(serverId?: string): { id: string; address: string };
  close(): Promise<void>;
}

export interface ContractTarget {
  name: string;
  /** What `capabilities` must say. */
  sharedAcrossProcesses: boolean;
  sshEndpoint(ip: string): { host: string; port: number } | undefined;
  start(): Promise<ContractCloud>;
}

/** A `driver: fake` provider on the given clock; the state file, when asked for, in a fresh directory. */
function fakeTarget(name: string, withStateFile: boolean): ContractTarget {
  return {
    name,
    sharedAcrossProcesses: withStateFile,
    sshEndpoint: () => undefined,
    async start() {
      const clock = new TestClock(Date.now());
      const settings = fakeSettings({
        latency: { create: 1, active: BUILD_MS / 1000, delete: DELETE_MS / 1000, upload: 30 },
        ...(withStateFile && { stateFile: join(tempDir(), 'cloud.json') }),
      });
      const driver = createFakeDriver(fakeProvider('contract', settings), { clock, random: seededRandom(1) });
      const imageId = driver.cloud.addImage('contract-base').id;
      return {
        driver,
        clock,
        imageId,
        setQuota: (quota) => driver.cloud.configure({ ...driver.cloud.settings, quota }),
        seedFloatingIp: (serverId) => driver.cloud.addFloatingIp({ attached: serverId !== undefined }),
        async close() {
          await driver.close();
          await closeFakeClouds();
        },
      };
    },
  };
}

function openStackProvider(): Provider {
  return {
    name: 'contract', driver: 'openstack', cloud: 'sim', maxServers: 10, rate: 0, availabilityZones: [], bootTimeout: 60,
    launchTimeout: 3600, networks: [], ipv6Preferred: false, templateHostname: 't', imageType: 'qcow2', cleanFloatingIps: false,
    images: [], apiTimeout: 10,
  };
}

/** `driver: openstack` through a clouds.yaml, as an operator configures it, at the simulator on 127.0.0.1. */
const openStackTarget: ContractTarget = {
  name: 'openstack driver against the OpenStack simulator',
  sharedAcrossProcesses: true,
  sshEndpoint: (ip) => ({ host: ip, port: 22 }),
  async start() {
    const clock = new TestClock(Date.now());
    const sim = await startOpenStackSimulator({ clock, timings: { activeMs: BUILD_MS, deleteMs: DELETE_MS } });
    const dir = tempDir();
    const file = join(dir, 'clouds.yaml');
    writeFileSync(file, sim.cloudsYaml('sim'));
    const provider = openStackProvider();
    const driver = new OpenStackDriver(provider, {
      connection: connectionFor(provider, { env: { OS_CLIENT_CONFIG_FILE: file }, cwd: dir, homeDir: dir, systemDir: dir }),
    });
    const imageId = sim.seedImage({ name: 'contract-base' }).id;
    let floating = 0;
    return {
      driver,
      clock,
      imageId,
      setQuota: (quota) => sim.setQuota(quota),
      seedFloatingIp(serverId) {
        floating += 1;
        const address = `127.99.0.${floating}`;
        return { id: sim.seedFloatingIp({ floatingIpAddress: address, ...(serverId !== undefined && { serverId }) }).id, address };
      },
      async close() {
        await driver.close();
        await sim.close();
      },
    };
  },
};

export const CONTRACT_TARGETS: readonly ContractTarget[] = [
  fakeTarget('fake driver without a state file', false),
  fakeTarget('fake driver with a state file', true),
  openStackTarget,
];
