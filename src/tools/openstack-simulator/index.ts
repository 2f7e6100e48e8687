export { startOpenStackSimulator, type OpenStackSimulator } from './simulator.js';
export type {
  ApplicationCredentialSeed, FlavorSeed, FloatingIpSeed, ImageSeed, KeypairSeed, NetworkSeed,
  OpenStackSimulatorOptions, QuotaLimits, Timings, UserSeed,
} from './options.js';
export type { FailureRule, RequestRecord } from './faults.js';
export type { ImageSnapshot, ServerSnapshot } from './inspection.js';
export type { Endpoints } from './router.js';
export { NO_VALID_HOST } from './nova-server-create.js';
