/** Helpers for the job event tests: a logger that keeps its lines, a stream's values kept, bounded waits. */
import { pino } from 'pino';
import type { Observable, Subscription } from 'rxjs';
import type { Logger } from '../../src/log/index.js';

export interface LogLine {
  level: string;
  msg: string;
  endpoint?: string;
  reason?: string;
  message?: string;
  [key: string]: unknown;
}

/** A pino logger at debug whose lines are kept in memory. */
export function memoryLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug', base: undefined, formatters: { level: (label) => ({ level: label }) } },
    { write: (text: string) => void lines.push(JSON.parse(text) as LogLine) },
  );
  return { log, lines };
}

/** Resolves once `check` holds, checking every few milliseconds; fails after `ms` with `what`. */
export async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

/** What a stream emitted so far, and a bounded wait for more. */
export class Received<T> {
  readonly values: T[] = [];
  error: unknown;
  private readonly subscription: Subscription;

  constructor(stream: Observable<T>) {
    this.subscription = stream.subscribe({
      next: (value) => this.values.push(value),
      error: (err: unknown) => { this.error = err; },
    });
  }

  async count(n: number, ms = 5000): Promise<T[]> {
    await eventually(() => this.values.length >= n, `${n} value(s) received (have ${this.values.length})`, ms);
    return this.values;
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}
