/**
 * The changes the commands made, as a stream (design.md, "Truth and
 * actors"): the change log is polled for rows above the last one seen and
 * each row is emitted once, in id order. A failing poll is logged and the
 * next interval tries again; the stream itself never errors. Polls never
 * overlap: a tick that comes while one is running is dropped.
 *
 * Caveat from db/changes.ts: on MySQL two transactions can commit ids out of
 * order, so a row committed late below the last seen id is not seen here.
 * Consumers treat a change as a hint to re-read the record, and the actors'
 * periodic checks catch what a hint missed.
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
  logger?: Logger;
}

interface Page {
  rows: ChangeRecord[];
  /** The query returned a full page: more may be waiting. */
  full: boolean;
}

export function pollChanges(source: ChangeSource, options: PollChangesOptions = {}): Observable<ChangeRecord> {
  const { intervalMs = 1000, pageSize = 1000, logger } = options;
  const scheduler = schedulerFor(options);

  return defer(() => {
    let lastId = options.startAfter;

    const page = (after: number): Observable<Page> => defer(() => source.since(after, pageSize)).pipe(
      map((rows) => ({ rows: fresh(rows, after), full: rows.length >= pageSize })),
    );
    const poll = (): Observable<Page> => {
      if (lastId === undefined) {
        return defer(() => source.latestId()).pipe(
          tap((id) => { lastId = id; }),
          concatMap((id) => page(id)),
        );
      }
      return page(lastId);
    };
    const drain = (): Observable<Page> => poll().pipe(
      expand((p) => (p.full && p.rows.length > 0 ? page(p.rows[p.rows.length - 1]!.id) : EMPTY)),
      catchError((err: unknown) => {
        logger?.warn({ err }, `polling the change log failed; trying again in ${intervalMs} ms`);
        return EMPTY;
      }),
    );

    return timer(0, intervalMs, scheduler).pipe(
      exhaustMap(drain),
      concatMap((p) => from(p.rows)),
      // Advanced row by row as rows are emitted: a page that fails after
      // earlier pages were emitted resumes after the last emitted row.
      tap((row) => { lastId = row.id; }),
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
