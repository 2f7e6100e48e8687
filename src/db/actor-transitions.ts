/**
 * The actor_transition table: each actor's state changes, newest last
 * (migration 004). Written in batches with the snapshots; read by
 * `nodepool actor-show` and `why`; kept bounded by `prune`.
 */
import type { Knex } from 'knex';
import { type Clock, type Row, num, str } from './rows.js';
import { chunks } from './table.js';

const TABLE = 'actor_transition';
/** Longer strings are cut: an event type or a state path is short, a reason (a cloud's message) may not be. */
const MAX_STATE_CHARS = 255;
const MAX_REASON_CHARS = 2000;

export interface ActorTransition {
  actorId: string;
  /** The machine's name: node, subnode, build, upload, provider, pool, builder. */
  machine: string;
  /** ms epoch. */
  at: number;
  /** The event that made the change (`server.listed`, `tick`, `delete`, `done: building.creating`, ...). */
  event: string;
  /** The full state path before (`building.waitingForServer`); undefined for the actor's first state. */
  from?: string;
  to: string;
  /** Why, where there is a reason: the failure, the command's reason, the job. */
  reason?: string;
}

export interface StoredTransition extends ActorTransition {
  id: number;
}

function fromRow(r: Row): StoredTransition {
  return {
    id: num(r.id),
    actorId: str(r.actor_id),
    machine: str(r.machine),
    at: num(r.at),
    event: str(r.event),
    ...(r.from_state !== null && r.from_state !== undefined && { from: str(r.from_state) }),
    to: str(r.to_state),
    ...(r.reason !== null && r.reason !== undefined && { reason: str(r.reason) }),
  };
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export class ActorTransitionRepository {
  constructor(
    private readonly db: Knex,
    private readonly now: Clock,
  ) {}

  /** Many transitions in a few statements, in their order. */
  async appendMany(transitions: readonly ActorTransition[]): Promise<void> {
    for (const chunk of chunks(transitions, 200)) {
      await this.db(TABLE).insert(
        chunk.map((t) => ({
          actor_id: t.actorId,
          machine: t.machine,
          at: t.at,
          event: cut(t.event, MAX_STATE_CHARS),
          from_state: t.from === undefined ? null : cut(t.from, MAX_STATE_CHARS),
          to_state: cut(t.to, MAX_STATE_CHARS),
          reason: t.reason === undefined ? null : cut(t.reason, MAX_REASON_CHARS),
        })),
      );
    }
  }

  /** An actor's transitions, oldest first; the last `limit` when given. */
  async listFor(actorId: string, limit?: number): Promise<StoredTransition[]> {
    const q = this.db(TABLE).where('actor_id', actorId).orderBy('id', 'desc');
    if (limit !== undefined) q.limit(limit);
    return ((await q) as Row[]).map(fromRow).reverse();
  }

  /** The newest transition of each of these actors (for "time in state"). */
  async latestOf(actorIds: readonly string[]): Promise<Map<string, StoredTransition>> {
    const latest = new Map<string, StoredTransition>();
    for (const chunk of chunks(actorIds)) {
      const newest = this.db(TABLE).whereIn('actor_id', chunk).groupBy('actor_id').max({ id: 'id' });
      const rows = (await this.db(TABLE).whereIn('id', newest)) as Row[];
      for (const row of rows) latest.set(str(row.actor_id), fromRow(row));
    }
    return latest;
  }

  /** The newest transition of each actor whose id starts with one of `prefixes` or is one of `ids` (the roots and the providers). */
  async latestMatching(ids: readonly string[], prefixes: readonly string[]): Promise<StoredTransition[]> {
    const newest = this.db(TABLE)
      .where((q) => {
        q.whereIn('actor_id', [...ids]);
        for (const prefix of prefixes) q.orWhere('actor_id', 'like', `${prefix}%`);
      })
      .groupBy('actor_id')
      .max({ id: 'id' });
    return ((await this.db(TABLE).whereIn('id', newest)) as Row[]).map(fromRow);
  }

  /**
   * Keeps the history bounded: each actor keeps its newest `perActor`
   * transitions, and an actor that has no snapshot any more (a removed
   * node, a finished upload) and changed nothing since `removedBefore`
   * loses its history. Actors that never have a snapshot (the pool, the
   * providers, the builder) are kept by `keep`. Returns the rows removed.
   */
  async prune(options: { perActor: number; removedBefore: number; keep: (actorId: string) => boolean }): Promise<number> {
    let removed = 0;
    // Over the bound: every row past the newest `perActor` of its actor.
    const ranked = this.db(TABLE)
      .select('id')
      .select(this.db.raw('ROW_NUMBER() OVER (PARTITION BY actor_id ORDER BY id DESC) AS position'));
    const overflow = (await this.db.select('id').from(ranked.as('ranked')).where('position', '>', options.perActor)) as Row[];
    for (const chunk of chunks(overflow.map((r) => num(r.id)))) removed += await this.db(TABLE).whereIn('id', chunk).delete();
    // Histories of removed actors, once old enough.
    const stale = (await this.db(TABLE)
      .select('actor_id')
      .groupBy('actor_id')
      .havingRaw('MAX(at) < ?', [options.removedBefore])
      .whereNotIn('actor_id', this.db('actor_snapshot').select('actor_id'))) as Row[];
    const gone = stale.map((r) => str(r.actor_id)).filter((id) => !options.keep(id));
    for (const chunk of chunks(gone)) removed += await this.db(TABLE).whereIn('actor_id', chunk).delete();
    return removed;
  }

  /** Rows in the table: the benchmark's and the tests' measure. */
  async count(): Promise<number> {
    const row = (await this.db(TABLE).count({ n: '*' }).first()) as Row | undefined;
    return num(row?.n ?? 0);
  }
}
