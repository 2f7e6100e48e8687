/**
 * `delete ID --now`: deletes the node's servers and rows in the foreground
 * (behaviour.md section 2), safely beside a running nodepoold: both take the
 * node's delete lease before they call the cloud, so the same server is
 * never deleted by two at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Provider } from '../../config/types.js';
import type { Database, NodeRecord } from '../../db/index.js';
import { DriverError, type ProviderDriver, type Server } from '../../drivers/driver.js';
import { createDriver } from '../../drivers/factory.js';
import { leaseOwner, nodeDeleteLease, NODE_DELETE_LEASE_TTL_MS } from '../../runtime/node-lease.js';
import { nodeIdFromMetadata } from '../../runtime/server-metadata.js';
import type { NodepoolConfig } from '../../config/index.js';
import { nodeActorId } from '../../../machines/provider.machine.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import { existingNode, printNodes } from './nodes.js';

/** Longest wait for the provider to stop listing the servers (at most the launch-timeout when that is shorter). */
export const DELETE_NOW_TIMEOUT_MS = 300_000;

export interface DeleteNowOptions {
  /** Who holds the lease; default nodepool-cli:<host>:<pid>. */
  owner?: string;
  /** Bound on the wait until the servers are gone; default the provider's launch-timeout, at most 5 min. */
  timeoutMs?: number;
  /** Pause between list calls; default 1 s, or the provider's rate if slower. */
  pollMs?: number;
}

export async function deleteNodeNow(
  db: Database,
  config: NodepoolConfig,
  out: Output,
  id: number,
  options: DeleteNowOptions = {},
): Promise<void> {
  const node = await existingNode(db, id);
  const provider = config.providers.find((p) => p.name === node.provider);
  if (!provider) {
    throw new CommandFailure(
      `Node ${id}: provider ${node.provider} is not in the configuration, so its server cannot be deleted now; ` +
        `\`nodepool delete ${id}\` leaves it to nodepoold`,
    );
  }
  const driver = driverFor(provider, id);
  try {
    await underLease(db, id, options.owner ?? leaseOwner('nodepool-cli'), async (renew) => {
      const marked = await markForDeletion(db, id);
      if (!driver) {
        printNodes([marked.node], out, {});
        out.err(
          `Node ${id} is marked delete: the simulated cloud of provider ${provider.name} has no fake.state-file and ` +
            'lives only inside nodepoold, which deletes its servers and its row.',
        );
        return;
      }
      const deadline = Date.now() + (options.timeoutMs ?? Math.min(provider.launchTimeout * 1000, DELETE_NOW_TIMEOUT_MS));
      const pollMs = options.pollMs ?? Math.max(1000, provider.rate * 1000);
      const work = { driver, provider, node: marked.node, subnodeServers: marked.subnodeServers, deadline, pollMs, renew };
      await deleteServers(work);
      await waitUntilGone(work);
      await removeRows(db, id);
      printNodes([marked.node], out, {});
    });
  } finally {
    await driver?.close();
  }
}

/** The driver that reaches the node's cloud; undefined when only nodepoold can (a fake cloud without a state file). */
function driverFor(provider: Provider, id: number): ProviderDriver | undefined {
  if (provider.driver === 'fake' && provider.fake?.stateFile === undefined) return undefined;
  try {
    return createDriver(provider);
  } catch (err) {
    if (err instanceof DriverError) {
      throw new CommandFailure(`Node ${id} cannot be deleted now: provider ${provider.name}: ${err.message}`);
    }
    throw err;
  }
}

/** Runs fn holding the node's delete lease; refuses when someone else (nodepoold) holds it. */
async function underLease(db: Database, id: number, owner: string, fn: (renew: () => Promise<void>) => Promise<void>): Promise<void> {
  const lease = nodeDeleteLease(id);
  if (!(await db.leases.tryAcquire(lease, owner, NODE_DELETE_LEASE_TTL_MS))) {
    const holder = await db.leases.holder(lease);
    throw new CommandFailure(`Node ${id} is being deleted by ${holder?.owner ?? 'another process'}; try again or wait`);
  }
  const renew = async () => {
    if (!(await db.leases.renew(lease, owner, NODE_DELETE_LEASE_TTL_MS))) {
      throw new CommandFailure(`Node ${id}: lost the lease ${lease} to another process; stopped, the node stays marked delete`);
    }
  };
  try {
    await fn(renew);
  } finally {
    await db.leases.release(lease, owner).catch(() => {});
  }
}

/** State delete and a change row together, so a running nodepoold stops using the node at once. */
async function markForDeletion(db: Database, id: number): Promise<{ node: NodeRecord; subnodeServers: string[] }> {
  return db.transaction(async (tx) => {
    await existingNode(tx, id);
    await tx.nodes.setState(id, 'delete');
    await tx.changes.append('node', id, 'delete');
    const subnodeServers = (await tx.subnodes.listForNode(id)).flatMap((s) => (s.externalId ? [s.externalId] : []));
    return { node: await existingNode(tx, id), subnodeServers };
  });
}

interface Work {
  driver: ProviderDriver;
  provider: Provider;
  node: NodeRecord;
  subnodeServers: string[];
  deadline: number;
  pollMs: number;
  renew: () => Promise<void>;
}

/** The node's servers the provider lists: the recorded ones, and any carrying the node's metadata (a launch in flight). */
function serversOf(work: Work, servers: readonly Server[]): Server[] {
  const known = new Set([...work.subnodeServers, ...(work.node.externalId ? [work.node.externalId] : [])]);
  return servers.filter((s) => known.has(s.id) || nodeIdFromMetadata(s.metadata, work.provider.name) === work.node.id);
}

/** Sub-node servers first, then the node's own; a server already gone counts as deleted. */
async function deleteServers(work: Work): Promise<void> {
  const listed = serversOf(work, await listServers(work));
  const own = work.node.externalId;
  const ids = [...new Set([...work.subnodeServers, ...listed.map((s) => s.id).filter((s) => s !== own), ...(own ? [own] : [])])];
  for (const serverId of ids) await deleteServer(work, serverId);
}

async function deleteServer(work: Work, serverId: string): Promise<void> {
  for (;;) {
    try {
      await work.driver.deleteServer(serverId);
      return;
    } catch (err) {
      if (err instanceof DriverError && err.kind === 'not-found') return;
      if (!(err instanceof DriverError && err.retryable) || Date.now() + work.pollMs > work.deadline) {
        throw new CommandFailure(`Node ${work.node.id}: deleting server ${serverId} failed: ${(err as Error).message}; the node stays marked delete`);
      }
    }
    await pause(work);
  }
}

async function waitUntilGone(work: Work): Promise<void> {
  for (;;) {
    const left = serversOf(work, await listServers(work));
    if (left.length === 0) return;
    if (Date.now() + work.pollMs > work.deadline) {
      throw new CommandFailure(
        `Node ${work.node.id}: provider ${work.provider.name} still lists server(s) ${left.map((s) => s.id).join(', ')}; ` +
          'gave up waiting, the node stays marked delete and nodepoold finishes it',
      );
    }
    await pause(work);
  }
}

async function listServers(work: Work): Promise<Server[]> {
  for (;;) {
    try {
      return await work.driver.listServers();
    } catch (err) {
      if (!(err instanceof DriverError && err.retryable) || Date.now() + work.pollMs > work.deadline) {
        throw new CommandFailure(`Node ${work.node.id}: listing the servers of provider ${work.provider.name} failed: ${(err as Error).message}`);
      }
    }
    await pause(work);
  }
}

async function pause(work: Work): Promise<void> {
  await sleep(work.pollMs);
  await work.renew();
}

/** The rows go together with the actor's snapshot; the change row tells a running nodepoold. */
async function removeRows(db: Database, id: number): Promise<void> {
  await db.transaction(async (tx) => {
    for (const subnode of await tx.subnodes.listForNode(id)) await tx.subnodes.delete(subnode.id);
    await tx.nodes.delete(id);
    await tx.snapshots.delete(nodeActorId(id));
    await tx.changes.append('node', id, 'deleted');
  });
}
