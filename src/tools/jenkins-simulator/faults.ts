/**
 * What a scheduled failure does to a request: answer this HTTP status (in
 * Jetty's error page), close the connection without an answer (`reset`), or
 * never answer (`hang`: the request is held until the simulator closes).
 */
export type Failure = number | 'reset' | 'hang';

export interface FailureRule {
  /** 'METHOD /path/template' as in counters(), or '*' for every request. */
  route: string;
  failure: Failure;
  /** How many more requests it fails. */
  remaining: number;
}

export interface RequestRecord {
  at: number;
  method: string;
  /** The path as requested, below the context path, without the query. */
  path: string;
  route: string;
  /** 0 for a reset or hung request. */
  status: number;
  /** The authenticated user, or 'anonymous'. */
  user: string;
}

const REQUEST_LOG_SIZE = 1000;

/** Scheduled failures, and the record of what was called. */
export class FaultPlan {
  private rules: FailureRule[] = [];
  private readonly counts = new Map<string, number>();
  private readonly log: RequestRecord[] = [];

  add(rule: FailureRule): void {
    if (rule.remaining > 0) this.rules.push({ ...rule });
  }

  clear(): void {
    this.rules = [];
  }

  pending(): FailureRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** The failure due for this request, if any; rules fire in the order they were added. */
  take(route: string): Failure | undefined {
    const rule = this.rules.find((r) => r.route === route || r.route === '*');
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.failure;
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
    return this.log.map((r) => ({ ...r }));
  }

  reset(): void {
    this.counts.clear();
    this.log.length = 0;
  }
}
