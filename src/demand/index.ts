/** Demand from the Gearman servers: one status request, queued work per label, and the stream that polls them. */
export { gearmanStatus, parseStatusRow, serverName, GearmanStatusError, StatusLineError, DEFAULT_STATUS_TIMEOUT_MS } from './gearman-status.js';
export type { GearmanServerAddress, GearmanStatusOptions, GearmanStatusRow } from './gearman-status.js';
export { labelDemand, readBuildFunction } from './label-demand.js';
export type { BuildFunction } from './label-demand.js';
export { gearmanDemand, DEFAULT_DEMAND_INTERVAL_MS } from './gearman-demand.js';
export type { GearmanDemandOptions } from './gearman-demand.js';
