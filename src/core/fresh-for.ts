/**
 * Answers kept for a short while: many callers asking the same question at
 * once (a burst of creates, each asking which image to boot) share one
 * answer, read again once it is `ttlMs` old. A failed answer is not kept.
 */
import type { Clock } from './clock.js';

export class FreshFor<T> {
  private readonly answers = new Map<string, { at: number; value: Promise<T> }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  get(key: string, read: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    const kept = this.answers.get(key);
    if (kept && now - kept.at < this.ttlMs) return kept.value;
    const value = read();
    this.answers.set(key, { at: now, value });
    value.catch(() => {
      if (this.answers.get(key)?.value === value) this.answers.delete(key);
    });
    return value;
  }
}
