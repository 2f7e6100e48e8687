/**
 * Writes every persisted actor's snapshot with its record in one
 * transaction (docs/architecture.md, "Persistence"), for every kind the same
 * way:
 *
 * - writes of one actor are serialised and coalesced (SerialWrites): while
 *   one is in flight only the newest snapshot waits, so a burst of
 *   transitions costs at most two writes;
 * - a snapshot equal to the last one written (a list that told a ready node
 *   nothing new) is not written again;
 * - an actor that reached its final state has its record and snapshot
 *   removed together;
 * - a record that a command removed under a running actor is not written
 *   back: the snapshot goes too, and the daemon is told.
 *
 * An actor stopped because the process stops is saved as it was when it
 * stopped, as running: a restart resumes it (src/actors/resumable.ts).
 */
import type { AnyActorRef } from 'xstate';
import type { Clock } from '../core/clock.js';
import { SerialWrites } from '../core/serial-writes.js';
import type { Database } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { PersistedKind, SnapshotView } from './persisted-kind.js';

export class ActorPersistence {
  private readonly writes: SerialWrites<AnyActorRef>;
  /** The last snapshot written per actor. */
  private readonly written = new Map<string, string>();

  constructor(
    private readonly db: Database,
    private readonly kinds: readonly PersistedKind[],
    log: Logger,
    clock: Clock,
    /** Called when an actor's record vanished under it (a command removed it). */
    private readonly onRecordGone: (actorId: string, kind: PersistedKind) => void,
  ) {
    this.writes = new SerialWrites((id, actor) => this.write(id, actor), log, 'could not persist actor state', clock);
  }

  kindOf(actorId: string): PersistedKind | undefined {
    return this.kinds.find((k) => k.owns(actorId));
  }

  /** Told of every snapshot of a persisted actor (from the inspection stream). */
  noteSnapshot(actor: AnyActorRef, status: string): void {
    // The snapshot of an actor stopped with its process says nothing new; an errored one is not saved over a good one.
    if (status !== 'active' && status !== 'done') return;
    this.writes.request(actor.id, actor);
  }

  /** Resolves when every write asked for so far is done. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  private async write(actorId: string, actor: AnyActorRef): Promise<void> {
    const kind = this.kindOf(actorId);
    if (!kind) return;
    const snapshot = actor.getSnapshot() as SnapshotView;
    if (snapshot.status === 'done') {
      await this.db.transaction(async (tx) => {
        await kind.removeRecord(tx, actorId);
        await tx.snapshots.delete(actorId);
      });
      this.written.delete(actorId);
      return;
    }
    const persisted = asRunning(actor.getPersistedSnapshot());
    const text = JSON.stringify(persisted);
    if (this.written.get(actorId) === text) return;
    const present = await this.db.transaction(async (tx) => {
      if (!(await kind.writeRecord(tx, actorId, snapshot))) {
        await tx.snapshots.delete(actorId);
        return false;
      }
      await tx.snapshots.save(actorId, kind.kind, persisted);
      return true;
    });
    if (present) {
      this.written.set(actorId, text);
    } else {
      this.written.delete(actorId);
      this.onRecordGone(actorId, kind);
    }
  }
}

/**
 * A persisted snapshot with every `stopped` status (the actor and the
 * effects it had in flight, stopped with the process) turned back into
 * `active`: restored, the actor runs on and its effects start again, which
 * every effect is written to allow.
 */
export function asRunning(persisted: unknown): unknown {
  if (typeof persisted !== 'object' || persisted === null) return persisted;
  const snapshot = persisted as { status?: unknown; children?: Record<string, { snapshot: unknown }> };
  const children = snapshot.children
    ? Object.fromEntries(Object.entries(snapshot.children).map(([id, child]) => [id, { ...child, snapshot: asRunning(child.snapshot) }]))
    : undefined;
  return {
    ...snapshot,
    ...(snapshot.status === 'stopped' && { status: 'active' }),
    ...(children && { children }),
  };
}
