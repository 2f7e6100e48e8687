import type { Clock } from '../../core/clock.js';
import { TimedWaits } from '../../simulated-cloud/index.js';
import { DriverError } from '../driver.js';

/**
 * The waits that make a fake cloud's call take time (a create, an upload),
 * on the injected clock; close() fails the calls still waiting, so nothing
 * outlives the cloud.
 */
export class Latency {
  private readonly waits: TimedWaits;
  private closed = false;

  constructor(clock: Clock) {
    this.waits = new TimedWaits(clock);
  }

  get size(): number {
    return this.waits.size;
  }

  /** Resolves after `seconds` of clock time; no timer at all for zero. */
  wait(seconds: number): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    return this.waits.wait(Math.max(0, seconds * 1000), closedError);
  }

  close(): void {
    this.closed = true;
    this.waits.close();
  }
}

export function closedError(): DriverError {
  return new DriverError('unavailable', 'The fake cloud is closed', { service: 'fake' });
}
