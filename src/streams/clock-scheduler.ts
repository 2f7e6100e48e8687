/**
 * An RxJS scheduler that keeps time with one of our Clocks, so streams and
 * actors share a time source: a test that moves XState's SimulatedClock
 * forward fires the streams' timers, debounces and cron schedules too.
 */
import { asyncScheduler, Subscription } from 'rxjs';
import type { SchedulerAction, SchedulerLike } from 'rxjs';
import type { Clock } from '../core/clock.js';

/** Where a stream takes its time from: an explicit scheduler, else a clock, else real time. */
export interface TimeSource {
  clock?: Clock;
  scheduler?: SchedulerLike;
}

export function schedulerFor(source: TimeSource): SchedulerLike {
  if (source.scheduler) return source.scheduler;
  return source.clock ? clockScheduler(source.clock) : asyncScheduler;
}

export function clockScheduler(clock: Clock): SchedulerLike {
  return {
    now: () => clock.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
      return new ClockAction<T>(clock, work).schedule(state, delay);
    },
  };
}

/** One piece of scheduled work; operators like `interval` reschedule it from inside `work`. */
class ClockAction<T> extends Subscription implements SchedulerAction<T> {
  private handle: { id?: unknown } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super();
    this.add(() => this.cancel());
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.cancel();
    const handle: { id?: unknown } = {};
    this.handle = handle;
    handle.id = this.clock.setTimeout(() => this.run(handle, state), Math.max(0, delay));
    return this;
  }

  private run(handle: { id?: unknown }, state?: T): void {
    if (this.handle !== handle) return;
    this.handle = undefined;
    try {
      this.work.call(this, state);
    } finally {
      // Work that did not reschedule itself is done: leave its parent
      // subscription, or a long-lived debounce would collect spent actions.
      if (this.handle === undefined) this.unsubscribe();
    }
  }

  private cancel(): void {
    if (this.handle === undefined) return;
    this.clock.clearTimeout(this.handle.id);
    this.handle = undefined;
  }
}
