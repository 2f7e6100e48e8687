/**
 * The daemon table: the nodepoold processes sharing the database, each
 * renewing its own row while it runs (docs/scaling.md). A row whose expiry
 * has passed is a daemon taken for dead; a draining one is alive but gives
 * its providers away.
 */
import type { Knex } from 'knex';
import { isUniqueViolation } from './errors.js';
import type { DaemonRecord } from './records.js';
import { type Clock, type Row, num, str, strOrNull } from './rows.js';

const TABLE = 'daemon';

function fromRow(r: Row): DaemonRecord {
  return {
    name: str(r.name),
    host: str(r.host),
    pid: num(r.pid),
    startedAt: num(r.started_at),
    renewedAt: num(r.renewed_at),
    expiresAt: num(r.expires_at),
    draining: Boolean(num(r.draining)),
    web: strOrNull(r.web),
  };
}

export class DaemonRepository {
  constructor(
    private readonly db: Knex,
    private readonly now: Clock,
  ) {}

  /**
   * Writes this daemon's row afresh (at its start, not draining) or renews
   * it; the draining flag is the commands' to set (`daemon-drain`), so a
   * renewal leaves it as it is.
   */
  async heartbeat(daemon: Omit<DaemonRecord, 'renewedAt' | 'expiresAt' | 'draining'>, ttlMs: number, now: number = this.now()): Promise<void> {
    const row = {
      host: daemon.host,
      pid: daemon.pid,
      started_at: daemon.startedAt,
      renewed_at: now,
      expires_at: now + ttlMs,
      web: daemon.web,
    };
    const changed = await this.db(TABLE).where('name', daemon.name).update(row);
    if (changed > 0) return;
    try {
      await this.db(TABLE).insert({ name: daemon.name, ...row, draining: false });
    } catch (err) {
      // Another connection of ours wrote it in between (a retried beat): the update now finds it.
      if (!isUniqueViolation(err)) throw err;
      await this.db(TABLE).where('name', daemon.name).update(row);
    }
  }

  /** Every row, the dead ones too (they say when a daemon was last seen), oldest start first. */
  async list(): Promise<DaemonRecord[]> {
    const rows = (await this.db(TABLE).orderBy([{ column: 'started_at' }, { column: 'name' }])) as Row[];
    return rows.map(fromRow);
  }

  async get(name: string): Promise<DaemonRecord | undefined> {
    const row = (await this.db(TABLE).where('name', name).first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Asks a daemon to give its providers away (`nodepool daemon-drain`), or to take them again; false if there is no such daemon. */
  async setDraining(name: string, draining: boolean): Promise<boolean> {
    return (await this.db(TABLE).where('name', name).update({ draining })) > 0;
  }

  /** A stopped daemon's row, or a dead one's. */
  async remove(name: string): Promise<boolean> {
    return (await this.db(TABLE).where('name', name).delete()) > 0;
  }

  /** Rows of daemons dead since before `before`: the table keeps the recently dead only. */
  async removeExpiredBefore(before: number): Promise<number> {
    return this.db(TABLE).where('expires_at', '<', before).delete();
  }
}
