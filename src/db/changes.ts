/**
 * The change table: a log of changes made by the commands, appended in the
 * same transaction as the change itself. Daemons poll `since(last seen id)`.
 *
 * Caveat for pollers: on MySQL an id is allocated at insert time but becomes
 * visible at commit, so two concurrent transactions can commit ids out of
 * order. The daemons' poller (src/streams/changes.ts) re-reads a window
 * behind its last id for that reason.
 */
import type { Knex } from 'knex';
import type { ChangeRecord } from './records.js';
import { chunks } from './table.js';
import { type Clock, type Row, num, str, strOrNull } from './rows.js';

const TABLE = 'change';

export type ChangeKind = ChangeRecord['kind'];

function fromRow(r: Row): ChangeRecord {
  return { id: num(r.id), kind: str(r.kind) as ChangeKind, recordId: num(r.record_id), action: str(r.action), at: num(r.at), detail: strOrNull(r.detail) };
}

export class ChangeRepository {
  constructor(
    private readonly db: Knex,
    private readonly now: Clock,
  ) {}

  async append(kind: ChangeKind, recordId: number, action: string, detail: string | null = null): Promise<ChangeRecord> {
    const at = this.now();
    const [id] = (await this.db(TABLE).insert({ kind, record_id: recordId, action, at, ...(detail !== null && { detail }) })) as unknown[];
    return { id: num(id), kind, recordId, action, at, detail };
  }

  /** Many changes in one statement (the launches an allocation made for providers other daemons drive). */
  async appendMany(changes: readonly { kind: ChangeKind; recordId: number; action: string }[]): Promise<void> {
    const at = this.now();
    for (const chunk of chunks(changes, 200)) await this.db(TABLE).insert(chunk.map((c) => ({ kind: c.kind, record_id: c.recordId, action: c.action, at })));
  }

  /** Changes with id > lastId, oldest first, at most `limit`. */
  async since(lastId: number, limit = 1000): Promise<ChangeRecord[]> {
    const rows = (await this.db(TABLE).where('id', '>', lastId).orderBy('id').limit(limit)) as Row[];
    return rows.map(fromRow);
  }

  /** The newest id, 0 when there is none: where a starting daemon begins polling. */
  async latestId(): Promise<number> {
    const row = (await this.db(TABLE).max({ id: 'id' }).first()) as Row | undefined;
    return row?.id === null || row?.id === undefined ? 0 : num(row.id);
  }
}
