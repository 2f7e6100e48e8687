/**
 * State carried from one allocation run to the next, so that fairness holds
 * over time and not only within one run:
 * - per label, the run in which it last got a node: when labels tie for
 *   scarce capacity, the one served least recently goes first, so two labels
 *   that each want the last free server take turns;
 * - per label and provider, the nodes granted recently: a provider's share is
 *   weighed against what it already received, so a label that gets one node
 *   per run still spreads over its providers instead of always landing on the
 *   first.
 * Plain JSON so the daemon can persist it.
 */

export interface LabelHistory {
  /** The run in which the label last got at least one node; 0 = never. */
  lastGranted: number;
  /** Nodes recently granted per provider (a sliding window, see HISTORY_WINDOW). */
  providers: Record<string, number>;
}

export interface AllocationHistory {
  /** Runs so far; the run being computed is `run + 1`. */
  run: number;
  labels: Record<string, LabelHistory>;
}

/**
 * While a label's recent grants add up to more than this, all of its counts are
 * halved: old grants fade, so a provider that was away for a day catches up
 * for a while, not forever, and the numbers stay small.
 */
export const HISTORY_WINDOW = 64;

export function emptyHistory(): AllocationHistory {
  return { run: 0, labels: {} };
}

/** Grants of one run: label -> provider -> nodes. */
export type RunGrants = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The history after a run. Labels and providers no longer configured are
 * dropped so the history does not grow with configuration churn.
 */
export function recordRun(
  previous: AllocationHistory,
  grants: RunGrants,
  labels: readonly string[],
  providers: ReadonlySet<string>,
): AllocationHistory {
  const run = previous.run + 1;
  const next: AllocationHistory = { run, labels: {} };
  for (const label of labels) {
    const before = previous.labels[label];
    const granted = grants.get(label);
    const counts: Record<string, number> = {};
    for (const [provider, n] of Object.entries(before?.providers ?? {})) {
      if (providers.has(provider) && n > 0) counts[provider] = n;
    }
    for (const [provider, n] of granted ?? []) {
      if (n > 0) counts[provider] = (counts[provider] ?? 0) + n;
    }
    while (sum(counts) > HISTORY_WINDOW) halve(counts);
    const anyGranted = [...(granted?.values() ?? [])].some((n) => n > 0);
    const lastGranted = anyGranted ? run : (before?.lastGranted ?? 0);
    if (lastGranted > 0 || Object.keys(counts).length > 0) {
      next.labels[label] = { lastGranted, providers: counts };
    }
  }
  return next;
}

function sum(counts: Record<string, number>): number {
  let total = 0;
  for (const n of Object.values(counts)) total += n;
  return total;
}

function halve(counts: Record<string, number>): void {
  for (const [provider, n] of Object.entries(counts)) {
    const half = Math.floor(n / 2);
    if (half > 0) counts[provider] = half;
    else delete counts[provider];
  }
}
