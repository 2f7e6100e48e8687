/** What each label needs (docs/behaviour.md, "How many nodes to launch") and where it may launch. */
import type { Pool } from './capacity.js';
import { wholeNumber } from './numbers.js';
import type { AllocationInput, AllocationLabel, NodeState, ShortReason } from './types.js';

/** States whose nodes count against a label's demand; hold and delete do not. */
export const COUNTED_STATES: ReadonlySet<NodeState> = new Set(['ready', 'building', 'used', 'test']);

export interface LabelDemand {
  /** Position in the configuration: the last tie-break everywhere. */
  order: number;
  label: AllocationLabel;
  /** Servers one node takes: itself plus its sub-nodes. */
  cost: number;
  queued: number;
  minReady: number;
  counted: number;
  actual: number;
  extra: number;
  /** Provider indexes that take part, in the label's order. */
  providers: number[];
  target: string | undefined;
  /** Set when the label cannot launch at all this run. */
  blocked: ShortReason | undefined;
}

export function labelDemands(input: AllocationInput, pool: Pool): LabelDemand[] {
  const { labels, targets } = input.config;
  const online = input.onlineTargets === undefined ? undefined : new Set(input.onlineTargets);
  const onlineTargets = targets.filter((t) => online === undefined || online.has(t.name)).map((t) => t.name);
  const counted = countedPerLabel(input, new Set(onlineTargets));
  const usable = usableImageSet(input);
  return labels.map((label, order) => {
    const disabled = label.minReady < 0;
    const queued = wholeNumber(input.demand?.[label.name]);
    const minReady = disabled ? 0 : wholeNumber(label.minReady);
    const have = counted.get(label.name) ?? 0;
    const launchable = launchableProviders(label, pool);
    const providers = launchable.filter((p) => usable.has(imageKey(pool.names[p] ?? '', label.image)));
    const target = onlineTargets[0];
    return {
      order,
      label,
      cost: 1 + wholeNumber(label.subnodes),
      queued,
      minReady,
      counted: have,
      actual: Math.max(0, queued - have),
      extra: Math.max(0, queued + minReady - have),
      providers,
      target,
      blocked: disabled
        ? 'disabled'
        : launchable.length === 0
          ? 'no-provider'
          : providers.length === 0
            ? 'no-image'
            : target === undefined
              ? 'no-target'
              : undefined,
    };
  });
}

/** Whether `label` may launch in the provider at `p` (enabled, image ready there). */
export function launchableHere(input: AllocationInput, pool: Pool): (p: number, label: string) => boolean {
  const usable = usableImageSet(input);
  const byName = new Map(input.config.labels.map((l) => [l.name, l] as const));
  return (p, name) => {
    const label = byName.get(name);
    if (label === undefined || label.minReady < 0) return false;
    return usable.has(imageKey(pool.names[p] ?? '', label.image));
  };
}

function countedPerLabel(input: AllocationInput, onlineTargets: ReadonlySet<string>): Map<string, number> {
  const counted = new Map<string, number>();
  for (const t of input.nodes) {
    if (!COUNTED_STATES.has(t.state) || !onlineTargets.has(t.target)) continue;
    counted.set(t.label, (counted.get(t.label) ?? 0) + wholeNumber(t.count));
  }
  return counted;
}

/** The label's providers that exist and have room in principle (max-servers > 0), deduplicated. */
function launchableProviders(label: AllocationLabel, pool: Pool): number[] {
  const seen = new Set<number>();
  for (const { name } of label.providers) {
    const p = pool.index.get(name);
    if (p !== undefined && pool.live[p]) seen.add(p);
  }
  return [...seen];
}

function usableImageSet(input: AllocationInput): Set<string> {
  return new Set(input.usableImages.map((u) => imageKey(u.provider, u.image)));
}

function imageKey(provider: string, image: string): string {
  return `${provider}\u0000${image}`;
}
