/** Free servers per provider, and the sub-node deficits that take them first. */
import type { AllocationInput, SubnodeLaunch } from './types.js';
import { wholeNumber } from './numbers.js';

/** Providers by index (configuration order); arrays below share that index. */
export interface Pool {
  names: readonly string[];
  index: ReadonlyMap<string, number>;
  /** max-servers above 0; a provider at -1 or 0 is retired and launches nothing. */
  live: readonly boolean[];
  /** Free servers at the start of the run. */
  free: readonly number[];
  /** Free servers after sub-node deficits: each provider's weight when spreading. */
  weight: number[];
  /** Free servers left; every grant takes from here. */
  room: number[];
  /** What bounds each provider's free servers: its max-servers, or the cloud's quota when that is lower. */
  limit: readonly ProviderLimit[];
}

export type ProviderLimit = 'max-servers' | 'quota';

export function openPool(input: AllocationInput): Pool {
  const { providers } = input.config;
  const names = providers.map((p) => p.name);
  const index = new Map(names.map((name, i) => [name, i] as const));
  const held = serversHeld(input);
  const limit: ProviderLimit[] = [];
  const free = providers.map((p) => {
    limit.push('max-servers');
    if (!(p.maxServers > 0)) return 0;
    const servers = held.get(p.name) ?? 0;
    const room = Math.max(0, Math.floor(p.maxServers) - servers);
    const quota = input.quotaHeadroom?.[p.name];
    if (quota === undefined || !Number.isFinite(quota) || wholeNumber(quota) >= room) return room;
    limit[limit.length - 1] = 'quota';
    return wholeNumber(quota);
  });
  const live = providers.map((p) => p.maxServers > 0);
  return { names, index, live, free, weight: [...free], room: [...free], limit };
}

/**
 * Servers each provider holds: the caller's figure where it gave one,
 * otherwise estimated from the node counts (a node and its label's
 * sub-nodes, in every state: every server counts against max-servers).
 */
export function serversHeld(input: Pick<AllocationInput, 'config' | 'nodes' | 'providerServers'>): Map<string, number> {
  const subnodes = new Map(input.config.labels.map((l) => [l.name, wholeNumber(l.subnodes)] as const));
  const servers = new Map<string, number>();
  for (const t of input.nodes) {
    const n = wholeNumber(t.count) * (1 + (subnodes.get(t.label) ?? 0));
    servers.set(t.provider, (servers.get(t.provider) ?? 0) + n);
  }
  for (const [provider, count] of Object.entries(input.providerServers ?? {})) servers.set(provider, wholeNumber(count));
  return servers;
}

/**
 * Sub-nodes owed to existing nodes, oldest node first, as far as room allows.
 * `canLaunch(provider, label)` says whether the label may launch there at all
 * (enabled, image ready). Spreading weights are taken after this.
 */
export function fillSubnodeDeficits(
  input: AllocationInput,
  pool: Pool,
  canLaunch: (provider: number, label: string) => boolean,
): SubnodeLaunch[] {
  const deficits = [...(input.subnodeDeficits ?? [])].sort((a, b) => a.nodeId - b.nodeId);
  const launches: SubnodeLaunch[] = [];
  for (const d of deficits) {
    const p = pool.index.get(d.provider);
    if (p === undefined || !canLaunch(p, d.label)) continue;
    const count = Math.min(wholeNumber(d.missing), pool.room[p] ?? 0);
    if (count === 0) continue;
    pool.room[p] = (pool.room[p] ?? 0) - count;
    launches.push({ nodeId: d.nodeId, provider: d.provider, label: d.label, count });
  }
  pool.weight = [...pool.room];
  return launches;
}
