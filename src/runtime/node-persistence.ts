import type { AnyActorRef } from 'xstate';
import type { Database, NodePatch, Repositories, SubnodePatch } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { nodeStateOf, type NodeContext } from '../../machines/node.machine.js';
import { SerialWrites } from './serial-writes.js';

interface NodeSnapshotLike {
  status: string;
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

/** The row behind an actor id: `node-12` or `subnode-3`. */
function recordOf(actorId: string): { kind: 'node' | 'subnode'; id: number } {
  const [kind, id] = actorId.split('-') as [string, string];
  return { kind: kind === 'subnode' ? 'subnode' : 'node', id: Number(id) };
}

async function currentState(tx: Repositories, record: { kind: 'node' | 'subnode'; id: number }): Promise<string | undefined> {
  return record.kind === 'node' ? (await tx.nodes.get(record.id))?.state : (await tx.subnodes.get(record.id))?.state;
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
  return patch;
}

/**
 * Writes each node actor's snapshot and its node row in one transaction at
 * every change (design.md "Truth and actors"), so a crash leaves them
 * consistent. Writes of one node are serialised and coalesced: while one is
 * in flight only the newest snapshot waits, so a burst of transitions costs
 * at most two writes, and a snapshot equal to the last one written (a
 * server list that told a ready node nothing new) is not written at all. A
 * node that reached its final state has its row and snapshot removed
 * together.
 */
export class NodePersistence {
  private readonly writes: SerialWrites<AnyActorRef>;
  /** The last snapshot written per actor: an event that changed nothing is not written again. */
  private readonly written = new Map<string, string>();

  constructor(
    private readonly db: Database,
    log: Logger,
    /** Called when a node's row has vanished under it (deleted by `delete --now`). */
    private readonly onRowGone: (nodeId: number) => void = () => {},
  ) {
    this.writes = new SerialWrites((id, actor) => this.write(id, actor), log, 'could not persist node state');
  }

  /** Told of every snapshot of a node actor (from the inspection stream). */
  noteSnapshot(actor: AnyActorRef): void {
    this.writes.request(actor.id, actor);
  }

  /** Resolves when every write asked for so far is done. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  private async write(actorId: string, actor: AnyActorRef): Promise<void> {
    const record = recordOf(actorId);
    const snapshot = actor.getSnapshot() as NodeSnapshotLike;
    if (snapshot.status === 'done') {
      await this.db.transaction(async (tx) => {
        if (record.kind === 'node') await tx.nodes.delete(record.id);
        else await tx.subnodes.delete(record.id);
        await tx.snapshots.delete(actorId);
      });
      this.written.delete(actorId);
      return;
    }
    const persisted = actor.getPersistedSnapshot();
    const text = JSON.stringify(persisted);
    if (this.written.get(actorId) === text) return;
    const gone = await this.db.transaction(async (tx) => {
      const rowState = await currentState(tx, record);
      if (rowState === undefined) {
        await tx.snapshots.delete(actorId);
        return true;
      }
      if (record.kind === 'node') await tx.nodes.update(record.id, keepCommandedState(rowState, rowPatchOf(snapshot)));
      else await tx.subnodes.update(record.id, subnodePatchOf(snapshot));
      await tx.snapshots.save(actorId, record.kind, persisted);
      return false;
    });
    if (gone) {
      this.written.delete(actorId);
      if (record.kind === 'node') this.onRowGone(record.id);
    } else {
      this.written.set(actorId, text);
    }
  }
}
