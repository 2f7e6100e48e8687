/** Small builders so each situation reads as a sentence, not as a YAML copy. */
import type {
  AllocationInput,
  AllocationLabel,
  AllocationProvider,
  AllocationResult,
  NodeState,
  NodeTally,
} from '../../src/allocation/index.js';
import { seededRandom } from '../../src/simulated-cloud/random.js';

export function label(
  name: string,
  opts: { minReady?: number; subnodes?: number; providers?: string[]; image?: string } = {},
): AllocationLabel {
  return {
    name,
    image: opts.image ?? `${name}-image`,
    minReady: opts.minReady ?? 0,
    subnodes: opts.subnodes ?? 0,
    providers: (opts.providers ?? ['p1']).map((p) => ({ name: p })),
  };
}

export function provider(name: string, maxServers = 10): AllocationProvider {
  return { name, maxServers };
}

export function nodes(
  labelName: string,
  providerName: string,
  state: NodeState,
  count: number,
  target = 't1',
): NodeTally {
  return { label: labelName, provider: providerName, state, count, target };
}

export interface Situation extends Partial<Omit<AllocationInput, 'config'>> {
  labels: AllocationLabel[];
  providers?: AllocationProvider[];
  targets?: string[];
}

/** Every label's image is ready in every provider unless `usableImages` says otherwise. */
export function situation(s: Situation): AllocationInput {
  const providers = s.providers ?? [provider('p1')];
  const { labels, targets, ...rest } = s;
  return {
    nodes: [],
    usableImages: providers.flatMap((p) => labels.map((l) => ({ provider: p.name, image: l.image }))),
    ...rest,
    config: { labels, providers, targets: (targets ?? ['t1']).map((name) => ({ name })) },
  };
}

/** `{ 'label@provider': count }` of a result's launches. */
export function launchMap(result: AllocationResult): Record<string, number> {
  const map: Record<string, number> = {};
  for (const l of result.launches) map[`${l.label}@${l.provider}`] = (map[`${l.label}@${l.provider}`] ?? 0) + l.count;
  return map;
}

/** Servers a result takes per provider, sub-nodes included. */
export function serversTaken(input: AllocationInput, result: AllocationResult): Map<string, number> {
  const subnodes = new Map(input.config.labels.map((l) => [l.name, l.subnodes] as const));
  const taken = new Map<string, number>();
  const add = (p: string, n: number): void => void taken.set(p, (taken.get(p) ?? 0) + n);
  for (const l of result.launches) add(l.provider, l.count * (1 + (subnodes.get(l.label) ?? 0)));
  for (const s of result.subnodeLaunches) add(s.provider, s.count);
  return taken;
}

/** A small seeded generator (mulberry32) for property checks. */
export const seeded = seededRandom;
