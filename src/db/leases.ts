/**
 * The lease table: a claim on a piece of work (a build, an upload) by one
 * process until it expires. The holder renews it while alive; once it lapses
 * anyone may take it over. A lease is held while now < expiresAt.
 *
 * Every step is a single conditional statement, so the database decides the
 * winner the same way on MySQL and SQLite: an insert collides on the primary
 * key, and a takeover updates only a row that is ours or has expired.
 */
import type { Knex } from 'knex';
import { isUniqueViolation } from './errors.js';
import type { LeaseRecord } from './records.js';
import { type Clock, type Row, num, str } from './rows.js';

const TABLE = 'lease';

function fromRow(r: Row): LeaseRecord {
  return { name: str(r.name), owner: str(r.owner), expiresAt: num(r.expires_at) };
}

export class LeaseRepository {
  constructor(
    private readonly db: Knex,
    private readonly now: Clock,
  ) {}

  /** True if `owner` holds the lease afterwards (newly, or again: re-acquiring extends it). */
  async tryAcquire(name: string, owner: string, ttlMs: number, now: number = this.now()): Promise<boolean> {
    const expiresAt = now + ttlMs;
    try {
      await this.db(TABLE).insert({ name, owner, expires_at: expiresAt });
      return true;
    } catch (err) {
      // The key exists: somebody holds it, or held it and it may have lapsed.
      if (!isUniqueViolation(err)) throw err;
    }
    await this.db(TABLE)
      .where('name', name)
      .andWhere((q) => q.where('owner', owner).orWhere('expires_at', '<=', now))
      .update({ owner, expires_at: expiresAt });
    // Read back rather than trust the affected-row count, whose meaning
    // (matched or changed rows) depends on MySQL client flags.
    const row = await this.read(name);
    return row?.owner === owner && row.expiresAt === expiresAt;
  }

  /** Extend the lease; false if `owner` no longer holds it (someone took it over). */
  async renew(name: string, owner: string, ttlMs: number, now: number = this.now()): Promise<boolean> {
    const changed = await this.db(TABLE).where({ name, owner }).update({ expires_at: now + ttlMs });
    return changed > 0;
  }

  /** Give the lease up; false if `owner` did not hold it. */
  async release(name: string, owner: string): Promise<boolean> {
    return (await this.db(TABLE).where({ name, owner }).delete()) > 0;
  }

  /** The current holder, or undefined if nobody holds it (absent or lapsed). */
  async holder(name: string, now: number = this.now()): Promise<LeaseRecord | undefined> {
    const lease = await this.read(name);
    return lease && now < lease.expiresAt ? lease : undefined;
  }

  /** The leases held now whose names start with `prefix` (the builds' and uploads' work, `image-`). */
  async heldWithPrefix(prefix: string, now: number = this.now()): Promise<LeaseRecord[]> {
    const rows = (await this.db(TABLE).where('name', 'like', `${prefix}%`).andWhere('expires_at', '>', now)) as Row[];
    return rows.map(fromRow);
  }

  private async read(name: string): Promise<LeaseRecord | undefined> {
    const row = (await this.db(TABLE).where('name', name).first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }
}
