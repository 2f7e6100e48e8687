/**
 * One kind of persisted actor, as the actor host needs to know it: which
 * actor ids are its, which machine its snapshots restore into, and how its
 * record is written together with its snapshot (docs/architecture.md,
 * "Persistence"). Each daemon lists its kinds (src/nodepoold/node-kinds.ts,
 * src/builder/image-kinds.ts); the host does the rest the same way for all.
 */
import type { AnyStateMachine } from 'xstate';
import type { Repositories } from '../db/index.js';

/** What the host reads of a snapshot. */
export interface SnapshotView {
  status: string;
  value: unknown;
  context: unknown;
}

export interface PersistedKind {
  /** The `actor_snapshot.kind` of its snapshots. */
  readonly kind: string;
  /** Whether an actor id is one of this kind's (`node-12`, `upload-3`, ...). */
  owns(actorId: string): boolean;
  /** The machine its snapshots restore into: a saved snapshot that no longer fits it is not restored. */
  readonly machine: AnyStateMachine;
  /** The record's state for a snapshot, for the logs (`ready`, `uploading`, ...); `removed` once done. */
  stateOf(snapshot: SnapshotView): string;
  /**
   * Writes the records as the snapshots say they are, inside the snapshots'
   * transaction (a batch of actors at a time, in as few statements as the
   * kind can). Returns the actors whose record is gone (a command removed
   * it): their snapshots are then removed too, and the daemon told.
   */
  writeRecords(tx: Repositories, actors: readonly PersistedActor[]): Promise<Set<string>>;
  /** These actors reached their final state: their records go, in the transaction that removes their snapshots. */
  removeRecords(tx: Repositories, actorIds: readonly string[]): Promise<void>;
}

export interface PersistedActor {
  actorId: string;
  snapshot: SnapshotView;
}

/** A kind whose records are few (builds, uploads): written one by one. */
export function oneByOne(
  writeRecord: (tx: Repositories, actorId: string, snapshot: SnapshotView) => Promise<boolean>,
): PersistedKind['writeRecords'] {
  return async (tx, actors) => {
    const gone = new Set<string>();
    for (const { actorId, snapshot } of actors) if (!(await writeRecord(tx, actorId, snapshot))) gone.add(actorId);
    return gone;
  };
}
