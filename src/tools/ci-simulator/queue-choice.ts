/**
 * Which queue the runs wait in: the first Gearman server of the
 * configuration when there is one (nodepoold reads its demand there, as it
 * would Zuul's), else the simulator's own, whose demand is handed over in
 * the same process.
 */
import type { Observable } from 'rxjs';
import type { NodepoolConfig } from '../../config/types.js';
import { serverName } from '../../gearman/index.js';
import type { Logger } from '../../log/index.js';
import { GearmanRunQueue } from './gearman-queue.js';
import { LocalRunQueue } from './local-queue.js';
import type { RunQueue } from './run-queue.js';

export function runQueueFor(config: NodepoolConfig, log: Logger, now: () => number = Date.now): { queue: RunQueue; demand?: Observable<Record<string, number>> } {
  const server = config.gearmanServers[0];
  if (server) {
    log.info({ server: serverName(server) }, `runs are queued on gearman ${serverName(server)}`);
    return { queue: new GearmanRunQueue(server, {}, now) };
  }
  const queue = new LocalRunQueue(now);
  return { queue, demand: queue.demand };
}
