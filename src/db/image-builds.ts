/** The image_build table: one row per diskimage-builder build of a diskimage. */
import type { Knex } from 'knex';
import { BuildInUse, isForeignKeyViolation } from './errors.js';
import type { BuildState, ImageBuildRecord } from './records.js';
import { type Clock, type ColumnMap, type Row, defined, num, str, strOrNull } from './rows.js';
import { Table } from './table.js';

export interface NewImageBuild {
  image: string;
  builder?: string | null;
  filename?: string | null;
  formats?: string[];
  /** Default 'building'. */
  state?: BuildState;
  /** Default now; stateTime defaults to createdAt. */
  createdAt?: number;
  stateTime?: number;
}

export type ImageBuildPatch = Partial<Omit<ImageBuildRecord, 'id'>>;

export interface ImageBuildFilter {
  image?: string;
  states?: readonly BuildState[];
}

const columns: ColumnMap<ImageBuildRecord> = {
  id: 'id',
  image: 'image',
  builder: 'builder',
  filename: 'filename',
  formats: 'formats',
  withdrawnFrom: 'withdrawn_from',
  state: 'state',
  stateTime: 'state_time',
  createdAt: 'created_at',
};

function fromRow(r: Row): ImageBuildRecord {
  return {
    id: num(r.id),
    image: str(r.image),
    builder: strOrNull(r.builder),
    filename: strOrNull(r.filename),
    formats: JSON.parse(str(r.formats)) as string[],
    withdrawnFrom: r.withdrawn_from === null || r.withdrawn_from === undefined ? [] : (JSON.parse(str(r.withdrawn_from)) as string[]),
    state: str(r.state) as BuildState,
    stateTime: num(r.state_time),
    createdAt: num(r.created_at),
  };
}

/** formats and withdrawnFrom are JSON arrays in TEXT columns: read whole, never queried by element. */
function encode(fields: Partial<ImageBuildRecord>): Partial<Record<keyof ImageBuildRecord, unknown>> {
  return {
    ...(fields.formats === undefined ? {} : { formats: JSON.stringify(fields.formats) }),
    ...(fields.withdrawnFrom === undefined ? {} : { withdrawnFrom: JSON.stringify(fields.withdrawnFrom) }),
  };
}

/** How withdrawnFrom names a provider image. */
export const withdrawnKey = (provider: string, image: string) => `${provider}/${image}`;

/** The states a person may mark for deletion from: 'building'/'uploading' still belong to an actor at work. */
export const DELETABLE_STATES = ['ready', 'failed'] as const;

interface DeletableRecord {
  id: number;
  state: string;
  stateTime: number;
}

/**
 * Builds and uploads share one rule: a record a person marked `deleting`
 * stays `deleting`. The commands mark with markDeleting; the builder's actors
 * write with updateUnlessDeleting, so an actor finishing late never brings a
 * record back. Both put the condition in the UPDATE's WHERE, so it holds
 * against a concurrent writer without a lock. (It lives beside the builds,
 * whose uploads extend it too: an upload belongs to a build.)
 */
export class DeletableTable<T extends DeletableRecord> extends Table<T> {
  /** True if this call moved the record from ready or failed to deleting. */
  async markDeleting(id: number): Promise<boolean> {
    const marking = { state: 'deleting', stateTime: this.now() } as Partial<T>;
    const changed = await this.query().where('id', id).whereIn('state', [...DELETABLE_STATES]).update(this.row(marking));
    return changed > 0;
  }

  /**
   * Like update, except that a record in `deleting` keeps its state (and state
   * time): the patch's other fields are written, its state only if it is
   * `deleting` itself. NotFound if there is no such row. The record after.
   */
  async updateUnlessDeleting(id: number, patch: Partial<Omit<T, 'id'>>): Promise<T> {
    const fields = defined(patch) as Partial<T>;
    if (fields.state === undefined || fields.state === 'deleting') return this.update(id, patch);
    const current = await this.require(id);
    if (current.state !== 'deleting') {
      const stamp = fields.state !== current.state && fields.stateTime === undefined ? { stateTime: this.now() } : {};
      // Conditional: if a person marked the record between our read and this write, nothing is written here.
      const changed = await this.query().where('id', id).whereNot('state', 'deleting').update(this.row({ ...fields, ...stamp }));
      if (changed > 0) return this.require(id);
    }
    const others: Partial<T> = { ...fields };
    delete others.state;
    delete others.stateTime;
    if (Object.keys(others).length > 0) await this.query().where('id', id).update(this.row(others));
    return this.require(id);
  }
}

export class ImageBuildRepository extends DeletableTable<ImageBuildRecord> {
  constructor(db: Knex, now: Clock) {
    super(db, now, { table: 'image_build', kind: 'build', columns, fromRow, encode });
  }

  create(fields: NewImageBuild): Promise<ImageBuildRecord> {
    const createdAt = fields.createdAt ?? this.now();
    return this.insert({
      image: fields.image,
      builder: fields.builder ?? null,
      filename: fields.filename ?? null,
      formats: fields.formats ?? [],
      withdrawnFrom: [],
      state: fields.state ?? 'building',
      stateTime: fields.stateTime ?? createdAt,
      createdAt,
    });
  }

  /** Newest first. */
  async list(filter: ImageBuildFilter = {}): Promise<ImageBuildRecord[]> {
    const q = this.query().orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
    if (filter.image !== undefined) q.where('image', filter.image);
    if (filter.states !== undefined) q.whereIn('state', [...filter.states]);
    return this.rows(await q);
  }

  /** A person deleted this build's upload in (provider, image): it is not uploaded there again. */
  async withdraw(id: number, provider: string, image: string): Promise<ImageBuildRecord> {
    const build = await this.require(id);
    const key = withdrawnKey(provider, image);
    if (build.withdrawnFrom.includes(key)) return build;
    return this.update(id, { withdrawnFrom: [...build.withdrawnFrom, key] });
  }

  setState(id: number, state: BuildState): Promise<ImageBuildRecord> {
    return this.update(id, { state });
  }

  /** BuildInUse while uploads of the build remain: their cloud images must be deleted first. */
  override async delete(id: number): Promise<boolean> {
    try {
      return await super.delete(id);
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new BuildInUse(id);
      throw err;
    }
  }
}
