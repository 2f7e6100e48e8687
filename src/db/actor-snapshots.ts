/** The actor_snapshot table: each actor's persisted XState snapshot, keyed by its system id. */
import type { Knex } from 'knex';
import type { ActorSnapshotRecord } from './records.js';
import { type Clock, type Row, num, str } from './rows.js';
import { chunks } from './table.js';

const TABLE = 'actor_snapshot';

function fromRow(r: Row): ActorSnapshotRecord {
  return { actorId: str(r.actor_id), kind: str(r.kind), snapshot: JSON.parse(str(r.snapshot)) as unknown, updatedAt: num(r.updated_at) };
}

export class ActorSnapshotRepository {
  constructor(
    private readonly db: Knex,
    private readonly now: Clock,
  ) {}

  /** Insert or replace (ON CONFLICT ... DO UPDATE on SQLite, ON DUPLICATE KEY UPDATE on MySQL). */
  async save(actorId: string, kind: string, snapshot: unknown): Promise<ActorSnapshotRecord> {
    const record: ActorSnapshotRecord = { actorId, kind, snapshot, updatedAt: this.now() };
    await this.db(TABLE)
      .insert({ actor_id: actorId, kind, snapshot: JSON.stringify(snapshot), updated_at: record.updatedAt })
      .onConflict('actor_id')
      .merge(['kind', 'snapshot', 'updated_at']);
    return record;
  }

  /** Many snapshots in a few statements: the persistence of a batch of actors. */
  async saveMany(snapshots: readonly { actorId: string; kind: string; snapshot: unknown }[]): Promise<void> {
    const updatedAt = this.now();
    for (const chunk of chunks(snapshots, 200)) {
      await this.db(TABLE)
        .insert(chunk.map((s) => ({ actor_id: s.actorId, kind: s.kind, snapshot: JSON.stringify(s.snapshot), updated_at: updatedAt })))
        .onConflict('actor_id')
        .merge(['kind', 'snapshot', 'updated_at']);
    }
  }

  async get(actorId: string): Promise<ActorSnapshotRecord | undefined> {
    const row = (await this.db(TABLE).where('actor_id', actorId).first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** The snapshots of these actors that exist (a provider's nodes, when a nodepoold takes the provider over). */
  async getMany(actorIds: readonly string[]): Promise<ActorSnapshotRecord[]> {
    const records: ActorSnapshotRecord[] = [];
    for (const chunk of chunks(actorIds)) records.push(...((await this.db(TABLE).whereIn('actor_id', chunk)) as Row[]).map(fromRow));
    return records;
  }

  /** Ordered by actor id. */
  async listByKind(kind: string): Promise<ActorSnapshotRecord[]> {
    const rows = (await this.db(TABLE).where('kind', kind).orderBy('actor_id')) as Row[];
    return rows.map(fromRow);
  }

  async delete(actorId: string): Promise<boolean> {
    return (await this.db(TABLE).where('actor_id', actorId).delete()) > 0;
  }

  async deleteMany(actorIds: readonly string[]): Promise<void> {
    for (const chunk of chunks(actorIds)) await this.db(TABLE).whereIn('actor_id', chunk).delete();
  }
}
