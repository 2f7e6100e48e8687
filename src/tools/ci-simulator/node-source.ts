/**
 * Where the simulator finds nodes to run on: the ready nodes of a label, as
 * the database has them (the CI system would see them as idle agents).
 */
import type { Database } from '../../db/index.js';

/** A node a run can take, as far as the simulator cares. */
export interface SimulatedNode {
  id: number;
  /** The name job events carry (`build.node_name`). */
  nodename: string;
  label: string;
  provider: string;
  ip: string | null;
  /** With the id, tells this node from a later one that got the same id (SQLite hands out deleted ids again). */
  createdAt: number;
}

export interface NodeSource {
  /** The label's nodes in the state `ready`, oldest first. */
  readyNodes(label: string): Promise<SimulatedNode[]>;
  /** Which of these nodes are still `used`: the events that ended their runs are not handled yet. */
  stillUsed(ids: readonly number[]): Promise<number[]>;
}

/** The nodes of a nodepool database; nodes without a name yet (a row just made) are left out. */
export function databaseNodeSource(db: Pick<Database, 'nodes'>): NodeSource {
  return {
    async readyNodes(label) {
      const rows = await db.nodes.list({ label, state: 'ready' });
      return rows
        .filter((row) => row.nodename !== null)
        .map((row) => ({ id: row.id, nodename: row.nodename ?? '', label: row.label, provider: row.provider, ip: row.ip, createdAt: row.createdAt }));
    },
    async stillUsed(ids) {
      if (ids.length === 0) return [];
      const wanted = new Set(ids);
      return (await db.nodes.list({ state: 'used' })).map((row) => row.id).filter((id) => wanted.has(id));
    },
  };
}
