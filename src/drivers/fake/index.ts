export { FakeCloud, FAKE_OPERATIONS, NO_VALID_HOST, type FakeCloudOptions, type FakeOperation } from './cloud.js';
export { FakeDriver, fakeCapabilities } from './fake-driver.js';
export { createFakeDriver, fakeCloudFor, closeFakeClouds, type FakeDriverOptions } from './registry.js';
export { seededRandom } from '../../simulated-cloud/random.js';
export { FakeStateFileError } from './store.js';
export { NOVA_METADATA_LIMITS } from './server-request.js';
export type { FakeCloudState, StoredServer, StoredImage, StoredFloatingIp, BuildOutcome } from './state.js';
export { fakeDriverKind } from './kind.js';
