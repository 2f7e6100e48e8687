import type { Database } from '../../db/index.js';
import type { NodeRecord } from '../../db/records.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import { PROVIDER_LEASE_PREFIX } from '../../core/leases.js';
import { jsonRows } from '../../listings/json.js';
import { nodeJson, nodeTable } from '../../listings/node-rows.js';
import { providerOwners } from '../../listings/provider-rows.js';

export interface ListingOptions {
  json?: boolean;
}

export async function listNodes(db: Database, out: Output, options: ListingOptions): Promise<void> {
  const [nodes, owners] = await Promise.all([db.nodes.list(), heldProviderOwners(db)]);
  printNodes(nodes, out, options, owners);
}

/** Each provider held now, to its nodepoold (`host:pid`): the Manager of the nodes no Gearman manager took. */
export async function heldProviderOwners(db: Pick<Database, 'leases'>, now = Date.now()): Promise<Map<string, string>> {
  return providerOwners(await db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX), now);
}

/** `hold ID [--reason R]`: the node stays as it is until a person deletes it. */
export async function holdNode(db: Database, out: Output, id: number, reason: string | undefined): Promise<void> {
  const node = await db.transaction(async (tx) => {
    const current = await existingNode(tx, id);
    if (current.state === 'delete') {
      throw new CommandFailure(`Node ${id} is being deleted; it cannot be held.`);
    }
    await tx.nodes.update(id, { state: 'hold', comment: reason ?? current.comment });
    await tx.changes.append('node', id, 'hold');
    return existingNode(tx, id);
  });
  printNodes([node], out, {}, await heldProviderOwners(db));
}

/** `delete ID`: marks the node; nodepoold deletes its servers and then the row. */
export async function markNodeForDeletion(db: Database, out: Output, id: number): Promise<void> {
  const node = await db.transaction(async (tx) => {
    await existingNode(tx, id);
    await tx.nodes.setState(id, 'delete');
    await tx.changes.append('node', id, 'delete');
    return existingNode(tx, id);
  });
  printNodes([node], out, {}, await heldProviderOwners(db));
}

export async function existingNode(db: Pick<Database, 'nodes'>, id: number): Promise<NodeRecord> {
  const node = await db.nodes.get(id);
  if (!node) throw new CommandFailure(`Node ${id} not found.`);
  return node;
}

/** `owners`: each held provider's nodepoold, shown as the Manager of a node no Gearman manager took. */
export function printNodes(nodes: readonly NodeRecord[], out: Output, options: ListingOptions, owners?: ReadonlyMap<string, string>): void {
  const now = Date.now();
  out.out(options.json ? jsonRows(nodes.map((n) => nodeJson(n, now, owners))) : nodeTable(nodes, now, owners));
}
