/**
 * The changes the commands made, as a stream (docs/architecture.md,
 * "How a command reaches a daemon"): the change log is polled for rows above the last one seen and
 * each row is emitted once, in id order. A failing poll is logged and the
 * next interval tries again; the stream itself never errors. Polls never
 * overlap: a tick that comes while one is running is dropped.
 *
 * On MySQL two transactions can commit their ids out of order (an id is
 * taken at insert and becomes visible at commit), so a row can appear below
 * the last id already seen. Each poll therefore reads from `lookBehind` ids
 * back and skips the ids it has emitted: a late row is emitted once, when it
 * becomes visible.
 */
import type { Observable } from 'rxjs';
import { catchError, concatMap, defer, EMPTY, expand, exhaustMap, from, map, tap, timer } from 'rxjs';
import type { ChangeRecord } from '../db/records.js';
import type { Logger } from '../log/index.js';
import { schedulerFor } from './clock-scheduler.js';
import type { TimeSource } from './clock-scheduler.js';

export interface ChangeSource {
  /** Rows with id > lastId, oldest first, at most `limit`. */
  since(lastId: number, limit: number): Promise<ChangeRecord[]>;
  /** The newest id, 0 when there is none. */
  latestId(): Promise<number>;
}

export interface PollChangesOptions extends TimeSource {
  intervalMs?: number;
  /** Emit rows above this id; without it, rows above the newest id when polling starts. */
  startAfter?: number;
  /** Rows fetched per query; a full page is followed at once by the next. */
  pageSize?: number;
  /** How many ids below the last one seen are read again, for rows committed late. Default 100. */
  lookBehind?: number;
  logger?: Logger;
}

interface Page {
  rows: ChangeRecord[];
  /** The query returned a full page: more may be waiting. */
  full: boolean;
  /** The highest id the query returned, emitted before or not. */
  lastRead: number | undefined;
}

export function pollChanges(source: ChangeSource, options: PollChangesOptions = {}): Observable<ChangeRecord> {
  const { intervalMs = 1000, pageSize = 1000, lookBehind = 100, logger } = options;
  const scheduler = schedulerFor(options);

  return defer(() => {
    // Nothing at or below `floor` is ever emitted (it predates the subscription).
    let floor = options.startAfter;
    let lastId = options.startAfter ?? 0;
    const seen = new Set<number>();

    const page = (after: number): Observable<Page> => defer(() => source.since(after, pageSize)).pipe(
      map((rows) => ({
        rows: fresh(rows, floor ?? 0).filter((r) => !seen.has(r.id)),
        full: rows.length >= pageSize,
        lastRead: rows.length > 0 ? Math.max(...rows.map((r) => r.id)) : undefined,
      })),
    );
    const start = () => Math.max(floor ?? 0, lastId - lookBehind);
    const poll = (): Observable<Page> => {
      if (floor === undefined) {
        return defer(() => source.latestId()).pipe(
          tap((id) => { floor = id; lastId = id; }),
          concatMap(() => page(start())),
        );
      }
      return page(start());
    };
    // A failing poll is logged when it starts failing and when it answers again, not every interval.
    let failingSince: number | undefined;
    const drain = (): Observable<Page> => poll().pipe(
      expand((p) => (p.full && p.lastRead !== undefined ? page(p.lastRead) : EMPTY)),
      tap(() => {
        if (failingSince === undefined) return;
        logger?.info({ seconds: Math.round((scheduler.now() - failingSince) / 1000) }, 'the change log can be read again');
        failingSince = undefined;
      }),
      catchError((err: unknown) => {
        if (failingSince === undefined) logger?.warn({ err }, `polling the change log failed; trying again every ${intervalMs} ms until it answers`);
        failingSince ??= scheduler.now();
        return EMPTY;
      }),
    );

    return timer(0, intervalMs, scheduler).pipe(
      exhaustMap(drain),
      concatMap((p) => from(p.rows)),
      tap((row) => {
        seen.add(row.id);
        if (row.id > lastId) lastId = row.id;
        // Only ids the look-behind can still return need remembering.
        for (const id of seen) if (id <= lastId - lookBehind) seen.delete(id);
      }),
    );
  });
}

/** Rows above `after` in id order, each id once (a source may be sloppy about either). */
function fresh(rows: ChangeRecord[], after: number): ChangeRecord[] {
  const seen = new Set<number>();
  return rows
    .filter((r) => r.id > after && !seen.has(r.id) && seen.add(r.id))
    .sort((a, b) => a.id - b.id);
}
