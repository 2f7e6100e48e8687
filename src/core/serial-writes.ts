import { systemClock, type Clock } from './clock.js';

/** Only what SerialWrites logs through (a pino logger fits). */
export interface WriteLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Writes for many keys (actor ids), serialised per key and coalesced: while
 * one write of a key is in flight only the newest request waits, so a burst
 * of transitions costs at most two writes. Used by the persistence of node
 * and image actors, whose every snapshot asks for a write. The pauses
 * between attempts are on the injected clock.
 */
export class SerialWrites<T> {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly pending = new Map<string, T>();

  constructor(
    private readonly write: (key: string, item: T) => Promise<void>,
    private readonly log: WriteLog,
    /** Logged with the error when a write fails. */
    private readonly failureMessage: string,
    private readonly clock: Clock = systemClock,
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

  /** A failed write is tried again after these pauses (a database blip) before it is given up and logged. */
  private static readonly RETRY_PAUSES_MS = [200, 1000];

  private async writeWithRetries(key: string, item: T): Promise<void> {
    for (const pause of [...SerialWrites.RETRY_PAUSES_MS, undefined]) {
      try {
        await this.write(key, item);
        return;
      } catch (err) {
        // A newer state is waiting: writing it supersedes this one.
        if (pause === undefined || this.pending.has(key)) throw err;
        this.log.warn({ err, actor: key }, `${this.failureMessage}; trying again`);
        await new Promise((resolve) => this.clock.setTimeout(() => resolve(undefined), pause));
      }
    }
  }

  private start(key: string, item: T): void {
    const write = this.writeWithRetries(key, item)
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
