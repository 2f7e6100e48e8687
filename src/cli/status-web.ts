/**
 * nodepoold's status web server wired to the running daemon: the records
 * come from its database, the labels and providers from the configuration
 * in force, the server lists from its gateways. The address is read at the
 * start; a changed `webapp:` takes effect at the next start.
 */
import type { ActorHost } from '../actors/host.js';
import { startStatusServer, type StatusServer } from '../web/index.js';
import type { PreparedDaemon } from './daemon-programs.js';

export function serveStatus({ config, db, logging }: PreparedDaemon, host: ActorHost): Promise<StatusServer> {
  return startStatusServer({
    listen: config.webapp.listen,
    port: config.webapp.port,
    db,
    labels: () => host.config.labels,
    readiness: {
      pingDatabase: async () => {
        await db.knex.raw('select 1');
      },
      config: () => host.config,
      serverList: (provider) => host.gateways.get(provider)?.lastServerList,
      now: () => host.clock.now(),
    },
    log: logging.get('nodepool.WebApp'),
  });
}
