/**
 * The status web servers wired to the running daemons: the records come
 * from their database, the labels and providers from the configuration in
 * force, nodepoold's server lists from its gateways. The address is read at
 * the start; a changed `webapp:` takes effect at the next start.
 */
import type { ActorHost } from '../actors/host.js';
import type { PoolMetrics } from '../metrics/index.js';
import { InspectorApi } from '../web/inspector-api.js';
import { BUILDER_LISTINGS, startStatusServer, type StatusServer } from '../web/index.js';
import type { PreparedDaemon } from './daemon-programs.js';

/** The inspector page's view of a daemon's host. */
function inspectorOf(host: ActorHost, showsNodes: boolean, demand?: () => Readonly<Record<string, number>>): InspectorApi {
  return new InspectorApi({
    roots: () => host.roots(),
    inspection: host.inspection,
    db: host.db,
    get config() {
      return host.config;
    },
    quotaHeadroom: (provider) => host.gateways.get(provider)?.knownQuotaHeadroom,
    now: () => host.clock.now(),
    ...(demand && { demand }),
    showsNodes,
  });
}

export function serveNodepooldStatus(
  { config, db, logging }: PreparedDaemon,
  host: ActorHost,
  metrics: PoolMetrics,
  demand?: () => Readonly<Record<string, number>>,
): Promise<StatusServer> {
  return startStatusServer({
    listen: config.webapp.listen,
    port: config.webapp.port,
    db,
    labels: () => host.config.labels,
    providers: () => host.config.providers,
    readiness: {
      pingDatabase: async () => {
        await db.knex.raw('select 1');
      },
      config: () => host.config,
      serverList: (provider) => host.gateways.get(provider)?.lastServerList,
      now: () => host.clock.now(),
    },
    ...(metrics.prometheusPage && { metrics: metrics.prometheusPage }),
    inspector: inspectorOf(host, true, demand),
    log: logging.get('nodepool.WebApp'),
  });
}

/** Only this host: nodepool-builder has no configuration of its own for an address. */
const BUILDER_WEBAPP_LISTEN = '127.0.0.1';

/**
 * nodepool-builder's: its builds and uploads, on 127.0.0.1 and the port of
 * --webapp-port, since `webapp:` is nodepoold's and both may share a host.
 * No /readyz: a builder follows no provider's list of servers.
 */
export function serveBuilderStatus(port: number): (prepared: PreparedDaemon, host: ActorHost, metrics: PoolMetrics) => Promise<StatusServer> {
  return ({ db, logging }, host, metrics) =>
    startStatusServer({
      listen: BUILDER_WEBAPP_LISTEN,
      port,
      db,
      labels: () => host.config.labels,
      offered: BUILDER_LISTINGS,
      portSetting: '--webapp-port',
      ...(metrics.prometheusPage && { metrics: metrics.prometheusPage }),
      inspector: inspectorOf(host, false),
      log: logging.get('nodepool.WebApp'),
    });
}
