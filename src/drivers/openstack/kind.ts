/** `driver: openstack` as src/drivers/factory.ts lists it. */
import type { Provider } from '../../config/types.js';
import { OpenStackDriver } from './driver.js';

export const openstackDriverKind = {
  name: 'openstack' as const,
  create: (provider: Provider) => new OpenStackDriver(provider),
};
