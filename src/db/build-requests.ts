/** The build_request table: `nodepool image-build NAME` asks the builders for a build now. */
import type { Knex } from 'knex';
import type { BuildRequestRecord } from './records.js';
import { type Clock, type ColumnMap, type Row, num, numOrNull, str } from './rows.js';
import { Table } from './table.js';

const columns: ColumnMap<BuildRequestRecord> = {
  id: 'id',
  image: 'image',
  requestedAt: 'requested_at',
  handledAt: 'handled_at',
};

function fromRow(r: Row): BuildRequestRecord {
  return { id: num(r.id), image: str(r.image), requestedAt: num(r.requested_at), handledAt: numOrNull(r.handled_at) };
}

export class BuildRequestRepository extends Table<BuildRequestRecord> {
  constructor(db: Knex, now: Clock) {
    super(db, now, { table: 'build_request', kind: 'build request', columns, fromRow });
  }

  create(image: string): Promise<BuildRequestRecord> {
    return this.insert({ image, requestedAt: this.now(), handledAt: null });
  }

  /** Requests no builder has started yet, oldest first. */
  async listPending(image?: string): Promise<BuildRequestRecord[]> {
    const q = this.query().whereNull('handled_at').orderBy('id');
    if (image !== undefined) q.where('image', image);
    return this.rows(await q);
  }

  /**
   * True for the one caller that marked it: the update is conditional on the
   * request still being pending, so two builders cannot both take it.
   */
  async markHandled(id: number): Promise<boolean> {
    const changed = await this.query().where('id', id).whereNull('handled_at').update({ handled_at: this.now() });
    return changed > 0;
  }
}
