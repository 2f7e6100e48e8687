/** `driver: fake` as src/drivers/factory.ts lists it. */
import type { Provider } from '../../config/types.js';
import type { Clock } from '../../core/clock.js';
import { createFakeDriver } from './registry.js';

export const fakeDriverKind = {
  name: 'fake' as const,
  create: (provider: Provider, options: { clock?: Clock }) => createFakeDriver(provider, { clock: options.clock }),
};
