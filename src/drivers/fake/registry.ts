import { resolve } from 'node:path';
import { DEFAULT_FAKE_CLOUD } from '../../config/defaults.js';
import type { FakeCloudSettings, Provider } from '../../config/types.js';
import type { Clock } from '../../core/clock.js';
import { FakeCloud } from './cloud.js';
import { FakeDriver } from './fake-driver.js';

export interface FakeDriverOptions {
  clock?: Clock;
  random?: () => number;
}

interface Entry {
  cloud: FakeCloud;
  drivers: number;
}

/**
 * The fake clouds of this process. Providers that name the same state file
 * (or, without one, have the same name) reach the same cloud, so the builder
 * and the launcher inside one nodepoold see the same images and servers.
 */
const clouds = new Map<string, Entry>();

function keyOf(provider: Provider): string {
  const file = provider.fake?.stateFile;
  return file === undefined ? `provider:${provider.name}` : `file:${resolve(file)}`;
}

function settingsOf(provider: Provider): FakeCloudSettings {
  return provider.fake ?? DEFAULT_FAKE_CLOUD;
}

/**
 * The cloud a fake provider talks to, created on first use. A later caller
 * brings the provider's current settings (latencies, rates, quota, flavors),
 * which replace the cloud's; its clock and random are those of the first caller.
 */
export function fakeCloudFor(provider: Provider, options: FakeDriverOptions = {}): FakeCloud {
  return entryFor(provider, options).cloud;
}

function entryFor(provider: Provider, options: FakeDriverOptions): Entry {
  const key = keyOf(provider);
  const existing = clouds.get(key);
  if (existing && !existing.cloud.closed) {
    existing.cloud.configure(settingsOf(provider));
    return existing;
  }
  const entry = { cloud: new FakeCloud(settingsOf(provider), { ...options, name: provider.name }), drivers: 0 };
  clouds.set(key, entry);
  return entry;
}

/** A driver for a `driver: fake` provider; closing the last driver of a cloud closes the cloud. */
export function createFakeDriver(provider: Provider, options: FakeDriverOptions = {}): FakeDriver {
  const key = keyOf(provider);
  const entry = entryFor(provider, options);
  entry.drivers += 1;
  return new FakeDriver(entry.cloud, provider.name, async () => {
    entry.drivers -= 1;
    if (entry.drivers > 0) return;
    if (clouds.get(key) === entry) clouds.delete(key);
    await entry.cloud.close();
  });
}

/** Closes every fake cloud of the process (tests, and a daemon's last act). */
export async function closeFakeClouds(): Promise<void> {
  const entries = [...clouds.values()];
  clouds.clear();
  await Promise.all(entries.map((e) => e.cloud.close()));
}
