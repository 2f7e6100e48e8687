/**
 * Every lease name and lease owner, in one place. A lease is a claim on a
 * piece of work in the database (src/db/leases.ts) that lapses unless its
 * owner renews it, so a process that dies lets its work go.
 */
import { hostname } from 'node:os';

/**
 * The lease that makes the deletion of a node's servers exclusive:
 * nodepoold's deleteServer effect and `nodepool delete --now` both take it
 * before they call the cloud, so the same server is never deleted by two at
 * once. Long enough for one delete call; `delete --now` renews it while it
 * waits for the server to go.
 */
export const NODE_DELETE_LEASE_TTL_MS = 120_000;

export function nodeDeleteLease(nodeId: number): string {
  return `node-delete-${nodeId}`;
}

/**
 * Held by the one nodepoold that drives a provider's nodes
 * (src/nodepoold/provider-ownership.ts): `provider:<name>`.
 */
export const PROVIDER_LEASE_PREFIX = 'provider:';

export function providerLease(provider: string): string {
  return `${PROVIDER_LEASE_PREFIX}${provider}`;
}

/** The provider a `provider:<name>` lease is for. */
export function providerOfLease(lease: string): string | undefined {
  return lease.startsWith(PROVIDER_LEASE_PREFIX) ? lease.slice(PROVIDER_LEASE_PREFIX.length) : undefined;
}

/** Held by the one nodepoold that runs the allocation over the whole pool. */
export const ALLOCATION_LEASE = 'nodepoold-allocation';

/** Only the holder of this lease plans builds and uploads; every builder then claims work. */
export const PLANNER_LEASE = 'builder-planner';

/** The lease on a build's or upload's work: its actor id with a prefix, e.g. `image-build-3`. */
export const imageWorkLease = (actorId: string) => `image-${actorId}`;

/** This process as a lease owner: `<program>:<host>:<pid>`. */
export function leaseOwner(program: string): string {
  return `${program}:${hostname()}:${process.pid}`;
}

/** A nodepoold's name in the daemon table and as a lease owner: `nodepoold:<host>:<pid>`. */
export function daemonName(): string {
  return leaseOwner('nodepoold');
}

/** A daemon name's host and pid. */
export function parseDaemonName(name: string): { host: string; pid: number } | undefined {
  const match = /^nodepoold:(.+):(\d+)$/.exec(name);
  return match ? { host: match[1] as string, pid: Number(match[2]) } : undefined;
}

/** How a daemon is shown to people (the Manager column, `provider-list`): `host:pid`. */
export function daemonLabel(name: string): string {
  const parsed = parseDaemonName(name);
  return parsed ? `${parsed.host}:${parsed.pid}` : name;
}

/**
 * nodepoold as a lease owner: `nodepoold:<host>`, without the pid, so a
 * nodepoold restarted after a crash takes its predecessor's leases over at
 * once instead of waiting out their TTL (a delete in flight at the crash is
 * repeated, which is safe). One nodepoold per database runs on a host.
 */
export function daemonLeaseOwner(): string {
  return `nodepoold:${hostname()}`;
}
