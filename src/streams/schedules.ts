/**
 * The periodic tasks' clocks (docs/behaviour.md, "Periodic tasks"): a five-field cron line
 * as a stream of the times it names. Each next time is computed from the
 * clock when the previous one has fired, so a late timer or a suspended
 * process never shifts the schedule, and missed times are not fired in a
 * burst afterwards: the stream resumes at the next time after now.
 */
import { CronExpressionParser } from 'cron-parser';
import type { Observable } from 'rxjs';
import { defer, map, repeat, throwError, timer } from 'rxjs';
import { cronProblem } from '../config/cron.js';
import { schedulerFor } from './clock-scheduler.js';
import type { TimeSource } from './clock-scheduler.js';

export interface CronScheduleOptions extends TimeSource {
  /** IANA time zone the fields are read in; the process's own zone when absent. */
  tz?: string;
}

export class InvalidCronExpression extends Error {
  constructor(readonly expression: string, reason: string) {
    super(reason);
    this.name = 'InvalidCronExpression';
  }
}

/**
 * Emits, at each time `expression` names, that time (not the moment the
 * timer actually ran). Errors at subscription with InvalidCronExpression
 * when the line is not a valid five-field cron line; never completes.
 */
export function cronSchedule(expression: string, options: CronScheduleOptions = {}): Observable<Date> {
  const scheduler = schedulerFor(options);
  const problem = cronProblem(expression);
  if (problem !== undefined) return throwError(() => new InvalidCronExpression(expression, problem));

  return defer(() => {
    // A timer may run a little before its time by the clock's reading; never
    // compute from before the last fire time or the same time would fire twice.
    let last = Number.NEGATIVE_INFINITY;
    return defer(() => {
      const at = nextTime(expression, Math.max(scheduler.now(), last), options.tz);
      return timer(Math.max(0, at - scheduler.now()), scheduler).pipe(map(() => {
        last = at;
        return new Date(at);
      }));
    }).pipe(repeat());
  });
}

/** The first time strictly after `after` (ms since the epoch) that the line names. */
export function nextTime(expression: string, after: number, tz?: string): number {
  const parsed = CronExpressionParser.parse(expression, { currentDate: new Date(after), ...(tz !== undefined && { tz }) });
  return parsed.next().getTime();
}
