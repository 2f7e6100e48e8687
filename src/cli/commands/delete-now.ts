/**
 * `delete ID --now`: deletes the node's servers and rows in the foreground,
 * by the node machine's own deletion run in this process
 * (src/nodepoold/node-deletion.ts), safely beside a running nodepoold: the
 * command holds the node's delete lease from start to end, so nodepoold
 * never deletes the same server at the same time.
 */
import { ActorHost } from '../../actors/host.js';
import type { NodepoolConfig, SecureConfig } from '../../config/index.js';
import { systemClock } from '../../core/clock.js';
import { leaseOwner, nodeDeleteLease, NODE_DELETE_LEASE_TTL_MS } from '../../core/leases.js';
import type { Database, NodeRecord, SubnodeRecord } from '../../db/index.js';
import { DriverError } from '../../drivers/driver.js';
import { GatewayRegistry } from '../../gateway/index.js';
import type { Logging } from '../../log/index.js';
import { leaseHeldThroughout } from '../../nodepoold/delete-lease.js';
import { NodeDeletion } from '../../nodepoold/node-deletion.js';
import { TargetRegistry } from '../../targets/index.js';
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
  /** The secure file's Jenkins sections: a registered node's agent is removed first. */
  secureJenkins?: SecureConfig['jenkins'];
}

export async function deleteNodeNow(
  db: Database,
  config: NodepoolConfig,
  logging: Logging,
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
  const gateways = new GatewayRegistry({ logging, clock: systemClock });
  try {
    let capabilities;
    try {
      capabilities = gateways.open(provider).capabilities;
    } catch (err) {
      if (err instanceof DriverError) throw new CommandFailure(`Node ${id} cannot be deleted now: provider ${provider.name}: ${err.message}`, { code: err.code });
      throw err;
    }
    const owner = options.owner ?? leaseOwner('nodepool-cli');
    await underLease(db, id, owner, async () => {
      const marked = await markForDeletion(db, id);
      if (!capabilities.sharedAcrossProcesses) {
        printNodes([marked.node], out, {});
        const why = capabilities.localOnlyReason ?? 'its cloud lives only inside nodepoold';
        out.err(`Node ${id} is marked delete: provider ${provider.name}: ${why}, which deletes its servers and its row.`);
        return;
      }
      const timeoutMs = options.timeoutMs ?? Math.min(provider.launchTimeout * 1000, DELETE_NOW_TIMEOUT_MS);
      await runDeletion({ db, config, logging, gateways, owner, node: marked.node, subnodes: marked.subnodes, timeoutMs, secureJenkins: options.secureJenkins });
      await db.changes.append('node', id, 'deleted');
      printNodes([marked.node], out, {});
    });
  } finally {
    await gateways.close();
  }
}

interface Deletion {
  db: Database;
  config: NodepoolConfig;
  logging: Logging;
  gateways: GatewayRegistry;
  owner: string;
  node: NodeRecord;
  subnodes: SubnodeRecord[];
  timeoutMs: number;
  secureJenkins: SecureConfig['jenkins'] | undefined;
}

/** Runs the deletion until the servers are gone, or gives up at the deadline with what is left. */
async function runDeletion(deletion: Deletion): Promise<void> {
  const { db, config, logging, gateways, node } = deletion;
  const host = new ActorHost({ db, config, logging, gateways });
  const targets = new TargetRegistry({ clock: systemClock, log: logging.get('nodepool.targets'), ...(deletion.secureJenkins && { secure: deletion.secureJenkins }) });
  targets.configure(config.targets, config.gearmanServers);
  const work = new NodeDeletion(host, { node, subnodes: deletion.subnodes, deleteLease: leaseHeldThroughout(db, deletion.owner), targets });
  host.add(work);
  await host.start();
  let timer: NodeJS.Timeout | undefined;
  let renewal: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deletion.timeoutMs);
  });
  // The lease is renewed while the command waits for the servers to go; lost, the command stops.
  const lost = new Promise<'lost'>((resolve) => {
    renewal = setInterval(() => {
      void db.leases.renew(nodeDeleteLease(node.id), deletion.owner, NODE_DELETE_LEASE_TTL_MS).then((held) => held || resolve('lost'), () => {});
    }, NODE_DELETE_LEASE_TTL_MS / 4);
  });
  try {
    const outcome = await Promise.race([work.done.then(() => 'done' as const), gaveUp, lost]);
    if (outcome === 'lost') {
      throw new CommandFailure(`Node ${node.id}: lost the lease ${nodeDeleteLease(node.id)} to another process; stopped, the node stays marked delete`, {
        code: 'NP_DELETE_NOW',
      });
    }
    if (outcome === 'timeout') {
      const left = work.remaining();
      const servers = left.flatMap((l) => (l.serverId ? [l.serverId] : []));
      const error = left.find((l) => l.deleteError)?.deleteError;
      throw new CommandFailure(
        `Node ${node.id}: provider ${node.provider} still lists server(s) ${servers.join(', ') || '(not yet known)'}` +
          `${error ? ` (the last delete failed: ${error})` : ''}; gave up waiting, the node stays marked delete and nodepoold finishes it`,
        { code: 'NP_DELETE_NOW' },
      );
    }
  } finally {
    clearTimeout(timer);
    clearInterval(renewal);
    // What is left is saved where it stands: nodepoold resumes it.
    await host.stop();
    await targets.close();
  }
}

/** Runs fn holding the node's delete lease; refuses when someone else (nodepoold) holds it. */
async function underLease(db: Database, id: number, owner: string, fn: () => Promise<void>): Promise<void> {
  const lease = nodeDeleteLease(id);
  if (!(await db.leases.tryAcquire(lease, owner, NODE_DELETE_LEASE_TTL_MS))) {
    const holder = await db.leases.holder(lease);
    throw new CommandFailure(`Node ${id} is being deleted by ${holder?.owner ?? 'another process'}; try again or wait`);
  }
  try {
    await fn();
  } finally {
    await db.leases.release(lease, owner).catch(() => {});
  }
}

/** State delete and a change row together, so a running nodepoold stops using the node at once. */
async function markForDeletion(db: Database, id: number): Promise<{ node: NodeRecord; subnodes: SubnodeRecord[] }> {
  return db.transaction(async (tx) => {
    await existingNode(tx, id);
    await tx.nodes.setState(id, 'delete');
    await tx.changes.append('node', id, 'delete');
    return { node: await existingNode(tx, id), subnodes: await tx.subnodes.listForNode(id) };
  });
}
