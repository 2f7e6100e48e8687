/**
 * How a node's deleteServer effect holds the node's delete lease
 * (docs/behaviour.md, "Deleting"): never two deletes of one node at once,
 * whether by nodepoold or by `nodepool delete --now`.
 */
import { nodeDeleteLease, NODE_DELETE_LEASE_TTL_MS } from '../core/leases.js';
import type { Database } from '../db/index.js';
import { NodeEffectError } from './node-effect-error.js';

export interface DeleteLease {
  /** Runs `call` holding node `nodeId`'s delete lease; rejects, naming the holder, when another process has it. */
  hold<T>(nodeId: number, call: () => Promise<T>): Promise<T>;
}

async function refused(db: Database, nodeId: number): Promise<never> {
  const holder = await db.leases.holder(nodeDeleteLease(nodeId));
  throw new NodeEffectError('other', `node ${nodeId} is being deleted by ${holder?.owner ?? 'another process'}`);
}

/** nodepoold: the lease is taken for each delete call and given back after it. */
export function leasePerCall(db: Database, owner: string): DeleteLease {
  return {
    async hold(nodeId, call) {
      const lease = nodeDeleteLease(nodeId);
      if (!(await db.leases.tryAcquire(lease, owner, NODE_DELETE_LEASE_TTL_MS))) return refused(db, nodeId);
      try {
        return await call();
      } finally {
        await db.leases.release(lease, owner).catch(() => {});
      }
    },
  };
}

/**
 * `delete --now`: the command took the lease before it started and keeps it
 * to the end, so nodepoold stays away meanwhile; each call renews it, and a
 * lease lost to another process stops the command.
 */
export function leaseHeldThroughout(db: Database, owner: string): DeleteLease {
  return {
    async hold(nodeId, call) {
      if (!(await db.leases.renew(nodeDeleteLease(nodeId), owner, NODE_DELETE_LEASE_TTL_MS))) return refused(db, nodeId);
      return call();
    },
  };
}
