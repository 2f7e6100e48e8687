/**
 * The model of a simulated cloud that the fake driver's cloud
 * (src/drivers/fake/) and the OpenStack simulator
 * (src/tools/openstack-simulator/) share: how a server's and an image's
 * status follow from their times, and how quota is counted and checked.
 * No I/O; its one source of time is the clock it is given (TimedWaits).
 * It imports only src/core/ and src/config/types.ts.
 */
export {
  BUILD_STATUS, buildPhase, buildSeenAt, isGone, requestDelete, serverPhase, shownBuildPhase, startServerLife,
  type BuildOutcome, type BuildPhase, type BuildStatus, type ServerLife, type ServerPhase,
} from './server-life.js';
export { imageStatus, type ImageLife, type ImageLifeStatus } from './image-life.js';
export { quotaExceeded, quotaUsage, type QuotaLimits, type QuotaUsage, type ServerSize } from './quota.js';
export { NOVA_METADATA_LIMITS } from './metadata-limits.js';
export { seededRandom } from './random.js';
export { TimedWaits } from './timed-waits.js';
