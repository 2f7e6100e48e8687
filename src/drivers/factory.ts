/** The driver for a configured provider: the one place that knows which driver kinds exist. */
import type { Provider } from '../config/types.js';
import type { Clock } from '../runtime/clock.js';
import type { ProviderDriver } from './driver.js';
import { createFakeDriver } from './fake/index.js';

export interface DriverOptions {
  /** Time for the simulated cloud's latencies and transitions; default the system clock. */
  clock?: Clock;
}

/** A driver kind the configuration accepts but this version cannot drive yet. */
export class DriverUnavailable extends Error {
  constructor(readonly driver: string) {
    super(`driver ${driver} is not available yet`);
    this.name = 'DriverUnavailable';
  }
}

export function createDriver(provider: Provider, options: DriverOptions = {}): ProviderDriver {
  switch (provider.driver) {
    case 'fake':
      return createFakeDriver(provider, { clock: options.clock });
    default:
      throw new DriverUnavailable(provider.driver);
  }
}
