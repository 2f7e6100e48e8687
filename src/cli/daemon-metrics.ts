/**
 * A daemon's metrics (docs/metrics.md): one PoolMetrics per process, fed by
 * its workloads and by every cloud call of its gateways, kept for /metrics
 * when the status web server runs, and sent to statsd when STATSD_HOST is
 * set.
 */
import { systemClock } from '../core/clock.js';
import { openPoolMetrics, type PoolMetrics } from '../metrics/index.js';
import type { PreparedDaemon } from './daemon-programs.js';

export function daemonMetrics({ logging, statsd }: PreparedDaemon, served: boolean): Promise<PoolMetrics> {
  const log = logging.get('nodepool.stats');
  if (statsd) log.info({ host: statsd.host, port: statsd.port, prefix: statsd.prefix }, `statsd: sending metrics to ${statsd.host}:${statsd.port}`);
  return openPoolMetrics({ clock: systemClock, log, prometheus: served, ...(statsd && { statsd }) });
}
