/**
 * Decides which nodes to launch now (docs/behaviour.md, "How many nodes to launch"). Pure: the same
 * input gives the same output; nothing is read from the clock, the database
 * or a random source. See docs/allocation.md.
 */
import { fillSubnodeDeficits, openPool, type Pool } from './capacity.js';
import { labelDemands, launchableHere, type LabelDemand } from './demand.js';
import { labelDiagnostic } from './diagnostics.js';
import { shareOut, type Request } from './distribute.js';
import { emptyHistory, recordRun, type AllocationHistory } from './history.js';
import type { AllocationInput, AllocationResult, Launch } from './types.js';

export function allocate(input: AllocationInput): AllocationResult {
  const history = input.history ?? emptyHistory();
  const pool = openPool(input);
  // Existing nodes waiting for sub-nodes are half-built already: they go first.
  const subnodeLaunches = fillSubnodeDeficits(input, pool, launchableHere(input, pool));
  const demands = labelDemands(input, pool);
  const requests = new Map<LabelDemand, Request>();
  for (const d of demands) {
    if (d.blocked === undefined && d.extra > 0) requests.set(d, toRequest(d, pool, history));
  }

  // Phase 1: real demand of every label, before any min-ready top-up.
  shareOut([...requests.values()], pool);

  // Phase 2: min-ready top-ups from what is left, shared fairly between labels.
  // Best effort: a top-up that does not fit whole still gets what fits (an
  // operator with min-ready 10 and 8 free servers expects 8, not none), but
  // only once every label's real demand has been served.
  const topUps = [...requests].filter(([d, r]) => r.total === d.actual && d.extra > d.actual);
  for (const [d, r] of topUps) r.want = d.extra;
  shareOut(
    topUps.map(([, r]) => r),
    pool,
  );

  const launches: Launch[] = [];
  const grants = new Map<string, Map<string, number>>();
  for (const [d, r] of requests) {
    const perProvider = new Map<string, number>();
    r.providers.forEach((p, k) => {
      const count = r.granted[k] ?? 0;
      if (count === 0 || d.target === undefined) return;
      const provider = pool.names[p] ?? '';
      launches.push({ provider, label: d.label.name, target: d.target, count });
      perProvider.set(provider, count);
    });
    grants.set(d.label.name, perProvider);
  }

  return {
    launches,
    subnodeLaunches,
    history: recordRun(
      history,
      grants,
      demands.map((d) => d.label.name),
      new Set(pool.names),
    ),
    labels: demands.map((d) => labelDiagnostic(d, requests.get(d)?.total ?? 0, pool)),
    providers: pool.names.map((provider, p) => ({
      provider,
      free: pool.free[p] ?? 0,
      used: (pool.free[p] ?? 0) - (pool.room[p] ?? 0),
    })),
  };
}

function toRequest(d: LabelDemand, pool: Pool, history: AllocationHistory): Request {
  const past = history.labels[d.label.name];
  return {
    order: d.order,
    cost: d.cost,
    providers: d.providers,
    recent: d.providers.map((p) => past?.providers[pool.names[p] ?? ''] ?? 0),
    lastGranted: past?.lastGranted ?? 0,
    granted: d.providers.map(() => 0),
    total: 0,
    want: d.actual,
  };
}
