/**
 * The simulator inside nodepoold: it reads the ready nodes from nodepoold's
 * own database and hands its job events (and, without Gearman, its queue)
 * straight to nodepoold, with no ZeroMQ in between.
 */
import type { Observable } from 'rxjs';
import type { NodepoolConfig } from '../../config/types.js';
import type { Clock } from '../../core/clock.js';
import type { Database } from '../../db/index.js';
import type { JobEvent } from '../../events/index.js';
import type { Logger } from '../../log/index.js';
import { runQueueFor } from './queue-choice.js';
import { databaseNodeSource } from './node-source.js';
import { CiSimulator } from './simulator.js';
import { sshWork } from './ssh-work.js';

export interface InProcessCiSimulatorOptions {
  /** The configuration at start; undefined is returned when it has no `ci-simulator` section. */
  config: NodepoolConfig;
  /** The configuration in force (the simulator's own jobs follow reloads through `reconfigure`). */
  currentConfig: () => NodepoolConfig;
  db: Database;
  clock: Clock;
  log: Logger;
  random?: () => number;
}

export interface InProcessCiSimulator {
  simulator: CiSimulator;
  /** What nodepoold hears from it: the queued runs per label when there is no Gearman, and the job events. */
  sources: { demand?: Observable<Record<string, number>>; events: Observable<JobEvent> };
}

export function inProcessCiSimulator(options: InProcessCiSimulatorOptions): InProcessCiSimulator | undefined {
  const settings = options.config.ciSimulator;
  if (!settings) return undefined;
  const { queue, demand } = runQueueFor(options.config, options.log, () => options.clock.now());
  const simulator = new CiSimulator({
    jobs: settings.jobs,
    queue,
    nodes: databaseNodeSource(options.db),
    clock: options.clock,
    log: options.log,
    work: sshWork(options.currentConfig, options.clock),
    jobRows: options.db.jobs,
    ...(options.random && { random: options.random }),
  });
  return { simulator, sources: { ...(demand && { demand }), events: simulator.jobEvents } };
}
