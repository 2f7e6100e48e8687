/**
 * The node and sub-node actors as the actor host persists them: each
 * snapshot is written with its row in one transaction (docs/architecture.md,
 * "Persistence"), and a node that reached its end has its row removed with
 * its snapshot.
 */
import type { NodePatch, Repositories, SubnodePatch } from '../db/index.js';
import type { PersistedActor, PersistedKind, SnapshotView } from '../actors/persisted-kind.js';
import { parseActorId } from '../../machines/actor-ids.js';
import { nodeMachine, nodeStateOf, type NodeContext } from '../../machines/node.machine.js';

interface NodeSnapshotLike {
  value: unknown;
  context: NodeContext;
}

/** A sub-node row as its actor's snapshot says it is (sub-nodes are building, ready or deleted). */
export function subnodePatchOf(snapshot: NodeSnapshotLike): SubnodePatch {
  const state = nodeStateOf(snapshot.value);
  return {
    state: state === 'building' || state === 'delete' ? state : 'ready',
    externalId: snapshot.context.serverId ?? null,
    ip: snapshot.context.ip ?? null,
    ipPrivate: snapshot.context.ipPrivate ?? null,
  };
}

/**
 * A command's `delete` or `hold` in the row is the operator's word: an actor
 * that has not yet heard it (the change log is read every second, and a
 * restored actor hears it after its first write) must not walk it back.
 * Only deleting follows a hold; nothing but deleting follows a delete.
 */
export function keepCommandedState(rowState: string, patch: NodePatch): NodePatch {
  if (rowState === 'delete' && patch.state !== 'delete') return { ...patch, state: 'delete' };
  if (rowState === 'hold' && patch.state !== 'delete' && patch.state !== 'hold') return { ...patch, state: 'hold' };
  return patch;
}

/** The node row as a node actor's snapshot says it is. */
export function rowPatchOf(snapshot: NodeSnapshotLike): NodePatch {
  const { context } = snapshot;
  const patch: NodePatch = {
    state: nodeStateOf(snapshot.value),
    externalId: context.serverId ?? null,
    ip: context.ip ?? null,
    ipPrivate: context.ipPrivate ?? null,
  };
  if (context.comment !== undefined) patch.comment = context.comment;
  if (context.job !== undefined) patch.job = context.job;
  // The manager a target's Gearman worker named replaces the launching daemon's host name (the Manager column).
  if (context.manager !== undefined) patch.manager = context.manager;
  // A delete the cloud keeps refusing shows in `nodepool list`, with the cloud's words.
  if (patch.state === 'delete' && context.deleteError !== undefined) patch.comment = `delete failed (attempt ${context.deleteAttempts}): ${context.deleteError}`;
  return patch;
}

const idOf = (actorId: string) => Number(parseActorId(actorId)?.id);
const asNode = (snapshot: SnapshotView) => snapshot as unknown as NodeSnapshotLike;

/** One read for the batch, and the rows that changed written together. */
async function writeRows<T extends { id: number }>(
  table: {
    getMany(ids: readonly number[]): Promise<Map<number, T>>;
    updateManyFrom(updates: readonly { current: T; patch: Partial<Omit<T, 'id'>> }[]): Promise<void>;
  },
  actors: readonly PersistedActor[],
  patchOf: (current: T, snapshot: NodeSnapshotLike) => Partial<Omit<T, 'id'>>,
): Promise<Set<string>> {
  const rows = await table.getMany(actors.map((a) => idOf(a.actorId)));
  const gone = new Set<string>();
  const updates: { current: T; patch: Partial<Omit<T, 'id'>> }[] = [];
  for (const { actorId, snapshot } of actors) {
    const current = rows.get(idOf(actorId));
    if (current) updates.push({ current, patch: patchOf(current, asNode(snapshot)) });
    else gone.add(actorId);
  }
  await table.updateManyFrom(updates);
  return gone;
}

export const NODE_KIND: PersistedKind = {
  kind: 'node',
  owns: (actorId) => parseActorId(actorId)?.kind === 'node',
  machine: nodeMachine,
  stateOf: (snapshot) => nodeStateOf(snapshot.value),
  writeRecords: (tx: Repositories, actors) => writeRows(tx.nodes, actors, (row, snapshot) => keepCommandedState(row.state, rowPatchOf(snapshot))),
  removeRecords: (tx, actorIds) => tx.nodes.deleteMany(actorIds.map(idOf)),
};

export const SUBNODE_KIND: PersistedKind = {
  kind: 'subnode',
  owns: (actorId) => parseActorId(actorId)?.kind === 'subnode',
  machine: nodeMachine,
  stateOf: (snapshot) => nodeStateOf(snapshot.value),
  writeRecords: (tx, actors) => writeRows(tx.subnodes, actors, (_, snapshot) => subnodePatchOf(snapshot)),
  removeRecords: (tx, actorIds) => tx.subnodes.deleteMany(actorIds.map(idOf)),
};

export const NODE_KINDS: readonly PersistedKind[] = [NODE_KIND, SUBNODE_KIND];
