/**
 * Writes every persisted actor's snapshot with its record in one
 * transaction (docs/architecture.md, "Persistence"), for every kind the same
 * way:
 *
 * - an event that changed nothing (the same snapshot object: a list that
 *   told a ready node nothing new) is not written;
 * - writes are batched: whatever snapshots are waiting when a write starts
 *   go together in one transaction (up to BATCH_SIZE), and while it runs
 *   the next ones gather, only the newest of each actor; so a burst of a
 *   thousand transitions costs a few transactions, not a thousand, and the
 *   writes of one actor land in order;
 * - an actor that reached its final state has its record and snapshot
 *   removed together;
 * - a record that a command removed under a running actor is not written
 *   back: the snapshot goes too, and the daemon is told;
 * - the actors' transitions (src/actors/transition-recorder.ts) go in the
 *   same transactions: a transition is written with the snapshot it
 *   produced; one of an actor without a snapshot (a provider, the pool, the
 *   builder: their lists and allocations come and go all the time) waits for
 *   the next batch or for `writeTransitions`, so an idle daemon does not
 *   write for them.
 *
 * An actor stopped because the process stops is saved as it was when it
 * stopped, as running: a restart resumes it (src/actors/resumable.ts).
 */
import type { AnyActorRef } from 'xstate';
import type { Clock } from '../core/clock.js';
import { nextTurn } from '../core/next-turn.js';
import { isDatabaseUnreachable, type ActorTransition, type Database, type Repositories } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { PersistedKind, SnapshotView } from './persisted-kind.js';

/** Snapshots written per transaction at most. */
export const BATCH_SIZE = 500;
/** Transitions of actors without a snapshot kept waiting at most; the oldest go first (the history keeps 100 per actor anyway). */
const MAX_WAITING_TRANSITIONS = 2_000;
/** A batch the database refused is tried again after these pauses (a write conflict) before it is given up and logged. */
const RETRY_PAUSES_MS = [200, 1000];
/**
 * While the database does not answer, the writes wait: tried again after a
 * pause that doubles from the first to the last, for as long as it takes.
 * Nothing is given up, or the rows would say what the actors no longer are
 * (a node gone from the cloud still `ready` in the database, so never
 * replaced).
 */
const OUTAGE_PAUSE_MS = { first: 500, last: 2_000 };

export class ActorPersistence {
  /** Actors with a snapshot waiting to be written, in the order they changed. */
  private readonly pending = new Map<string, AnyActorRef>();
  /** Transitions waiting to be written, in the order they happened. */
  private transitions: ActorTransition[] = [];
  /** The last snapshot object seen per actor: XState hands out the same object when an event changed nothing. */
  private readonly seen = new Map<string, unknown>();
  private writing: Promise<void> | undefined;
  /** Since when the database has not answered (unset while it does). */
  private outageSince: number | undefined;
  /** An outage ended during the current writes: say so once everything kept meanwhile is written. */
  private outageEnded = false;

  constructor(
    private readonly db: Database,
    private readonly kinds: readonly PersistedKind[],
    private readonly log: Logger,
    private readonly clock: Clock,
    /** Called when an actor's record vanished under it (a command removed it). */
    private readonly onRecordGone: (actorId: string, kind: PersistedKind) => void,
    /** Called when the states kept through an outage are all written: the records say what the actors are again. */
    private readonly onCaughtUp: () => void = () => {},
  ) {}

  kindOf(actorId: string): PersistedKind | undefined {
    return this.kinds.find((k) => k.owns(actorId));
  }

  /** Told of every snapshot of a persisted actor (from the inspection stream). */
  noteSnapshot(actor: AnyActorRef, snapshot: SnapshotView): void {
    // The snapshot of an actor stopped with its process says nothing new; an errored one is not saved over a good one.
    if (snapshot.status !== 'active' && snapshot.status !== 'done') {
      this.seen.delete(actor.id);
      return;
    }
    if (this.seen.get(actor.id) === snapshot) return;
    if (snapshot.status === 'done') this.seen.delete(actor.id);
    else this.seen.set(actor.id, snapshot);
    this.pending.delete(actor.id);
    this.pending.set(actor.id, actor);
    this.startWriting();
  }

  /**
   * A transition of a recorded actor. One with a snapshot of its own is
   * written with it; any other waits for the next batch or for
   * `writeTransitions`.
   */
  noteTransition(transition: ActorTransition): void {
    this.transitions.push(transition);
    if (this.kindOf(transition.actorId)) {
      this.startWriting();
    } else if (this.transitions.length > MAX_WAITING_TRANSITIONS) {
      const index = this.transitions.findIndex((t) => !this.kindOf(t.actorId));
      this.transitions.splice(index, 1);
    }
  }

  /** Writes the transitions that wait for a batch now. */
  writeTransitions(): void {
    if (this.transitions.length > 0) this.startWriting();
  }

  private startWriting(): void {
    this.writing ??= this.writeAll().finally(() => {
      this.writing = undefined;
    });
  }

  /** Resolves when every write asked for so far is done. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async writeAll(): Promise<void> {
    // Each batch starts at the next turn of the event loop: the events
    // already queued add their snapshots to it (with SQLite a transaction is
    // over before the next event arrives, so a burst would otherwise cost a
    // transaction per snapshot), and the timers due run first.
    for (await nextTurn(); this.pending.size > 0 || this.transitions.length > 0; await nextTurn()) {
      const batch = [...this.pending].slice(0, BATCH_SIZE);
      for (const [actorId] of batch) this.pending.delete(actorId);
      // The transitions so far belong with these snapshots (those of actors beyond the batch come before their snapshots: history first).
      const transitions = this.transitions;
      this.transitions = [];
      await this.writeWithRetries(batch, transitions);
    }
    if (this.outageEnded) {
      this.outageEnded = false;
      this.onCaughtUp();
    }
  }

  private async writeWithRetries(batch: [string, AnyActorRef][], transitions: readonly ActorTransition[]): Promise<void> {
    let refusals = 0;
    let outagePause = OUTAGE_PAUSE_MS.first;
    for (;;) {
      try {
        const gone = await this.db.transaction(async (tx) => {
          const vanished = await this.writeBatch(tx, batch);
          await tx.transitions.appendMany(transitions);
          return vanished;
        });
        for (const [actorId, kind] of gone) {
          this.seen.delete(actorId);
          this.onRecordGone(actorId, kind);
        }
        this.outageOver();
        return;
      } catch (err) {
        // Newer states of these actors are waiting: writing them supersedes this batch.
        const rest = batch.filter(([actorId]) => !this.pending.has(actorId));
        // What happened is history however newer the states are: the transitions are always tried again.
        if (rest.length === 0 && transitions.length === 0) return;
        batch = rest;
        let pause: number;
        if (isDatabaseUnreachable(err)) {
          this.outageBegins(err);
          pause = outagePause;
          outagePause = Math.min(OUTAGE_PAUSE_MS.last, outagePause * 2);
        } else if (refusals < RETRY_PAUSES_MS.length) {
          this.log.warn({ err, actors: rest.length, transitions: transitions.length }, `could not persist the state of ${rest.length} actor(s); trying again`);
          pause = RETRY_PAUSES_MS[refusals] as number;
          refusals += 1;
        } else {
          this.log.error({ err, actors: batch.length, transitions: transitions.length }, `could not persist the state of ${batch.length} actor(s) and ${transitions.length} transition(s)`);
          return;
        }
        await new Promise((resolve) => this.clock.setTimeout(() => resolve(undefined), pause));
      }
    }
  }

  /** Logged once per outage, not once per attempt. */
  private outageBegins(err: unknown): void {
    if (this.outageSince !== undefined) return;
    this.outageSince = this.clock.now();
    this.log.error({ err }, 'the database does not answer: the actors go on, and their states are written once it answers again');
  }

  private outageOver(): void {
    if (this.outageSince === undefined) return;
    const seconds = Math.round((this.clock.now() - this.outageSince) / 1000);
    this.outageSince = undefined;
    this.outageEnded = true;
    this.log.info({ outageSeconds: seconds }, `the database answers again after ${seconds} s; the states kept meanwhile are written`);
  }

  /**
   * A batch of actors, kind by kind, in as few statements as each kind
   * allows: finished ones lose their records and snapshots, the others have
   * their records and snapshots written. Returns the actors whose record was
   * gone.
   */
  private async writeBatch(tx: Repositories, batch: readonly [string, AnyActorRef][]): Promise<[string, PersistedKind][]> {
    const gone: [string, PersistedKind][] = [];
    for (const kind of this.kinds) {
      const actors = batch.filter(([actorId]) => kind.owns(actorId)).map(([actorId, actor]) => ({ actorId, actor, snapshot: actor.getSnapshot() as SnapshotView }));
      if (actors.length === 0) continue;
      const finished = actors.filter((a) => a.snapshot.status === 'done').map((a) => a.actorId);
      if (finished.length > 0) {
        await kind.removeRecords(tx, finished);
        await tx.snapshots.deleteMany(finished);
      }
      const live = actors.filter((a) => a.snapshot.status !== 'done');
      if (live.length === 0) continue;
      const vanished = await kind.writeRecords(tx, live);
      if (vanished.size > 0) await tx.snapshots.deleteMany([...vanished]);
      for (const actorId of vanished) gone.push([actorId, kind]);
      await tx.snapshots.saveMany(
        live.filter((a) => !vanished.has(a.actorId)).map((a) => ({ actorId: a.actorId, kind: kind.kind, snapshot: asRunning(a.actor.getPersistedSnapshot()) })),
      );
    }
    return gone;
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
