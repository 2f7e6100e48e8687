import { systemClock, type Clock } from './clock.js';

/**
 * At most one call every `intervalMs` (a provider's `rate`), in the order
 * asked. Calls may overlap once started: the limit is on how often the cloud
 * is asked, not on how long it takes to answer. A retryable failure (429,
 * 503, ...) is the caller's to retry; the queue only spaces the starts.
 */
export class RateQueue {
  private nextStart = 0;
  private tail: Promise<void> = Promise.resolve();
  private readonly counts = new Map<string, number>();

  constructor(
    private intervalMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  setInterval(intervalMs: number): void {
    this.intervalMs = intervalMs;
  }

  /** Calls started so far, by operation name (for the API-calls-per-node figure). */
  get calls(): ReadonlyMap<string, number> {
    return this.counts;
  }

  run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const started = this.tail.then(() => this.waitForTurn());
    this.tail = started.catch(() => {});
    return started.then(() => {
      this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
      return call();
    });
  }

  private waitForTurn(): Promise<void> {
    const now = this.clock.now();
    const wait = Math.max(0, this.nextStart - now);
    this.nextStart = Math.max(now, this.nextStart) + this.intervalMs;
    if (wait === 0) return Promise.resolve();
    return new Promise((resolve) => this.clock.setTimeout(resolve, wait));
  }
}
