import type { LogFormat, Logger } from '../log/index.js';
import type { ActorHost } from '../actors/host.js';
import { connectStatelyInspector, type StatelyInspectorConnection } from '../actors/stately-inspector.js';
import type { PoolMetrics } from '../metrics/index.js';
import { daemonMetrics } from './daemon-metrics.js';
import { prepareDaemon, type PreparedDaemon } from './daemon-programs.js';
import { detach, nextSignal, within } from './daemonize.js';
import { processOutput } from './output.js';
import { claimPidFile } from './pid-file.js';
import { onSigusr2 } from './usr2.js';

export interface DaemonLifecycle {
  name: 'nodepoold' | 'nodepool-builder';
  /** The logger the lifecycle's own lines go to. */
  logger: string;
  options: { c: string; s?: string; l?: string; d?: boolean; p?: string; logFormat?: LogFormat; inspectWs?: string };
  argv: readonly string[];
  /** How long a graceful stop may take before the process exits anyway. */
  stopTimeoutMs: number;
  /** The actor host with the daemon's workloads, once its configuration is valid and its database open. */
  host(prepared: PreparedDaemon, metrics: PoolMetrics): ActorHost;
  /** What else must hold for the daemon to start, checked in the foreground before it detaches. */
  checkStart?(prepared: PreparedDaemon): Promise<void>;
  /** What the daemon serves once its host has started (nodepoold's status web server); closed first at the stop. */
  serve?(prepared: PreparedDaemon, host: ActorHost, metrics: PoolMetrics): Promise<{ close(): Promise<void> }>;
}

/**
 * How both daemons live: without -d they validate in the foreground and
 * detach; with -d they claim the pid file, prepare, run their work until
 * SIGINT or SIGTERM, stop it within the bound and release everything.
 */
export async function runDaemon(daemon: DaemonLifecycle): Promise<void> {
  const { name, options } = daemon;
  if (!options.d) {
    // Validate in the foreground, so a bad configuration is refused where the operator sees it.
    const prepared = await prepareDaemon(name, options);
    try {
      await daemon.checkStart?.(prepared);
    } finally {
      await prepared.db.close();
    }
    processOutput.out(`${name}: running in the background with pid ${detach(daemon.argv)}`);
    return;
  }
  const releasePidFile = options.p ? claimPidFile(options.p, name) : () => {};
  let prepared: PreparedDaemon;
  try {
    prepared = await prepareDaemon(name, options);
  } catch (err) {
    releasePidFile();
    throw err;
  }
  const log = prepared.logging.get(daemon.logger);
  // Kept for Prometheus only where /metrics is served.
  const metrics = await daemonMetrics(prepared, daemon.serve !== undefined);
  const host = daemon.host(prepared, metrics);
  // Every cloud call of the process; the stream ends when the host closes its gateways.
  host.gateways.calls.subscribe((call) => metrics.cloudCall(call));
  const offUsr2 = onSigusr2(log, host);
  // Listened for before the start: a signal during the start stops the
  // daemon once it has started, rather than killing it half-way.
  const stopSignal = nextSignal(['SIGINT', 'SIGTERM']);
  let inspector: StatelyInspectorConnection | undefined;
  try {
    await host.start();
    if (options.inspectWs) inspector = await inspect(host, options.inspectWs, prepared.logging.get('nodepool.actors'));
    const served = await serveOrStop(daemon, prepared, host, metrics);
    const signal = await stopSignal;
    log.info({ signal }, 'stopping');
    await within(served?.close() ?? Promise.resolve(), 2_000);
    if (!(await within(host.stop(), daemon.stopTimeoutMs))) {
      // The promise is to exit within the bound: what is still being written resumes from the last saved state.
      log.warn(`work did not stop within ${daemon.stopTimeoutMs / 1000} s; it resumes at the next start`);
      offUsr2();
      releasePidFile();
      process.exit(0);
    }
  } finally {
    offUsr2();
    // After the host: the inspector sees the actors stop.
    await within(inspector?.close() ?? Promise.resolve(), 2_000);
    // After the host: the last deletions' statsd packets are sent.
    await within(metrics.close(), 2_000);
    await within(prepared.db.close(), 2_000);
    releasePidFile();
  }
}

/** The inspector is an aid: a daemon that cannot load it runs on without it rather than stopping its work. */
async function inspect(host: ActorHost, url: string, log: Logger): Promise<StatelyInspectorConnection | undefined> {
  try {
    return await connectStatelyInspector(host, url, log);
  } catch (err) {
    log.error({ err, url }, 'the Stately inspector could not be started; running without it');
    return undefined;
  }
}

/** A daemon that cannot serve (its port is taken) stops what it started, in order, and fails with the reason. */
async function serveOrStop(daemon: DaemonLifecycle, prepared: PreparedDaemon, host: ActorHost, metrics: PoolMetrics): Promise<{ close(): Promise<void> } | undefined> {
  try {
    return await daemon.serve?.(prepared, host, metrics);
  } catch (err) {
    await within(host.stop(), daemon.stopTimeoutMs);
    throw err;
  }
}
