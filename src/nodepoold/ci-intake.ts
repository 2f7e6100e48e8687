/**
 * The two streams through which the CI system reaches nodepoold
 * (docs/ci-loop.md), each following the configuration in force: queued
 * work per label from the Gearman servers, and job events from the ZeroMQ
 * publishers handed to the nodes one at a time.
 */
import { combineLatest, concatMap, defer, distinctUntilChanged, map, merge, type Observable, of, startWith, switchMap } from 'rxjs';
import type { NodepoolConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { isDatabaseUnreachable } from '../db/index.js';
import { gearmanDemand } from '../demand/index.js';
import { jobEvents, type JobEvent } from '../events/index.js';
import type { Logger } from '../log/index.js';
import { JobEventRouter, type JobEventRouterDeps } from './job-events.js';

/** Equal when their JSON is: the settings and figures compared here are small plain values. */
const sameJson = <T>(a: T, b: T): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A demand figure with its labels in order, so that the same figures compare equal. */
const sorted = (demand: Record<string, number>) => Object.fromEntries(Object.entries(demand).sort(([a], [b]) => a.localeCompare(b)));

/** Another source of queued work or job events beside Gearman and ZeroMQ: a CI simulator in the same process. */
export interface CiSources {
  demand?: Observable<Record<string, number>>;
  events?: Observable<JobEvent>;
}

/** The queued work of several sources added up, label by label. */
function addDemands(demands: readonly Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const demand of demands) for (const [label, queued] of Object.entries(demand)) total[label] = (total[label] ?? 0) + queued;
  return total;
}

/**
 * Queued work per label (the Gearman servers' and any other source's, added
 * up), emitted when it changes. A reload that changes the servers, the
 * labels or the interval starts polling afresh (switchMap); one that changes
 * none of them leaves the polling alone. No servers: no Gearman demand.
 */
export function queuedWork(configs: Observable<NodepoolConfig>, options: { clock: Clock; log: Logger; other?: Observable<Record<string, number>> }): Observable<Record<string, number>> {
  const gearman = configs.pipe(
    map((c) => ({ servers: c.gearmanServers, labels: c.labels.map((l) => l.name), intervalMs: c.gearmanPollIntervalS * 1000 })),
    distinctUntilChanged(sameJson),
    switchMap((s) =>
      s.servers.length === 0 ? of({}) : gearmanDemand(s.servers, { labels: s.labels, intervalMs: s.intervalMs, logger: options.log, clock: options.clock }),
    ),
  );
  const sources = options.other ? [gearman.pipe(startWith({})), options.other.pipe(startWith({}))] : [gearman];
  return combineLatest(sources).pipe(map(addDemands), map(sorted), distinctUntilChanged(sameJson));
}

/** How long a job event waits before it is tried again while the database does not answer. */
const UNREACHABLE_PAUSE_MS = 1_000;

/**
 * Job events from the configured publishers, each handed to its node in
 * the order they came. The listener keeps the sockets of publishers that a
 * reload leaves in place, so no event is lost to a reload. While the
 * database does not answer, an event waits (and the ones behind it) rather
 * than being dropped: a lost onFinalized would leave its node used.
 */
export function jobEventsToNodes(
  configs: Observable<NodepoolConfig>,
  deps: Omit<JobEventRouterDeps, 'now'> & { clock: Clock; other?: Observable<JobEvent> },
): Observable<void> {
  const router = new JobEventRouter({ ...deps, now: () => deps.clock.now() });
  const endpoints = configs.pipe(
    map((c) => c.zmqPublishers),
    distinctUntilChanged(sameJson),
  );
  const events = deps.other ? merge(jobEvents(endpoints, { log: deps.log }), deps.other) : jobEvents(endpoints, { log: deps.log });
  return events.pipe(concatMap((event) => defer(() => handleUntilDone(router, event, deps))));
}

async function handleUntilDone(router: JobEventRouter, event: JobEvent, deps: { clock: Clock; log: Logger }): Promise<void> {
  for (let waited = false; ; waited = true) {
    try {
      await router.handle(event);
      if (waited) deps.log.info({ job: event.job, nodeName: event.nodeName }, 'the database answers again: the job events that waited are handled');
      return;
    } catch (err) {
      if (!isDatabaseUnreachable(err)) {
        deps.log.error({ err, job: event.job, nodeName: event.nodeName }, `job event ${event.kind} of ${event.job} on ${event.nodeName} could not be handled`);
        return;
      }
      if (!waited) deps.log.warn({ job: event.job, nodeName: event.nodeName }, 'the database does not answer: job events wait until it does');
      await new Promise((resolve) => deps.clock.setTimeout(() => resolve(undefined), UNREACHABLE_PAUSE_MS));
    }
  }
}
