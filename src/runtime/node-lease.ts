/**
 * The lease that makes the deletion of a node's servers exclusive: nodepoold's
 * deleteServer effect and `nodepool delete --now` both take it before they
 * call the cloud, so the same server is never deleted by two at once.
 */
import { hostname } from 'node:os';

/** Long enough for one delete call; `delete --now` renews it while it waits for the server to go. */
export const NODE_DELETE_LEASE_TTL_MS = 120_000;

export function nodeDeleteLease(nodeId: number): string {
  return `node-delete-${nodeId}`;
}

/** This process as a lease owner: `<program>:<host>:<pid>`. */
export function leaseOwner(program: string): string {
  return `${program}:${hostname()}:${process.pid}`;
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
