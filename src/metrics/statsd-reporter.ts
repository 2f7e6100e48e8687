/**
 * statsd over UDP, as Nodepool 0.4 sent it: on when STATSD_HOST is set
 * (STATSD_PORT default 8125, STATSD_PREFIX put before every key with a dot).
 * The client is hot-shots, a kept statsd library: it writes the line format
 * (`key:value|ms`, `|c`, `|g`) and never blocks or throws on a lost packet.
 */
import { StatsD } from 'hot-shots';
import type { Logger } from '../log/index.js';
import type { StatsdSettings } from './statsd-settings.js';

export class StatsdReporter {
  private readonly client: StatsD;
  private failing = false;

  constructor(
    readonly settings: StatsdSettings,
    private readonly log: Logger,
  ) {
    this.client = new StatsD({
      host: settings.host,
      port: settings.port,
      prefix: settings.prefix ?? '',
      protocol: 'udp',
      // Send each line at once, as the Python client did: nothing is held back or lost at a stop.
      maxBufferSize: 0,
      errorHandler: (err) => this.failed(err),
    });
  }

  /** A timer and a counter on each key (0.4 sent both for launches, deletes, uploads and jobs). */
  timeAndCount(keys: readonly string[], ms: number): void {
    for (const key of keys) {
      this.timing(key, ms);
      this.increment(key);
    }
  }

  /** Whole milliseconds, as 0.4 sent them. */
  timing(key: string, ms: number): void {
    this.client.timing(key, Math.max(0, Math.round(ms)));
  }

  increment(key: string): void {
    this.client.increment(key);
  }

  gauge(key: string, value: number): void {
    this.client.gauge(key, value);
  }

  /** A send error is logged once: a collector that is not there must not flood the log (UDP says nothing of a send that works). */
  private failed(err: Error): void {
    if (this.failing) return;
    this.failing = true;
    this.log.warn({ err, host: this.settings.host, port: this.settings.port }, `statsd: sending to ${this.settings.host}:${this.settings.port} failed (${err.message}); metrics keep being sent`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.client.close(() => resolve());
    });
  }
}
