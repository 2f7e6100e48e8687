/**
 * How the builder reaches the providers' clouds. Inside nodepoold it goes
 * through the node side's provider runtimes (one driver and one rate-spaced
 * queue per provider, shared with the node actors, so `rate` holds for the
 * whole process); a standalone nodepool-builder keeps its own.
 */
import type { Provider } from '../config/types.js';
import type { ProviderDriver } from '../drivers/driver.js';
import { createDriver } from '../drivers/factory.js';
import type { Clock } from '../runtime/clock.js';
import { RateQueue } from '../runtime/rate-queue.js';

export interface CloudAccess {
  /** Runs `call` with the provider's driver, in its turn in the provider's queue. */
  call<T>(provider: Provider, operation: string, call: (driver: ProviderDriver) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A driver and a queue per provider, made on first use and remade when the provider's settings change. */
export class OwnDrivers implements CloudAccess {
  private readonly providers = new Map<string, { settings: string; driver: ProviderDriver; queue: RateQueue }>();

  constructor(private readonly clock: Clock) {}

  call<T>(provider: Provider, operation: string, call: (driver: ProviderDriver) => Promise<T>): Promise<T> {
    const entry = this.entryFor(provider);
    return entry.queue.run(operation, () => call(entry.driver));
  }

  private entryFor(provider: Provider) {
    const settings = connectionSettings(provider);
    let entry = this.providers.get(provider.name);
    if (entry && entry.settings !== settings) {
      void entry.driver.close();
      entry = undefined;
    }
    if (!entry) {
      entry = { settings, driver: createDriver(provider, { clock: this.clock }), queue: new RateQueue(provider.rate * 1000, this.clock) };
      this.providers.set(provider.name, entry);
    }
    entry.queue.setInterval(provider.rate * 1000);
    return entry;
  }

  async close(): Promise<void> {
    await Promise.all([...this.providers.values()].map((e) => e.driver.close()));
    this.providers.clear();
  }
}

/** What the driver is made from: a change of limits, rate or images keeps the driver. */
function connectionSettings(provider: Provider): string {
  const { images: _images, rate: _rate, maxServers: _maxServers, ...connection } = provider;
  return JSON.stringify(connection);
}

/** What nodepoold shares of a provider: its driver and its rate-spaced queue. */
export interface SharedProvider {
  driver: ProviderDriver;
  queue: RateQueue;
}

/**
 * The builder inside nodepoold: calls go through the node side's driver and
 * queue of the provider (one simulated cloud, one `rate` for the process);
 * a provider the node side has no driver for gets one of the builder's own.
 */
export class SharedDrivers implements CloudAccess {
  private readonly own: OwnDrivers;

  constructor(
    private readonly lookup: (provider: string) => SharedProvider | undefined,
    clock: Clock,
  ) {
    this.own = new OwnDrivers(clock);
  }

  call<T>(provider: Provider, operation: string, call: (driver: ProviderDriver) => Promise<T>): Promise<T> {
    const shared = this.lookup(provider.name);
    return shared ? shared.queue.run(operation, () => call(shared.driver)) : this.own.call(provider, operation, call);
  }

  close(): Promise<void> {
    return this.own.close();
  }
}
