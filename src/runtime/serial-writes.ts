import type { Logger } from '../log/index.js';

/**
 * Writes for many keys (actor ids), serialised per key and coalesced: while
 * one write of a key is in flight only the newest request waits, so a burst
 * of transitions costs at most two writes. Used by the persistence of node
 * and image actors, whose every snapshot asks for a write.
 */
export class SerialWrites<T> {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly pending = new Map<string, T>();

  constructor(
    private readonly write: (key: string, item: T) => Promise<void>,
    private readonly log: Logger,
    /** Logged with the error when a write fails. */
    private readonly failureMessage: string,
  ) {}

  request(key: string, item: T): void {
    if (this.inFlight.has(key)) {
      this.pending.set(key, item);
      return;
    }
    this.start(key, item);
  }

  /** Resolves when every write asked for so far is done. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  private start(key: string, item: T): void {
    const write = this.write(key, item)
      .catch((err: unknown) => this.log.error({ err, actor: key }, this.failureMessage))
      .finally(() => {
        this.inFlight.delete(key);
        const next = this.pending.get(key);
        if (next !== undefined) {
          this.pending.delete(key);
          this.start(key, next);
        }
      });
    this.inFlight.set(key, write);
  }
}
