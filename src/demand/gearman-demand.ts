/**
 * Demand from the Gearman servers as a stream (docs: interfaces.md,
 * "Demand"; behaviour.md, section 3): every interval each server is asked
 * for its status, and the queued work per label of the servers that answered
 * is emitted, one emission per poll (the caller keeps the latest).
 *
 * A server that fails (refused, timed out, closed early, or answered
 * something that is not a status) is skipped and the others still count.
 * Its figures do not linger: from its first failed poll it contributes
 * nothing until it answers again, since old numbers would launch nodes for
 * work that may be long gone. Its outage is logged once at warn when it
 * begins and once at info when it ends, not at every poll.
 *
 * One stream serves one configuration: the servers, the interval and the
 * labels are fixed for its life. A reload is the caller's `switchMap` from
 * the configuration updates to a new `gearmanDemand(...)`: the old stream's
 * requests are cancelled (their sockets closed) and the new one polls at
 * once. Taking the settings as arguments keeps this stream free of the
 * configuration's shape; the cost is that a server still down across a
 * reload is warned about once more, by the new stream.
 */
import { exhaustMap, forkJoin, map, Observable, of, tap, timer } from 'rxjs';
import type { Logger } from '../log/index.js';
import { schedulerFor } from '../streams/clock-scheduler.js';
import type { TimeSource } from '../streams/clock-scheduler.js';
import { DEFAULT_STATUS_TIMEOUT_MS, gearmanStatus, GearmanStatusError, serverName } from './gearman-status.js';
import type { GearmanServerAddress, GearmanStatusOptions, GearmanStatusRow } from './gearman-status.js';
import { labelDemand } from './label-demand.js';

export const DEFAULT_DEMAND_INTERVAL_MS = 10_000;

export interface GearmanDemandOptions extends TimeSource {
  /** The labels of the configuration; demand for any other label is dropped. */
  labels: Iterable<string>;
  logger: Logger;
  /** Time between polls. Default 10 s. */
  intervalMs?: number;
  /** Bound on each request's connect and on its answer (real time: it bounds the network). Default 5 s. */
  timeoutMs?: number;
  /** How one server is asked; tests substitute their own. */
  status?: (server: GearmanServerAddress, options: GearmanStatusOptions) => Promise<GearmanStatusRow[]>;
}

/** One server's outcome in one poll. */
type Answer =
  | { server: string; rows: GearmanStatusRow[] }
  | { server: string; error: Error };

/**
 * Polls `servers` at once and then every interval; emits the queued work per
 * known label (labels with none left out). With no servers it emits `{}` once
 * and completes. Never errors. Polls never overlap: a tick that comes while
 * one is still running is dropped.
 */
export function gearmanDemand(servers: readonly GearmanServerAddress[], options: GearmanDemandOptions): Observable<Record<string, number>> {
  const { logger, intervalMs = DEFAULT_DEMAND_INTERVAL_MS, timeoutMs = DEFAULT_STATUS_TIMEOUT_MS, status = gearmanStatus } = options;
  const labels = [...options.labels];
  const scheduler = schedulerFor(options);
  // A server listed twice would count its queue twice.
  const distinct = [...new Map(servers.map((s) => [serverName(s), s] as const)).values()];
  if (distinct.length === 0) return of({});

  return new Observable<Record<string, number>>((subscriber) => {
    /** When each failing server's outage began, by server name. */
    const down = new Map<string, number>();

    const report = (answer: Answer) => {
      const since = down.get(answer.server);
      if ('error' in answer) {
        if (since !== undefined) return;
        down.set(answer.server, scheduler.now());
        logger.warn({ server: answer.server, err: answer.error },
          `${answer.error.message}; counting no demand from it, asking again every ${intervalMs} ms`);
      } else if (since !== undefined) {
        down.delete(answer.server);
        logger.info({ server: answer.server, seconds: Math.round((scheduler.now() - since) / 1000) },
          `gearman ${answer.server} answers again`);
      }
    };

    const poll = (): Observable<Record<string, number>> => forkJoin(distinct.map((s) => ask(s, status, timeoutMs))).pipe(
      tap((answers) => answers.forEach(report)),
      map((answers) => labelDemand(answers.flatMap((a) => ('rows' in a ? [a.rows] : [])), labels)),
    );

    return timer(0, intervalMs, scheduler).pipe(exhaustMap(poll)).subscribe(subscriber);
  });
}

/** One server's answer; never errors. Unsubscribing cancels the request and closes its socket. */
function ask(server: GearmanServerAddress, status: NonNullable<GearmanDemandOptions['status']>, timeoutMs: number): Observable<Answer> {
  const name = serverName(server);
  return new Observable<Answer>((subscriber) => {
    const controller = new AbortController();
    // Through a promise first, so a substitute that throws at once fails the same way as one that rejects.
    Promise.resolve().then(() => status(server, { timeoutMs, signal: controller.signal })).then(
      (rows) => subscriber.next({ server: name, rows }),
      (error: unknown) => subscriber.next({ server: name, error: namingTheServer(name, error) }),
    ).finally(() => subscriber.complete());
    return () => controller.abort();
  });
}

/** The error as the log shows it: its message must say which server failed. */
function namingTheServer(name: string, error: unknown): Error {
  if (error instanceof GearmanStatusError) return error;
  return new GearmanStatusError(name, error instanceof Error ? error.message : String(error), { cause: error });
}
