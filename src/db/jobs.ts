/** The job table: per-job settings made with `nodepool job-create` (hold-on-failure). */
import type { Knex } from 'knex';
import { DuplicateJob, isUniqueViolation } from './errors.js';
import type { JobRecord } from './records.js';
import { type Clock, type ColumnMap, type Row, num, str } from './rows.js';
import { Table } from './table.js';

const columns: ColumnMap<JobRecord> = { id: 'id', name: 'name', holdOnFailure: 'hold_on_failure' };

function fromRow(r: Row): JobRecord {
  return { id: num(r.id), name: str(r.name), holdOnFailure: num(r.hold_on_failure) };
}

export class JobRepository extends Table<JobRecord> {
  constructor(db: Knex, now: Clock) {
    super(db, now, { table: 'job', kind: 'job', columns, fromRow });
  }

  /** DuplicateJob if the name is taken (the unique index decides, so two commands racing cannot both win). */
  async create(name: string, holdOnFailure = 0): Promise<JobRecord> {
    try {
      return await this.insert({ name, holdOnFailure });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateJob(name);
      throw err;
    }
  }

  /** Ordered by id. */
  async list(): Promise<JobRecord[]> {
    return this.rows(await this.query().orderBy('id'));
  }

  async getByName(name: string): Promise<JobRecord | undefined> {
    const row = (await this.query().where('name', name).first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }
}
