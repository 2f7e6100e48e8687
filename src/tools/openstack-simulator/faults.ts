import type { Clock } from '../../core/clock.js';
import { TimedWaits } from '../../simulated-cloud/index.js';

/**
 * One scheduled failure: the next `times` calls to `route` (after letting
 * `skip` through) answer `status` in the service's error shape, or drop the
 * connection when `reset` is set.
 */
export interface FailureRule {
  /** 'METHOD /path/template' as in counters(), or '*' for every route. */
  route: string;
  status?: number;
  /** Default 1; Infinity for "until cleared". */
  times?: number;
  skip?: number;
  /** Seconds; sent as Retry-After (and Nova's retryAfter for 413/429). */
  retryAfter?: number;
  message?: string;
  /** Close the socket without an answer. */
  reset?: boolean;
}

interface ActiveRule {
  rule: FailureRule;
  seen: number;
  fired: number;
}

export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  route: string;
  status: number;
}

const REQUEST_LOG_SIZE = 1000;

/** Latency, scheduled failures, slow bodies, and the record of what was called. */
export class FaultPlan {
  private rules: ActiveRule[] = [];
  private readonly latency = new Map<string, number>();
  private readonly slow = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  private readonly log: RequestRecord[] = [];
  private readonly waits: TimedWaits;

  constructor(private readonly clock: Clock) {
    this.waits = new TimedWaits(clock);
  }

  setFailures(rules: readonly FailureRule[]): void {
    this.rules = rules.map((rule) => ({ rule: { ...rule }, seen: 0, fired: 0 }));
  }

  addFailures(rules: readonly FailureRule[]): void {
    this.rules.push(...rules.map((rule) => ({ rule: { ...rule }, seen: 0, fired: 0 })));
  }

  /** The rules still to fire, with how often each has fired. */
  failures(): Array<FailureRule & { fired: number }> {
    return this.rules.map((r) => ({ ...r.rule, fired: r.fired }));
  }

  setLatency(route: string, ms: number): void {
    if (ms > 0) this.latency.set(route, ms);
    else this.latency.delete(route);
  }

  setSlowResponse(route: string, ms: number): void {
    if (ms > 0) this.slow.set(route, ms);
    else this.slow.delete(route);
  }

  /** Counts the call; returns the failure to answer with, if one is due. */
  takeFailure(route: string): FailureRule | undefined {
    for (const active of this.rules) {
      if (active.rule.route !== route && active.rule.route !== '*') continue;
      active.seen += 1;
      if (active.seen <= (active.rule.skip ?? 0)) continue;
      if (active.fired >= (active.rule.times ?? 1)) continue;
      active.fired += 1;
      this.rules = this.rules.filter((r) => r.fired < (r.rule.times ?? 1));
      return active.rule;
    }
    return undefined;
  }

  latencyFor(route: string): number {
    return this.latency.get(route) ?? this.latency.get('*') ?? 0;
  }

  slowFor(route: string): number {
    return this.slow.get(route) ?? this.slow.get('*') ?? 0;
  }

  /** Waits on the simulator's clock; close() ends every wait at once. */
  delay(ms: number): Promise<void> {
    return this.waits.wait(ms);
  }


  count(route: string): void {
    this.counts.set(route, (this.counts.get(route) ?? 0) + 1);
  }

  record(entry: RequestRecord): void {
    this.log.push(entry);
    if (this.log.length > REQUEST_LOG_SIZE) this.log.shift();
  }

  counters(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  calls(route: string): number {
    return this.counts.get(route) ?? 0;
  }

  requests(): RequestRecord[] {
    return [...this.log];
  }

  resetCounters(): void {
    this.counts.clear();
    this.log.length = 0;
  }

  close(): void {
    this.waits.close();
  }
}
