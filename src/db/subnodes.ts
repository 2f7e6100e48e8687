/** The subnode table: the extra servers of a multi-node label, deleted with their node. */
import type { Knex } from 'knex';
import type { SubnodeRecord, SubnodeState } from './records.js';
import { type Clock, type ColumnMap, type Row, num, str, strOrNull } from './rows.js';
import { chunks, Table } from './table.js';

export interface NewSubnode {
  nodeId: number;
  hostname?: string | null;
  externalId?: string | null;
  ip?: string | null;
  ipPrivate?: string | null;
  /** Default 'building'. */
  state?: SubnodeState;
  /** Default now. */
  stateTime?: number;
}

export type SubnodePatch = Partial<Omit<SubnodeRecord, 'id' | 'nodeId'>>;

const columns: ColumnMap<SubnodeRecord> = {
  id: 'id',
  nodeId: 'node_id',
  hostname: 'hostname',
  externalId: 'external_id',
  ip: 'ip',
  ipPrivate: 'ip_private',
  state: 'state',
  stateTime: 'state_time',
};

function fromRow(r: Row): SubnodeRecord {
  return {
    id: num(r.id),
    nodeId: num(r.node_id),
    hostname: strOrNull(r.hostname),
    externalId: strOrNull(r.external_id),
    ip: strOrNull(r.ip),
    ipPrivate: strOrNull(r.ip_private),
    state: str(r.state) as SubnodeState,
    stateTime: num(r.state_time),
  };
}

export class SubnodeRepository extends Table<SubnodeRecord> {
  constructor(db: Knex, now: Clock) {
    super(db, now, { table: 'subnode', kind: 'subnode', columns, fromRow });
  }

  create(fields: NewSubnode): Promise<SubnodeRecord> {
    return this.insert({
      nodeId: fields.nodeId,
      hostname: fields.hostname ?? null,
      externalId: fields.externalId ?? null,
      ip: fields.ip ?? null,
      ipPrivate: fields.ipPrivate ?? null,
      state: fields.state ?? 'building',
      stateTime: fields.stateTime ?? this.now(),
    });
  }

  /** Ordered by id. */
  /** Every sub-node, ordered by id (the daemon's restore and allocation read them all at once). */
  async list(): Promise<SubnodeRecord[]> {
    return this.rows(await this.query().orderBy('id'));
  }

  /** Sub-nodes per provider (of their node), for max-servers, in one query. */
  async countPerProvider(): Promise<Record<string, number>> {
    const rows = (await this.db('subnode')
      .join('node', 'node.id', 'subnode.node_id')
      .select('node.provider as provider')
      .count({ count: '*' })
      .groupBy('node.provider')) as Row[];
    return Object.fromEntries(rows.map((r) => [str(r.provider), num(r.count)]));
  }

  /** The sub-nodes of these nodes, in a few queries. */
  async listForNodes(nodeIds: readonly number[]): Promise<SubnodeRecord[]> {
    const out: SubnodeRecord[] = [];
    for (const chunk of chunks(nodeIds)) out.push(...this.rows(await this.query().whereIn('node_id', chunk).orderBy('id')));
    return out;
  }

  async listForNode(nodeId: number): Promise<SubnodeRecord[]> {
    return this.rows(await this.query().where('node_id', nodeId).orderBy('id'));
  }

  override update(id: number, patch: SubnodePatch): Promise<SubnodeRecord> {
    return super.update(id, patch);
  }

  setState(id: number, state: SubnodeState): Promise<SubnodeRecord> {
    return this.update(id, { state });
  }

  /** Job events name a sub-node by its node name: its hostname's first dot component. */
  async findByNodename(nodename: string): Promise<SubnodeRecord | undefined> {
    // '!' escapes LIKE's wildcards: a backslash means different things to MySQL's and SQLite's string literals.
    const escaped = nodename.replace(/[!%_]/g, (c) => `!${c}`);
    const row = (await this.query()
      .where('hostname', nodename)
      .orWhereRaw("hostname like ? escape '!'", [`${escaped}.%`])
      .orderBy('id')
      .first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  async findByExternalId(externalId: string): Promise<SubnodeRecord | undefined> {
    const row = (await this.query().where('external_id', externalId).orderBy('id').first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }
}
