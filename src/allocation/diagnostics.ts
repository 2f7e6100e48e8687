/** The per-label lines the daemon logs after each run. */
import type { Pool } from './capacity.js';
import type { LabelDemand } from './demand.js';
import type { LabelDiagnostic, ShortReason } from './types.js';

export function shortReason(d: LabelDemand, granted: number): ShortReason | undefined {
  if (granted >= d.extra) return undefined;
  if (d.blocked !== undefined) return d.blocked;
  return granted < d.actual ? 'capacity' : 'min-ready-deferred';
}

export function labelDiagnostic(d: LabelDemand, granted: number, pool: Pick<Pool, 'names' | 'room' | 'limit'>): LabelDiagnostic {
  const providerNames = pool.names;
  const short = shortReason(d, granted);
  const head = `label ${d.label.name}: ${d.extra} wanted, ${granted} launched`;
  return {
    label: d.label.name,
    queued: d.queued,
    minReady: d.label.minReady,
    counted: d.counted,
    actual: d.actual,
    extra: d.extra,
    granted,
    providers: d.providers.map((p) => providerNames[p] ?? ''),
    target: d.target,
    short,
    message: short === undefined ? head : `${head}: ${explain(short, d, granted, pool)}`,
  };
}

/** Which of the label's providers are full, and whether max-servers or the cloud's quota is the bound. */
function fullProviders(d: LabelDemand, pool: Pick<Pool, 'names' | 'room' | 'limit'>): string {
  const full = d.providers.filter((p) => (pool.room[p] ?? 0) <= 0);
  const bound = (p: number) => (pool.limit[p] === 'quota' ? 'its cloud quota' : 'max-servers');
  return full.length === 0 ? '' : ` (${full.map((p) => `${pool.names[p] ?? ''} at ${bound(p)}`).join(', ')})`;
}

function explain(reason: ShortReason, d: LabelDemand, granted: number, pool: Pick<Pool, 'names' | 'room' | 'limit'>): string {
  switch (reason) {
    case 'disabled':
      return 'label is disabled (min-ready -1)';
    case 'no-provider':
      return 'none of its providers can launch (unknown or max-servers <= 0)';
    case 'no-image':
      return 'no provider has a ready image';
    case 'no-target':
      return 'no target is online';
    case 'capacity':
      return `providers are full${fullProviders(d, pool)}, ${d.actual - granted} queued still wait`;
    case 'min-ready-deferred':
      return `providers are full${fullProviders(d, pool)}: ${granted - d.actual} of the min-ready top-up of ${d.extra - d.actual} fit`;
  }
}
