/**
 * The daemons' metrics: Prometheus (prom-client) and statsd (hot-shots), each
 * loaded only when a daemon uses it (docs/metrics.md).
 */
export {
  openPoolMetrics, PoolMetrics,
  type BuildEnded, type CloudCallEnded, type ClusterState, type ImageSources, type JobSucceeded, type LaunchEnded, type NodeDeleted, type NodeSources, type UploadEnded,
} from './pool-metrics.js';
export type { PrometheusMetrics } from './prometheus-metrics.js';
export { statsdSettingsFrom, DEFAULT_STATSD_PORT, type StatsdSettings } from './statsd-settings.js';
export type { StatsdReporter } from './statsd-reporter.js';
export type { LaunchResult, NodeTally } from './statsd-keys.js';
