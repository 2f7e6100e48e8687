/** The node table: one row per server nodepool launched for a label. */
import type { Knex } from 'knex';
import type { NodeRecord, NodeState } from './records.js';
import { type Clock, type ColumnMap, type Row, num, numOrNull, str, strOrNull } from './rows.js';
import { Table } from './table.js';

export interface NewNode {
  provider: string;
  label: string;
  target: string;
  manager?: string | null;
  az?: string | null;
  hostname?: string | null;
  nodename?: string | null;
  externalId?: string | null;
  ip?: string | null;
  ipPrivate?: string | null;
  uploadId?: number | null;
  /** Default 'building'. */
  state?: NodeState;
  comment?: string | null;
  /** Default now; stateTime defaults to createdAt. */
  createdAt?: number;
  stateTime?: number;
}

export type NodePatch = Partial<Omit<NodeRecord, 'id'>>;

export interface NodeFilter {
  provider?: string;
  label?: string;
  state?: NodeState;
  states?: readonly NodeState[];
}

export interface NodeCount {
  provider: string;
  label: string;
  state: NodeState;
  count: number;
}

const columns: ColumnMap<NodeRecord> = {
  id: 'id',
  provider: 'provider',
  label: 'label',
  target: 'target',
  manager: 'manager',
  az: 'az',
  hostname: 'hostname',
  nodename: 'nodename',
  externalId: 'external_id',
  ip: 'ip',
  ipPrivate: 'ip_private',
  uploadId: 'upload_id',
  state: 'state',
  stateTime: 'state_time',
  comment: 'comment',
  job: 'job',
  createdAt: 'created_at',
};

function fromRow(r: Row): NodeRecord {
  return {
    id: num(r.id),
    provider: str(r.provider),
    label: str(r.label),
    target: str(r.target),
    manager: strOrNull(r.manager),
    az: strOrNull(r.az),
    hostname: strOrNull(r.hostname),
    nodename: strOrNull(r.nodename),
    externalId: strOrNull(r.external_id),
    ip: strOrNull(r.ip),
    ipPrivate: strOrNull(r.ip_private),
    uploadId: numOrNull(r.upload_id),
    state: str(r.state) as NodeState,
    stateTime: num(r.state_time),
    comment: strOrNull(r.comment),
    job: strOrNull(r.job),
    createdAt: num(r.created_at),
  };
}

export class NodeRepository extends Table<NodeRecord> {
  constructor(db: Knex, now: Clock) {
    super(db, now, { table: 'node', kind: 'node', columns, fromRow });
  }

  create(fields: NewNode): Promise<NodeRecord> {
    const createdAt = fields.createdAt ?? this.now();
    return this.insert({
      provider: fields.provider,
      label: fields.label,
      target: fields.target,
      manager: fields.manager ?? null,
      az: fields.az ?? null,
      hostname: fields.hostname ?? null,
      nodename: fields.nodename ?? null,
      externalId: fields.externalId ?? null,
      ip: fields.ip ?? null,
      ipPrivate: fields.ipPrivate ?? null,
      uploadId: fields.uploadId ?? null,
      state: fields.state ?? 'building',
      stateTime: fields.stateTime ?? createdAt,
      comment: fields.comment ?? null,
      job: null,
      createdAt,
    });
  }

  /** Ordered by id. */
  async list(filter: NodeFilter = {}): Promise<NodeRecord[]> {
    const q = this.query().orderBy('id');
    if (filter.provider !== undefined) q.where('provider', filter.provider);
    if (filter.label !== undefined) q.where('label', filter.label);
    if (filter.state !== undefined) q.where('state', filter.state);
    if (filter.states !== undefined) q.whereIn('state', [...filter.states]);
    return this.rows(await q);
  }

  /** Change the state (stamping state_time) and, if given, the comment. */
  setState(id: number, state: NodeState, comment?: string | null): Promise<NodeRecord> {
    return this.update(id, comment === undefined ? { state } : { state, comment });
  }

  /** Job events name the node by its node name. */
  async findByNodename(nodename: string): Promise<NodeRecord | undefined> {
    const row = (await this.query().where('nodename', nodename).orderBy('id').first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  async findByExternalId(provider: string, externalId: string): Promise<NodeRecord | undefined> {
    const row = (await this.query().where({ external_id: externalId, provider }).orderBy('id').first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Node counts per provider, label, target and state: what the allocation counts, in one query however many nodes there are. */
  async tally(): Promise<(NodeCount & { target: string })[]> {
    const rows = (await this.query()
      .select('provider', 'label', 'target', 'state')
      .count({ count: '*' })
      .groupBy('provider', 'label', 'target', 'state')) as Row[];
    return rows.map((r) => ({ provider: str(r.provider), label: str(r.label), target: str(r.target), state: str(r.state) as NodeState, count: num(r.count) }));
  }

  /** The nodes of some labels in one state (the allocation's building nodes that may lack sub-nodes). */
  async listInLabels(labels: readonly string[], state: NodeState): Promise<NodeRecord[]> {
    if (labels.length === 0) return [];
    return this.rows(await this.query().whereIn('label', [...labels]).andWhere('state', state).orderBy('id'));
  }

  /** Node counts per provider, label and state: the allocator's and the metrics' input. */
  async countBy(): Promise<NodeCount[]> {
    const rows = (await this.query()
      .select('provider', 'label', 'state')
      .count({ count: '*' })
      .groupBy('provider', 'label', 'state')
      .orderBy(['provider', 'label', 'state'])) as Row[];
    return rows.map((r) => ({ provider: str(r.provider), label: str(r.label), state: str(r.state) as NodeState, count: num(r.count) }));
  }
}
