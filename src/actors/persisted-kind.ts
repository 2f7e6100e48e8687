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
   * Writes the record as the snapshot says it is, inside the snapshot's
   * transaction. False when the record is gone (a command removed it): the
   * snapshot is then removed too, and the daemon told.
   */
  writeRecord(tx: Repositories, actorId: string, snapshot: SnapshotView): Promise<boolean>;
  /** The actor reached its final state: its record goes, in the transaction that removes its snapshot. */
  removeRecord(tx: Repositories, actorId: string): Promise<void>;
}
