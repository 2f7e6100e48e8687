/**
 * The driver kinds, and the driver for a configured provider. A kind of
 * cloud is one folder under src/drivers/ that exports its `DriverKind`; it
 * is listed here once. Nothing else in the code asks which kind a driver
 * is: what differs is in its `capabilities` (src/drivers/driver.ts).
 */
import type { Provider, ProviderDriver as DriverName } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { ProviderDriver } from './driver.js';
import { fakeDriverKind } from './fake/index.js';
import { openstackDriverKind } from './openstack/index.js';

export interface DriverOptions {
  /** Time for the simulated cloud's latencies and transitions; default the system clock. */
  clock?: Clock;
}

/** One kind of cloud: the `driver:` value that names it, and how a provider's driver is made. */
export interface DriverKind {
  name: DriverName;
  create(provider: Provider, options: DriverOptions): ProviderDriver;
}

const KINDS: readonly DriverKind[] = [openstackDriverKind, fakeDriverKind];

/**
 * A provider's driver. Throws a DriverError (kind `auth`) when the provider's
 * settings cannot make one, e.g. an openstack provider without credentials
 * or a `cloud:` that clouds.yaml does not define.
 */
export function createDriver(provider: Provider, options: DriverOptions = {}): ProviderDriver {
  const kind = KINDS.find((k) => k.name === provider.driver);
  if (!kind) throw new Error(`no driver of kind ${provider.driver} (known: ${KINDS.map((k) => k.name).join(', ')})`);
  return kind.create(provider, options);
}
