/** The image_build table: one row per diskimage-builder build of a diskimage. */
import type { Knex } from 'knex';
import { BuildInUse, isForeignKeyViolation } from './errors.js';
import type { BuildState, ImageBuildRecord } from './records.js';
import { type Clock, type ColumnMap, type Row, num, str, strOrNull } from './rows.js';
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
    state: str(r.state) as BuildState,
    stateTime: num(r.state_time),
    createdAt: num(r.created_at),
  };
}

/** formats is a JSON array in one TEXT column: read whole, never queried by element. */
function encode(fields: Partial<ImageBuildRecord>): Partial<Record<keyof ImageBuildRecord, unknown>> {
  return fields.formats === undefined ? {} : { formats: JSON.stringify(fields.formats) };
}

export class ImageBuildRepository extends Table<ImageBuildRecord> {
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
