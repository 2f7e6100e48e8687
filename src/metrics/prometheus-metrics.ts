/**
 * The Prometheus metrics of a daemon (docs/metrics.md lists each with the
 * questions it answers), in a registry of their own so that two daemons in
 * one process, or two tests, never share counters. prom-client writes the
 * text format and the process metrics (CPU, memory, event loop, handles).
 *
 * Label values are bounded: providers, labels, images, targets, states,
 * operations, outcomes and reasons, never a node, build or job id.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: from a second (a simulated cloud) to an hour (launch-timeout's default). */
const LAUNCH_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds: a cloud call answers in milliseconds to a minute (api-timeout). */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: an image build or upload takes minutes to hours. */
const IMAGE_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

export class PrometheusMetrics {
  readonly registry = new Registry();

  readonly nodes = new Gauge({
    name: 'nodepool_nodes',
    help: 'Nodes in the database by provider, label and state.',
    labelNames: ['provider', 'label', 'state'] as const,
    registers: [this.registry],
  });

  readonly launches = new Counter({
    name: 'nodepool_launches_total',
    help: 'Node launches that ended, by provider, label and result (ready, or the failure reason: timeout, status, network, auth, other).',
    labelNames: ['provider', 'label', 'result'] as const,
    registers: [this.registry],
  });

  readonly launchSeconds = new Histogram({
    name: 'nodepool_launch_duration_seconds',
    help: 'From the node being requested to its launch ending (ready or failed), by provider, label and result.',
    labelNames: ['provider', 'label', 'result'] as const,
    buckets: LAUNCH_BUCKETS,
    registers: [this.registry],
  });

  readonly deletes = new Counter({
    name: 'nodepool_deletes_total',
    help: 'Nodes deleted (their server gone and their record removed), by provider and label.',
    labelNames: ['provider', 'label'] as const,
    registers: [this.registry],
  });

  readonly deleteSeconds = new Histogram({
    name: 'nodepool_delete_duration_seconds',
    help: 'From a node entering the delete state to its removal, by provider.',
    labelNames: ['provider'] as const,
    buckets: LAUNCH_BUCKETS,
    registers: [this.registry],
  });

  readonly cloudCalls = new Counter({
    name: 'nodepool_cloud_api_calls_total',
    help: 'Calls to a provider\'s cloud, by provider, operation and outcome (ok, or the kind of error).',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly cloudCallSeconds = new Histogram({
    name: 'nodepool_cloud_api_call_duration_seconds',
    help: 'How long the cloud took to answer a call, by provider and operation.',
    labelNames: ['provider', 'operation'] as const,
    buckets: CALL_BUCKETS,
    registers: [this.registry],
  });

  readonly rateWaitSeconds = new Histogram({
    name: 'nodepool_rate_queue_wait_seconds',
    help: 'How long a cloud call waited for its turn in the provider\'s rate queue, by provider.',
    labelNames: ['provider'] as const,
    buckets: CALL_BUCKETS,
    registers: [this.registry],
  });

  readonly maxServers = new Gauge({
    name: 'nodepool_provider_max_servers',
    help: 'The provider\'s max-servers.',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly quotaHeadroom = new Gauge({
    name: 'nodepool_provider_quota_headroom_servers',
    help: 'How many more servers the cloud\'s quota lets the provider start, as last asked (absent when the cloud does not say).',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly minReady = new Gauge({
    name: 'nodepool_label_min_ready',
    help: 'The label\'s min-ready.',
    labelNames: ['label'] as const,
    registers: [this.registry],
  });

  readonly demand = new Gauge({
    name: 'nodepool_label_demand',
    help: 'Queued work for the label, as the Gearman servers last reported it.',
    labelNames: ['label'] as const,
    registers: [this.registry],
  });

  readonly daemonInfo = new Gauge({
    name: 'nodepool_daemon_info',
    help: 'Each nodepoold sharing the database (its row in the daemon table), 1, by daemon (host:pid), host, pid and state (alive, draining, dead).',
    labelNames: ['daemon', 'host', 'pid', 'state'] as const,
    registers: [this.registry],
  });

  readonly daemonStartTime = new Gauge({
    name: 'nodepool_daemon_start_time_seconds',
    help: 'When each nodepoold sharing the database started, in seconds since the epoch, by daemon (host:pid).',
    labelNames: ['daemon'] as const,
    registers: [this.registry],
  });

  readonly providerOwner = new Gauge({
    name: 'nodepool_provider_owner',
    help: 'The nodepoold driving each provider (the holder of its lease), 1, by provider and daemon (host:pid).',
    labelNames: ['provider', 'daemon'] as const,
    registers: [this.registry],
  });

  readonly daemonProviders = new Gauge({
    name: 'nodepool_daemon_providers',
    help: 'How many providers each nodepoold drives now (provider leases it holds), by daemon (host:pid).',
    labelNames: ['daemon'] as const,
    registers: [this.registry],
  });

  readonly builds = new Gauge({
    name: 'nodepool_image_builds',
    help: 'Image builds in the database by image and state.',
    labelNames: ['image', 'state'] as const,
    registers: [this.registry],
  });

  readonly uploads = new Gauge({
    name: 'nodepool_image_uploads',
    help: 'Image uploads in the database by image, provider and state.',
    labelNames: ['image', 'provider', 'state'] as const,
    registers: [this.registry],
  });

  readonly buildSeconds = new Histogram({
    name: 'nodepool_image_build_duration_seconds',
    help: 'Image builds that ended in this process, by image and result (ready, or the failure reason), from the build\'s start.',
    labelNames: ['image', 'result'] as const,
    buckets: IMAGE_BUCKETS,
    registers: [this.registry],
  });

  readonly uploadSeconds = new Histogram({
    name: 'nodepool_image_upload_duration_seconds',
    help: 'Image upload attempts that ended in this process, by image, provider and result (ready or failed).',
    labelNames: ['image', 'provider', 'result'] as const,
    buckets: IMAGE_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The text format, every collector asked first. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
