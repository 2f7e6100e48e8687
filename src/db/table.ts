/**
 * What the record repositories with an integer id have in common: get,
 * insert, delete, and (for records with a state) update that stamps
 * state_time when the state changes.
 */
import type { Knex } from 'knex';
import { NotFound } from './errors.js';
import { type Clock, type ColumnMap, type Row, defined, toRow } from './rows.js';

export interface TableSpec<T extends { id: number }> {
  table: string;
  /** Record kind named in NotFound errors: 'node', 'upload', ... */
  kind: string;
  columns: ColumnMap<T>;
  fromRow(row: Row): T;
  /** Values the columns hold that differ from the record's (e.g. JSON text); default identity. */
  encode?(fields: Partial<T>): Partial<Record<keyof T, unknown>>;
}

export class Table<T extends { id: number }> {
  constructor(
    protected readonly db: Knex,
    protected readonly now: Clock,
    protected readonly spec: TableSpec<T>,
  ) {}

  protected query(): Knex.QueryBuilder {
    return this.db(this.spec.table);
  }

  protected row(fields: Partial<T>): Row {
    const encoded = this.spec.encode ? { ...fields, ...this.spec.encode(fields) } : fields;
    return toRow(this.spec.columns, encoded as Partial<T>);
  }

  protected rows(rows: Row[]): T[] {
    return rows.map((r) => this.spec.fromRow(r));
  }

  async get(id: number): Promise<T | undefined> {
    const row = (await this.query().where('id', id).first()) as Row | undefined;
    return row ? this.spec.fromRow(row) : undefined;
  }

  /** Like get, but a missing row is a NotFound error. */
  async require(id: number): Promise<T> {
    const record = await this.get(id);
    if (!record) throw new NotFound(this.spec.kind, id);
    return record;
  }

  /** Insert a complete record but its id; the record comes back with the id the database gave it. */
  protected async insert(record: Omit<T, 'id'>): Promise<T> {
    const [id] = (await this.query().insert(this.row(record as Partial<T>))) as unknown[];
    return { ...record, id: Number(id) } as T;
  }

  /** The records of these ids that exist, read in a few queries however many there are. */
  async getMany(ids: readonly number[]): Promise<Map<number, T>> {
    const found = new Map<number, T>();
    for (const chunk of chunks(ids)) {
      for (const row of (await this.query().whereIn('id', chunk)) as Row[]) {
        const record = this.spec.fromRow(row);
        found.set(record.id, record);
      }
    }
    return found;
  }

  /** True if a row was deleted. */
  async delete(id: number): Promise<boolean> {
    return (await this.query().where('id', id).delete()) > 0;
  }

  async deleteMany(ids: readonly number[]): Promise<void> {
    for (const chunk of chunks(ids)) await this.query().whereIn('id', chunk).delete();
  }

  /** Write the fields given (undefined ones are left alone); NotFound if there is no such row. */
  async update(id: number, patch: Partial<Omit<T, 'id'>>): Promise<T> {
    const current = await this.require(id);
    const changes = this.withStateTime(current, defined(patch) as Partial<T>);
    if (Object.keys(changes).length > 0) await this.query().where('id', id).update(this.row(changes));
    return { ...current, ...changes };
  }

  /**
   * Like update, from the record as already read in this transaction: no
   * read of its own, and nothing written when the patch changes nothing.
   */
  async updateFrom(current: T, patch: Partial<Omit<T, 'id'>>): Promise<T> {
    const changes = this.withStateTime(current, this.differing(current, patch));
    if (Object.keys(changes).length > 0) await this.query().where('id', current.id).update(this.row(changes));
    return { ...current, ...changes };
  }

  /**
   * updateFrom for many records at once: one statement per chunk of rows,
   * each column set by a `CASE id` of the rows that change it, so a batch
   * of a thousand actors' records costs a few round trips, not a thousand.
   */
  async updateManyFrom(updates: readonly { current: T; patch: Partial<Omit<T, 'id'>> }[]): Promise<void> {
    const changed: { id: number; row: Row }[] = [];
    for (const { current, patch } of updates) {
      const changes = this.withStateTime(current, this.differing(current, patch));
      if (Object.keys(changes).length > 0) changed.push({ id: current.id, row: this.row(changes) });
    }
    for (const chunk of chunks(changed, UPDATE_ROWS_PER_STATEMENT)) {
      if (chunk.length === 1) {
        const [only] = chunk as [{ id: number; row: Row }];
        await this.query().where('id', only.id).update(only.row);
        continue;
      }
      const columns = [...new Set(chunk.flatMap(({ row }) => Object.keys(row)))];
      const set: Record<string, Knex.Raw> = {};
      for (const column of columns) {
        const rows = chunk.filter(({ row }) => column in row);
        const whens = rows.map(() => 'when ? then ?').join(' ');
        const bindings = rows.flatMap(({ id, row }) => [id, row[column]]) as Knex.RawBinding[];
        set[column] = this.db.raw(`case ?? ${whens} else ?? end`, ['id', ...bindings, column]);
      }
      await this.query()
        .whereIn(
          'id',
          chunk.map(({ id }) => id),
        )
        .update(set);
    }
  }

  private differing(current: T, patch: Partial<Omit<T, 'id'>>): Partial<T> {
    return Object.fromEntries(
      Object.entries(defined(patch)).filter(([key, value]) => !sameValue(value, (current as Record<string, unknown>)[key])),
    ) as Partial<T>;
  }

  /** state_time is the time of the last state change (the CLI's Age column). */
  private withStateTime(current: T, changes: Partial<T>): Partial<T> {
    const c = changes as Partial<T> & { state?: unknown; stateTime?: number };
    const previous = (current as T & { state?: unknown }).state;
    if (c.state !== undefined && c.state !== previous && c.stateTime === undefined) {
      return { ...changes, stateTime: this.now() };
    }
    return changes;
  }
}

/** Rows per batched update: two bound values per row and column, well inside any database's limit. */
const UPDATE_ROWS_PER_STATEMENT = 200;

/** Ids in groups small enough for any database's limit on bound parameters. */
export function chunks<T>(items: readonly T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && a !== null && JSON.stringify(a) === JSON.stringify(b));
}
