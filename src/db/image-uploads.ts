/** The image_upload table: one row per build uploaded to one provider. */
import type { Knex } from 'knex';
import type { ImageUploadRecord, UploadState } from './records.js';
import { type Clock, type ColumnMap, type Row, num, str, strOrNull } from './rows.js';
import { DeletableTable } from './image-builds.js';

export interface NewImageUpload {
  buildId: number;
  provider: string;
  image: string;
  externalName?: string | null;
  externalId?: string | null;
  /** Default 'uploading'. */
  state?: UploadState;
  /** Default now; stateTime defaults to createdAt. */
  createdAt?: number;
  stateTime?: number;
}

export type ImageUploadPatch = Partial<Omit<ImageUploadRecord, 'id'>>;

export interface ImageUploadFilter {
  image?: string;
  provider?: string;
  states?: readonly UploadState[];
  buildId?: number;
}

const columns: ColumnMap<ImageUploadRecord> = {
  id: 'id',
  buildId: 'build_id',
  provider: 'provider',
  image: 'image',
  externalName: 'external_name',
  externalId: 'external_id',
  state: 'state',
  stateTime: 'state_time',
  createdAt: 'created_at',
};

function fromRow(r: Row): ImageUploadRecord {
  return {
    id: num(r.id),
    buildId: num(r.build_id),
    provider: str(r.provider),
    image: str(r.image),
    externalName: strOrNull(r.external_name),
    externalId: strOrNull(r.external_id),
    state: str(r.state) as UploadState,
    stateTime: num(r.state_time),
    createdAt: num(r.created_at),
  };
}

const NEWEST_FIRST = [
  { column: 'created_at', order: 'desc' },
  { column: 'id', order: 'desc' },
] as const;

export class ImageUploadRepository extends DeletableTable<ImageUploadRecord> {
  constructor(db: Knex, now: Clock) {
    super(db, now, { table: 'image_upload', kind: 'upload', columns, fromRow });
  }

  create(fields: NewImageUpload): Promise<ImageUploadRecord> {
    const createdAt = fields.createdAt ?? this.now();
    return this.insert({
      buildId: fields.buildId,
      provider: fields.provider,
      image: fields.image,
      externalName: fields.externalName ?? null,
      externalId: fields.externalId ?? null,
      state: fields.state ?? 'uploading',
      stateTime: fields.stateTime ?? createdAt,
      createdAt,
    });
  }

  /** Newest first. */
  async list(filter: ImageUploadFilter = {}): Promise<ImageUploadRecord[]> {
    const q = this.query().orderBy([...NEWEST_FIRST]);
    if (filter.image !== undefined) q.where('image', filter.image);
    if (filter.provider !== undefined) q.where('provider', filter.provider);
    if (filter.buildId !== undefined) q.where('build_id', filter.buildId);
    if (filter.states !== undefined) q.whereIn('state', [...filter.states]);
    return this.rows(await q);
  }

  /** The upload a new node of this image in this provider launches from (docs/behaviour.md, launch step 3). */
  async newestReady(image: string, provider: string): Promise<ImageUploadRecord | undefined> {
    const row = (await this.query()
      .where({ image, provider, state: 'ready' })
      .orderBy([...NEWEST_FIRST])
      .first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  setState(id: number, state: UploadState): Promise<ImageUploadRecord> {
    return this.update(id, { state });
  }
}
