/** The driver for a configured provider: the one place that knows which driver kinds exist. */
import type { Provider } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { ProviderDriver } from './driver.js';
import { createFakeDriver } from './fake/index.js';
import { OpenStackDriver } from './openstack/index.js';

export interface DriverOptions {
  /** Time for the simulated cloud's latencies and transitions; default the system clock. */
  clock?: Clock;
}

/**
 * A provider's driver. Throws a DriverError (kind `auth`) when the provider's
 * settings cannot make one, e.g. an openstack provider without credentials
 * or a `cloud:` that clouds.yaml does not define.
 */
export function createDriver(provider: Provider, options: DriverOptions = {}): ProviderDriver {
  switch (provider.driver) {
    case 'fake':
      return createFakeDriver(provider, { clock: options.clock });
    case 'openstack':
      return new OpenStackDriver(provider);
  }
}
