/**
 * The waits that make a simulated call take time (a create, an upload, an
 * HTTP answer), on the injected clock, and all of them ended at once when
 * the cloud closes, so nothing outlives it. A real timer never keeps the
 * process alive on its own.
 */
import type { Clock } from '../core/clock.js';

interface Pending {
  handle: unknown;
  end: (closing: boolean) => void;
}

export class TimedWaits {
  private readonly pending = new Set<Pending>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Resolves after `ms` of clock time (at once for zero). At close, the
   * wait resolves, or rejects with `onClose()` when one is given.
   */
  wait(ms: number, onClose?: () => Error): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        handle: undefined,
        end: (closing) => (closing && onClose ? reject(onClose()) : resolve()),
      };
      entry.handle = this.clock.setTimeout(() => {
        this.pending.delete(entry);
        entry.end(false);
      }, ms);
      (entry.handle as { unref?: () => void } | null)?.unref?.();
      this.pending.add(entry);
    });
  }

  /** Ends every wait now. */
  close(): void {
    for (const entry of this.pending) {
      this.clock.clearTimeout(entry.handle);
      entry.end(true);
    }
    this.pending.clear();
  }
}
