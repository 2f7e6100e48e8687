/**
 * Property checks over many random pools from a seeded generator: whatever the
 * situation, the allocation keeps its promises. A failure names the seed so
 * the pool can be rebuilt.
 */
import { describe, expect, it } from 'vitest';
import {
  allocate,
  type AllocationInput,
  type AllocationResult,
  type NodeState,
  type NodeTally,
} from '../../src/allocation/index.js';
import { label, provider, seeded, serversTaken } from './fixtures.js';

const STATES: NodeState[] = ['building', 'test', 'ready', 'used', 'hold', 'delete'];
const COUNTED: ReadonlySet<NodeState> = new Set(['building', 'test', 'ready', 'used']);
const RUNS = 400;

function randomPool(seed: number, opts: { roomy?: boolean } = {}): AllocationInput {
  const rnd = seeded(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  const providerNames = Array.from({ length: int(1, 5) }, (_, i) => `p${i}`);
  const targetNames = Array.from({ length: int(1, 3) }, (_, i) => `t${i}`);
  const providers = providerNames.map((p) => provider(p, opts.roomy ? 10_000 : pick([-1, 0, ...Array.from({ length: 20 }, (_, i) => i + 1)])));
  const labels = Array.from({ length: int(1, 8) }, (_, i) =>
    label(`l${i}`, {
      minReady: opts.roomy ? int(0, 5) : int(-1, 5),
      subnodes: pick([0, 0, 0, 1, 2]),
      providers: providerNames.filter(() => rnd() < 0.6),
      image: pick(['img-a', 'img-b', 'img-c']),
    }),
  );
  const nodes: NodeTally[] = [];
  for (let i = int(0, 12); i > 0; i--) {
    nodes.push({ provider: pick(providerNames), label: pick(labels).name, target: pick(targetNames), state: pick(STATES), count: int(1, 4) });
  }
  const usableImages = providerNames.flatMap((p) =>
    ['img-a', 'img-b', 'img-c'].filter(() => opts.roomy || rnd() < 0.7).map((image) => ({ provider: p, image })),
  );
  return {
    config: { labels, providers, targets: targetNames.map((name) => ({ name })) },
    nodes,
    providerServers: Object.fromEntries(providerNames.map((p) => [p, opts.roomy ? 0 : int(0, 22)])),
    subnodeDeficits: Array.from({ length: opts.roomy ? 0 : int(0, 3) }, (_, i) => ({
      nodeId: i + 1,
      provider: pick(providerNames),
      label: pick(labels).name,
      missing: int(1, 2),
    })),
    demand: Object.fromEntries(labels.filter(() => rnd() < 0.6).map((l) => [l.name, int(0, 12)])),
    usableImages,
    quotaHeadroom: opts.roomy ? {} : Object.fromEntries(providerNames.filter(() => rnd() < 0.3).map((p) => [p, int(0, 10)])),
    onlineTargets: opts.roomy ? undefined : targetNames.filter(() => rnd() < 0.8),
  };
}

/** Free servers per provider, computed here independently of the allocation. */
function freeServers(input: AllocationInput): Map<string, number> {
  return new Map(
    input.config.providers.map((p) => {
      if (p.maxServers <= 0) return [p.name, 0];
      const quota = input.quotaHeadroom?.[p.name] ?? Infinity;
      return [p.name, Math.max(0, Math.min(p.maxServers - (input.providerServers?.[p.name] ?? 0), quota))];
    }),
  );
}

function extraOf(input: AllocationInput, name: string): { actual: number; extra: number } {
  const l = input.config.labels.find((x) => x.name === name);
  const online = new Set(input.onlineTargets ?? input.config.targets.map((t) => t.name));
  const counted = input.nodes
    .filter((n) => n.label === name && COUNTED.has(n.state) && online.has(n.target))
    .reduce((s, n) => s + n.count, 0);
  const queued = input.demand?.[name] ?? 0;
  return {
    actual: Math.max(0, queued - counted),
    extra: Math.max(0, queued + Math.max(0, l?.minReady ?? 0) - counted),
  };
}

function usable(input: AllocationInput, providerName: string, labelName: string): boolean {
  const l = input.config.labels.find((x) => x.name === labelName);
  return input.usableImages.some((u) => u.provider === providerName && u.image === l?.image);
}

function forEachPool(check: (input: AllocationInput, result: AllocationResult) => void, opts?: { roomy?: boolean }): void {
  for (let seed = 1; seed <= RUNS; seed++) {
    const input = randomPool(seed, opts);
    try {
      check(input, allocate(input));
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`, { cause: e });
    }
  }
}

describe('allocation properties over random pools', () => {
  it('never exceeds max-servers or the quota headroom on any provider', () => {
    forEachPool((input, result) => {
      const free = freeServers(input);
      for (const [p, taken] of serversTaken(input, result)) expect(taken).toBeLessThanOrEqual(free.get(p) ?? 0);
    });
  });

  it('never launches for disabled labels, nor where the image is not ready, nor outside the label providers', () => {
    forEachPool((input, result) => {
      for (const l of result.launches) {
        const conf = input.config.labels.find((x) => x.name === l.label);
        expect(conf?.minReady).toBeGreaterThanOrEqual(0);
        expect(usable(input, l.provider, l.label)).toBe(true);
        expect(conf?.providers.map((p) => p.name)).toContain(l.provider);
        expect(l.count).toBeGreaterThan(0);
      }
      for (const s of result.subnodeLaunches) {
        expect(input.config.labels.find((x) => x.name === s.label)?.minReady).toBeGreaterThanOrEqual(0);
        expect(usable(input, s.provider, s.label)).toBe(true);
      }
    });
  });

  // That a top-up never crowds out queued demand is the property below: real
  // demand left waiting means no provider of that label has room left.
  it('never launches more than extra for a label', () => {
    forEachPool((input, result) => {
      for (const d of result.labels) {
        const { extra } = extraOf(input, d.label);
        const launched = result.launches.filter((l) => l.label === d.label).reduce((s, l) => s + l.count, 0);
        expect(d.granted).toBe(launched);
        expect(launched).toBeLessThanOrEqual(extra);
      }
    });
  });

  it('launches only for online targets and never more sub-nodes than missing', () => {
    forEachPool((input, result) => {
      const online = new Set(input.onlineTargets ?? input.config.targets.map((t) => t.name));
      for (const l of result.launches) expect(online.has(l.target)).toBe(true);
      for (const s of result.subnodeLaunches) {
        const missing = input.subnodeDeficits?.find((d) => d.nodeId === s.nodeId)?.missing ?? 0;
        expect(s.count).toBeLessThanOrEqual(missing);
      }
    });
  });

  it('real demand left waiting means none of the label providers has room for one more node', () => {
    forEachPool((input, result) => {
      const free = freeServers(input);
      const taken = serversTaken(input, result);
      for (const d of result.labels.filter((x) => x.short === 'capacity')) {
        const cost = 1 + (input.config.labels.find((x) => x.name === d.label)?.subnodes ?? 0);
        for (const p of d.providers) expect((free.get(p) ?? 0) - (taken.get(p) ?? 0)).toBeLessThan(cost);
      }
    });
  });

  it('with room to spare every enabled label gets exactly its extra', () => {
    forEachPool(
      (input, result) => {
        for (const d of result.labels) {
          const reachable = input.config.labels
            .find((x) => x.name === d.label)
            ?.providers.some((p) => usable(input, p.name, d.label));
          expect(d.granted).toBe(reachable ? extraOf(input, d.label).extra : 0);
        }
      },
      { roomy: true },
    );
  });
});

describe('the random pools', () => {
  it('cover the interesting cases, so the properties above are not vacuous', () => {
    const seen = new Set<string>();
    forEachPool((_input, result) => {
      if (result.launches.length > 0) seen.add('launches');
      if (result.subnodeLaunches.length > 0) seen.add('sub-nodes');
      for (const d of result.labels) if (d.short !== undefined) seen.add(d.short);
    });
    expect([...seen].sort()).toEqual(
      ['capacity', 'disabled', 'launches', 'min-ready-deferred', 'no-image', 'no-provider', 'no-target', 'sub-nodes'].sort(),
    );
  });
});
