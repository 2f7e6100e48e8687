/** The per-label lines the daemon logs after each run. */
import type { LabelDemand } from './demand.js';
import type { LabelDiagnostic, ShortReason } from './types.js';

export function shortReason(d: LabelDemand, granted: number): ShortReason | undefined {
  if (granted >= d.extra) return undefined;
  if (d.blocked !== undefined) return d.blocked;
  return granted < d.actual ? 'capacity' : 'min-ready-deferred';
}

export function labelDiagnostic(d: LabelDemand, granted: number, providerNames: readonly string[]): LabelDiagnostic {
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
    message: short === undefined ? head : `${head}: ${explain(short, d, granted)}`,
  };
}

function explain(reason: ShortReason, d: LabelDemand, granted: number): string {
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
      return `providers are full, ${d.actual - granted} queued still wait`;
    case 'min-ready-deferred':
      return `providers are full: ${granted - d.actual} of the min-ready top-up of ${d.extra - d.actual} fit`;
  }
}
