import type { Clock } from '../../core/clock.js';
import { DriverError } from '../driver.js';

interface Pending {
  handle: unknown;
  reject: (error: Error) => void;
}

/**
 * The waits that make a call take time (a create, an upload). They run on the
 * injected clock, and close() cancels them all and fails the calls still
 * waiting, so nothing outlives the cloud.
 */
export class Latency {
  private readonly pending = new Set<Pending>();
  private closed = false;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size;
  }

  /** Resolves after `seconds` of clock time; no timer at all for zero. */
  wait(seconds: number): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const ms = Math.max(0, seconds * 1000);
    if (ms === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { handle: undefined, reject };
      entry.handle = this.clock.setTimeout(() => {
        this.pending.delete(entry);
        resolve();
      }, ms);
      // A real timer must not keep the process alive on its own.
      (entry.handle as { unref?: () => void } | null)?.unref?.();
      this.pending.add(entry);
    });
  }

  close(): void {
    this.closed = true;
    for (const entry of this.pending) {
      this.clock.clearTimeout(entry.handle);
      entry.reject(closedError());
    }
    this.pending.clear();
  }
}

export function closedError(): DriverError {
  return new DriverError('unavailable', 'The fake cloud is closed', { service: 'fake' });
}
