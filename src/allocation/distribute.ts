/**
 * Hands out free servers to labels, one node at a time.
 *
 * Between labels: the label with the smallest served fraction (granted /
 * wanted) goes next, so scarce capacity is shared in proportion to what each
 * label asks; ties go to the label served least recently (history), then to
 * configuration order.
 *
 * Between a label's providers: each node goes to the provider with room whose
 * quotient weight / (1 + granted now + granted recently) is highest, weight
 * being its free servers at the start of the run (a D'Hondt apportionment).
 * So 10 nodes over providers with 10 and 5 free split about 7/3, and a label
 * that gets one node per run alternates between two equal providers.
 */
import type { Pool } from './capacity.js';
import { Heap } from './heap.js';

export interface Request {
  order: number;
  /** Servers one node takes. */
  cost: number;
  /** Provider indexes that take part. */
  providers: readonly number[];
  /** Recent grants per provider, aligned with `providers`. */
  recent: readonly number[];
  /** Run in which the label last got a node (0 = never). */
  lastGranted: number;
  /** Grants this run per provider, aligned with `providers`. */
  granted: number[];
  /** Nodes granted this run: the sum of `granted`. */
  total: number;
  /** Phase 1 goal: the label's real demand (actual). */
  want: number;
}

/**
 * Phase 1: give every request up to `want` nodes, sharing scarce room fairly.
 * Stops for a request when none of its providers has room for one more node.
 */
export function shareOut(requests: readonly Request[], pool: Pool): void {
  const heap = new Heap<Request>((a, b) => {
    const lhs = a.total * b.want;
    const rhs = b.total * a.want;
    if (lhs !== rhs) return lhs < rhs;
    if (a.lastGranted !== b.lastGranted) return a.lastGranted < b.lastGranted;
    return a.order < b.order;
  });
  for (const r of requests) if (r.total < r.want) heap.push(r);
  for (let r = heap.pop(); r !== undefined; r = heap.pop()) {
    if (grantOne(r, pool) && r.total < r.want) heap.push(r);
  }
}

/** One node of `r` in its best provider; false when no provider has room. */
function grantOne(r: Request, pool: Pool): boolean {
  let best = -1;
  for (let k = 0; k < r.providers.length; k++) {
    const p = r.providers[k] as number;
    if ((pool.room[p] ?? 0) < r.cost) continue;
    if (best < 0 || ahead(r, k, best, pool)) best = k;
  }
  if (best < 0) return false;
  const p = r.providers[best] as number;
  pool.room[p] = (pool.room[p] ?? 0) - r.cost;
  r.granted[best] = (r.granted[best] ?? 0) + 1;
  r.total += 1;
  return true;
}

/** Whether provider slot `k` of `r` has a higher quotient than slot `j` (exact, no division). */
function ahead(r: Request, k: number, j: number, pool: Pool): boolean {
  const wk = pool.weight[r.providers[k] as number] ?? 0;
  const wj = pool.weight[r.providers[j] as number] ?? 0;
  const dk = 1 + (r.granted[k] ?? 0) + (r.recent[k] ?? 0);
  const dj = 1 + (r.granted[j] ?? 0) + (r.recent[j] ?? 0);
  return wk * dj > wj * dk;
}
