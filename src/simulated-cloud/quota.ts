/**
 * Nova's compute quota as both simulated clouds count and check it:
 * instances, cores and RAM (MB) of the project's servers.
 */
import { isGone, type ServerLife } from './server-life.js';

/** Per resource; -1 means unlimited, as Nova reports it. */
export interface QuotaLimits {
  instances: number;
  cores: number;
  ram: number;
}

export type QuotaUsage = QuotaLimits;

/** What a server weighs against the quota: its flavor's, as it was when the server was created. */
export interface ServerSize {
  vcpus: number;
  ram: number;
}

/**
 * What the servers use at `now`: every server not yet gone counts, ERROR and
 * deleting ones included (Nova frees the quota when the delete completes).
 */
export function quotaUsage<S extends ServerLife>(servers: Iterable<S>, now: number, sizeOf: (server: S) => ServerSize): QuotaUsage {
  const used: QuotaUsage = { instances: 0, cores: 0, ram: 0 };
  for (const server of servers) {
    if (isGone(server, now)) continue;
    const size = sizeOf(server);
    used.instances += 1;
    used.cores += size.vcpus;
    used.ram += size.ram;
  }
  return used;
}

/** The order Nova lists exceeded resources in: sorted by name. */
const RESOURCES = ['cores', 'instances', 'ram'] as const;

/**
 * Nova's check before one more server of `flavor`
 * (nova/compute/utils.py check_num_instances_quota): undefined when it fits,
 * otherwise the message of Nova's 403, naming every resource it would exceed,
 * e.g. `Quota exceeded for instances: Requested 1, but already used 10 of 10 instances`.
 */
export function quotaExceeded(limits: QuotaLimits, used: QuotaUsage, flavor: ServerSize): string | undefined {
  const wanted: QuotaUsage = { instances: 1, cores: flavor.vcpus, ram: flavor.ram };
  const overs = RESOURCES.filter((r) => limits[r] >= 0 && used[r] + wanted[r] > limits[r]);
  if (overs.length === 0) return undefined;
  const list = (values: QuotaUsage): string => overs.map((r) => String(values[r])).join(', ');
  const names = overs.join(', ');
  return `Quota exceeded for ${names}: Requested ${list(wanted)}, but already used ${list(used)} of ${list(limits)} ${names}`;
}
