/**
 * What a daemon measures, said once and sent two ways: to the Prometheus
 * registry that /metrics serves, and to statsd with 0.4's keys when
 * STATSD_HOST is set (docs/metrics.md). The daemons report what happened
 * (a launch ended, a node was deleted, a cloud call, a job, a build, an
 * upload); what is counted in the database (nodes, builds and uploads by
 * state) and the configuration's figures are read from their sources when
 * /metrics is asked, and for statsd a moment after the nodes change.
 */
import type { Clock } from '../core/clock.js';
import { daemonLabel, providerOfLease } from '../core/leases.js';
import { NODE_STATES, type DaemonRecord, type LeaseRecord } from '../db/records.js';
import type { Logger } from '../log/index.js';
import type { PrometheusMetrics } from './prometheus-metrics.js';
import {
  deleteKey, dibImageSizeKey, imageUpdateKey, jobKeys, launchKeys, maxServersKey, nodeGauges,
  type LaunchKeyFields, type LaunchResult, type NodeTally,
} from './statsd-keys.js';
import type { StatsdReporter } from './statsd-reporter.js';
import type { StatsdSettings } from './statsd-settings.js';

/** A primary node's launch that ended: ready, or failed for a reason. */
export interface LaunchEnded extends LaunchKeyFields {
  label: string;
  result: LaunchResult;
  /** From the request to the end. */
  ms: number;
}

/** A node whose server is gone and whose record is removed. */
export interface NodeDeleted {
  provider: string;
  label: string;
  image: string;
  target: string;
  /** In the delete state for this long, when known (not for a node resumed mid-delete). */
  ms?: number;
}

/** One call to a cloud, as the provider gateway reports it. */
export interface CloudCallEnded {
  provider: string;
  operation: string;
  outcome: 'ok' | 'error';
  errorKind?: string;
  waitedMs: number;
  tookMs: number;
}

/** A job that finished with SUCCESS on a node (0.4 counted only those). */
export interface JobSucceeded {
  job: string;
  branch?: string;
  label: string;
  provider: string;
  /** How long the node was in use. */
  ms: number;
}

export interface BuildEnded {
  image: string;
  /** `ready`, or the failure's reason. */
  result: string;
  ms?: number;
  /** Bytes on disk per format written (ready builds). */
  sizes?: Readonly<Record<string, number>>;
}

export interface UploadEnded {
  image: string;
  provider: string;
  result: 'ready' | 'failed';
  ms?: number;
}

/** nodepoold's figures that are read rather than reported. */
export interface NodeSources {
  tally(): Promise<NodeTally[]>;
  providers(): readonly { name: string; maxServers: number; quotaHeadroom?: number }[];
  labels(): readonly { name: string; minReady: number; demand: number; providers: readonly string[] }[];
  targets(): readonly string[];
  /**
   * The nodepoold sharing the database and the provider leases (lapsed
   * ones too), read when /metrics is asked; without it there are no
   * daemon or provider-owner metrics.
   */
  cluster?: () => Promise<ClusterState>;
}

/** The daemon table and the `provider:<name>` leases, with the time they are judged at (held while now < expiresAt). */
export interface ClusterState {
  daemons: DaemonRecord[];
  providerLeases: LeaseRecord[];
  now: number;
}

/** The builder's: its builds and uploads by state. */
export interface ImageSources {
  builds(): Promise<{ image: string; state: string; count: number }[]>;
  uploads(): Promise<{ image: string; provider: string; state: string; count: number }[]>;
}

export interface PoolMetricsOptions {
  clock: Clock;
  log: Logger;
  /** The registry /metrics serves; without it nothing is kept for Prometheus. */
  prometheus?: PrometheusMetrics;
  statsd?: StatsdReporter;
  /** How long after a node changes the statsd gauges are sent (changes in between share one send). */
  gaugeDelayMs?: number;
  /** How often they are sent again without a change: a count read before the last change was written is corrected. */
  gaugeIntervalMs?: number;
}

const DEFAULT_GAUGE_DELAY_MS = 1000;
const DEFAULT_GAUGE_INTERVAL_MS = 10_000;

/**
 * Metrics for a daemon: the Prometheus registry when it will be served, a
 * statsd client when there is a collector. Each library is loaded only when
 * it is used, so a daemon without them does not carry them in memory.
 */
export async function openPoolMetrics(
  options: Pick<PoolMetricsOptions, 'clock' | 'log' | 'gaugeDelayMs' | 'gaugeIntervalMs'> & { prometheus: boolean; statsd?: StatsdSettings },
): Promise<PoolMetrics> {
  const prometheus = options.prometheus ? new (await import('./prometheus-metrics.js')).PrometheusMetrics() : undefined;
  const statsd = options.statsd ? new (await import('./statsd-reporter.js')).StatsdReporter(options.statsd, options.log) : undefined;
  return new PoolMetrics({
    clock: options.clock, log: options.log,
    ...(prometheus && { prometheus }), ...(statsd && { statsd }),
    ...(options.gaugeDelayMs !== undefined && { gaugeDelayMs: options.gaugeDelayMs }),
    ...(options.gaugeIntervalMs !== undefined && { gaugeIntervalMs: options.gaugeIntervalMs }),
  });
}

export class PoolMetrics {
  private readonly prometheus: PrometheusMetrics | undefined;
  private nodeSources: NodeSources | undefined;
  private imageSources: ImageSources | undefined;
  private gaugeTimer: unknown;
  /** When the pending gauge send is due. */
  private gaugeDue = Infinity;
  private gaugesSending: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: PoolMetricsOptions) {
    this.prometheus = options.prometheus;
  }

  get statsdEnabled(): boolean {
    return this.options.statsd !== undefined;
  }

  /** nodepoold's part: nodes, providers and labels. */
  watchNodes(sources: NodeSources): void {
    this.nodeSources = sources;
  }

  /** The builder's part: builds and uploads. */
  watchImages(sources: ImageSources): void {
    this.imageSources = sources;
  }

  launchEnded(launch: LaunchEnded): void {
    const labels = { provider: launch.provider, label: launch.label, result: launch.result };
    this.prometheus?.launches.inc(labels);
    this.prometheus?.launchSeconds.observe(labels, launch.ms / 1000);
    this.options.statsd?.timeAndCount(launchKeys(launch, launch.result), launch.ms);
  }

  nodeDeleted(node: NodeDeleted): void {
    this.prometheus?.deletes.inc({ provider: node.provider, label: node.label });
    if (node.ms !== undefined) this.prometheus?.deleteSeconds.observe({ provider: node.provider }, node.ms / 1000);
    this.options.statsd?.timeAndCount([deleteKey(node.image, node.provider, node.target)], node.ms ?? 0);
  }

  cloudCall(call: CloudCallEnded): void {
    if (!this.prometheus) return;
    const outcome = call.outcome === 'ok' ? 'ok' : (call.errorKind ?? 'other');
    this.prometheus.cloudCalls.inc({ provider: call.provider, operation: call.operation, outcome });
    this.prometheus.cloudCallSeconds.observe({ provider: call.provider, operation: call.operation }, call.tookMs / 1000);
    this.prometheus.rateWaitSeconds.observe({ provider: call.provider }, call.waitedMs / 1000);
  }

  /** 0.4's job keys: a timer on `KEY.runtime` and a counter on `KEY.builds` for each level. */
  jobSucceeded(job: JobSucceeded): void {
    const statsd = this.options.statsd;
    if (!statsd) return;
    for (const key of jobKeys(job.job, job.branch, job.label, job.provider)) {
      statsd.timing(`${key}.runtime`, job.ms);
      statsd.increment(`${key}.builds`);
    }
  }

  buildEnded(build: BuildEnded): void {
    if (build.ms !== undefined) this.prometheus?.buildSeconds.observe({ image: build.image, result: build.result }, build.ms / 1000);
    const statsd = this.options.statsd;
    if (!statsd || !build.sizes) return;
    for (const [ext, bytes] of Object.entries(build.sizes)) statsd.gauge(dibImageSizeKey(build.image, ext), bytes);
  }

  uploadEnded(upload: UploadEnded): void {
    if (upload.ms !== undefined) this.prometheus?.uploadSeconds.observe({ image: upload.image, provider: upload.provider, result: upload.result }, upload.ms / 1000);
    if (upload.result === 'ready') this.options.statsd?.timeAndCount([imageUpdateKey(upload.image, upload.provider)], upload.ms ?? 0);
  }

  /** Nodes changed state: statsd's node gauges are sent a moment later, once for all the changes in between. */
  nodesChanged(): void {
    this.sendGaugesIn(this.options.gaugeDelayMs ?? DEFAULT_GAUGE_DELAY_MS);
  }

  /** Schedules the gauges' send, unless one is due sooner; after each send the next comes an interval later. */
  private sendGaugesIn(ms: number): void {
    const { clock } = this.options;
    if (!this.options.statsd || !this.nodeSources || this.closed) return;
    const due = clock.now() + ms;
    if (this.gaugeTimer !== undefined) {
      if (this.gaugeDue <= due) return;
      clock.clearTimeout(this.gaugeTimer);
    }
    this.gaugeDue = due;
    this.gaugeTimer = clock.setTimeout(() => {
      this.gaugeTimer = undefined;
      this.gaugeDue = Infinity;
      this.gaugesSending = this.sendNodeGauges().finally(() => this.sendGaugesIn(this.options.gaugeIntervalMs ?? DEFAULT_GAUGE_INTERVAL_MS));
    }, ms);
  }

  /** What /metrics serves, when there is a registry. */
  get prometheusPage(): { text(): Promise<string>; contentType: string } | undefined {
    const prometheus = this.prometheus;
    if (!prometheus) return undefined;
    return {
      // The database's counts and the configuration's figures, read now.
      text: async () => {
        await Promise.all([this.refreshNodes(prometheus), this.refreshCluster(prometheus), this.refreshImages(prometheus)]);
        return prometheus.text();
      },
      contentType: prometheus.contentType,
    };
  }

  /** Sends what is pending, then stops sending. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.gaugeTimer !== undefined) {
      this.options.clock.clearTimeout(this.gaugeTimer);
      this.gaugeTimer = undefined;
      this.gaugesSending = this.sendNodeGauges();
    }
    await this.gaugesSending;
    await this.options.statsd?.close();
  }

  private async sendNodeGauges(): Promise<void> {
    const sources = this.nodeSources;
    const statsd = this.options.statsd;
    if (!sources || !statsd) return;
    try {
      const tallies = await sources.tally();
      const providers = sources.providers();
      const scope = { states: NODE_STATES, providers: providers.map((p) => p.name), labels: sources.labels().map((l) => l.name), targets: sources.targets() };
      for (const [key, value] of nodeGauges(tallies, scope)) statsd.gauge(key, value);
      for (const provider of providers) statsd.gauge(maxServersKey(provider.name), provider.maxServers);
    } catch (err) {
      this.options.log.warn({ err }, 'statsd: the node counts could not be read; sent again at the next change');
    }
  }

  private async refreshNodes(prometheus: PrometheusMetrics): Promise<void> {
    const sources = this.nodeSources;
    if (!sources) return;
    const tallies = await sources.tally();
    const { nodes, maxServers, quotaHeadroom, minReady, demand } = prometheus;
    const labels = sources.labels();
    nodes.reset();
    // Every label in each of its providers shows every state, 0 when empty, so a rate or a graph never loses its series.
    for (const label of labels) for (const provider of label.providers) for (const state of NODE_STATES) nodes.set({ provider, label: label.name, state }, 0);
    for (const t of tallies) nodes.inc({ provider: t.provider, label: t.label, state: t.state }, t.count);
    maxServers.reset();
    quotaHeadroom.reset();
    for (const provider of sources.providers()) {
      maxServers.set({ provider: provider.name }, provider.maxServers);
      if (provider.quotaHeadroom !== undefined) quotaHeadroom.set({ provider: provider.name }, provider.quotaHeadroom);
    }
    minReady.reset();
    demand.reset();
    for (const label of labels) {
      minReady.set({ label: label.name }, label.minReady);
      demand.set({ label: label.name }, label.demand);
    }
  }

  /** Who drives what: a series per daemon row and per held provider lease; the daemon label is `host:pid`. */
  private async refreshCluster(prometheus: PrometheusMetrics): Promise<void> {
    const read = this.nodeSources?.cluster;
    if (!read) return;
    const { daemons, providerLeases, now } = await read();
    const { daemonInfo, daemonStartTime, providerOwner, daemonProviders } = prometheus;
    daemonInfo.reset();
    daemonStartTime.reset();
    providerOwner.reset();
    daemonProviders.reset();
    for (const d of daemons) {
      const daemon = daemonLabel(d.name);
      const state = now >= d.expiresAt ? 'dead' : d.draining ? 'draining' : 'alive';
      daemonInfo.set({ daemon, host: d.host, pid: String(d.pid), state }, 1);
      daemonStartTime.set({ daemon }, d.startedAt / 1000);
      // Every daemon shows a count, 0 when it drives nothing (a draining one, a new one).
      daemonProviders.set({ daemon }, 0);
    }
    for (const lease of providerLeases) {
      const provider = providerOfLease(lease.name);
      if (provider === undefined || now >= lease.expiresAt) continue;
      const daemon = daemonLabel(lease.owner);
      providerOwner.set({ provider, daemon }, 1);
      daemonProviders.inc({ daemon });
    }
  }

  private async refreshImages(prometheus: PrometheusMetrics): Promise<void> {
    const sources = this.imageSources;
    if (!sources) return;
    const [builds, uploads] = await Promise.all([sources.builds(), sources.uploads()]);
    prometheus.builds.reset();
    for (const b of builds) prometheus.builds.inc({ image: b.image, state: b.state }, b.count);
    prometheus.uploads.reset();
    for (const u of uploads) prometheus.uploads.inc({ image: u.image, provider: u.provider, state: u.state }, u.count);
  }
}
