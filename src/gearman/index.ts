/** The Gearman binary protocol: a client that submits jobs and a worker that grabs them when asked. */
export { GearmanClient, DEFAULT_JOB_TIMEOUT_MS, DEFAULT_QUEUE_TIMEOUT_MS } from './client.js';
export type { SubmitJobOptions, SubmitBackgroundJobOptions } from './client.js';
export { GearmanWorker, DEFAULT_WORKER_TIMEOUT_MS } from './worker.js';
export type { GearmanJob, GearmanWorkerOptions } from './worker.js';
export { serverName, DEFAULT_CONNECT_TIMEOUT_MS } from './connection.js';
export type { GearmanAddress } from './connection.js';
export { GearmanError, GearmanJobFailed } from './errors.js';
export type { GearmanErrorKind } from './errors.js';
