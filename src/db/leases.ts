/**
 * The lease table: a claim on a piece of work (a build, an upload) by one
 * process until it expires. The holder renews it while alive; once it lapses
 * anyone may take it over. A lease is held while now < expiresAt.
 *
 * Every step is a single conditional statement, so the database decides the
 * winner the same way on MySQL and SQLite: an insert collides on the primary
 * key, and a takeover updates only a row that is ours or has expired.
 *
 * On a Galera cluster two such statements on different nodes both run
 * against their own node's copy and meet only at commit, where certification
 * lets the first one ordered commit and aborts the other with
 * ER_LOCK_DEADLOCK (1213). MariaDB runs an aborted autocommit statement once
 * more (wsrep_retry_autocommit), when it normally finds the winner's row and
 * loses the ordinary way; should it still get 1213, the statement did not
 * happen: the lease is read back (reads wait for the cluster's earlier
 * commits, wsrep_sync_wait, src/db/connection.ts), which shows the winner,
 * so the method answers "did not win" instead of throwing (docs/galera.md).
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
      // Or (Galera) another node's insert of the key won certification.
      if (!isUniqueViolation(err) && !isCertificationConflict(err)) throw err;
    }
    await lostOnConflict(
      this.db(TABLE)
        .where('name', name)
        .andWhere((q) => q.where('owner', owner).orWhere('expires_at', '<=', now))
        .update({ owner, expires_at: expiresAt }),
    );
    // Read back rather than trust the affected-row count, whose meaning
    // (matched or changed rows) depends on MySQL client flags.
    const row = await this.read(name);
    return row?.owner === owner && row.expiresAt === expiresAt;
  }

  /** Extend the lease; false if `owner` no longer holds it (someone took it over). */
  async renew(name: string, owner: string, ttlMs: number, now: number = this.now()): Promise<boolean> {
    const expiresAt = now + ttlMs;
    const changed = await lostOnConflict(this.db(TABLE).where({ name, owner }).update({ expires_at: expiresAt }));
    if (changed !== undefined) return changed > 0;
    // Another write to the row won: a takeover (then we lost it) or our own renewal from elsewhere.
    const row = await this.read(name);
    return row?.owner === owner && row.expiresAt >= expiresAt;
  }

  /**
   * The lease passes from `from` to `to` in one conditional statement: a
   * holder handing its work over (no moment without an owner), or a live
   * process taking a dead one's lease before it lapses. False if `from` no
   * longer had it.
   */
  async transfer(name: string, from: string, to: string, ttlMs: number, now: number = this.now()): Promise<boolean> {
    const expiresAt = now + ttlMs;
    await lostOnConflict(this.db(TABLE).where({ name, owner: from }).update({ owner: to, expires_at: expiresAt }));
    const row = await this.read(name);
    return row?.owner === to && row.expiresAt === expiresAt;
  }

  /** Give the lease up; false if `owner` did not hold it. */
  async release(name: string, owner: string): Promise<boolean> {
    // A conflict: a takeover committed first, so the lease was no longer ours to give up.
    return ((await lostOnConflict(this.db(TABLE).where({ name, owner }).delete())) ?? 0) > 0;
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

  /** Every lease whose name starts with one of the prefixes, lapsed ones too (the providers' owners, `provider:`), in one query. */
  async listWithPrefix(...prefixes: string[]): Promise<LeaseRecord[]> {
    const rows = (await this.db(TABLE)
      .where((q) => {
        for (const prefix of prefixes) q.orWhere('name', 'like', `${prefix}%`);
      })
      .orderBy('name')) as Row[];
    return rows.map(fromRow);
  }

  /**
   * Extends every lease of `names` that `owner` still holds, in one
   * statement; true when all of them were (otherwise the caller asks lease
   * by lease which one it lost).
   */
  async renewAll(names: readonly string[], owner: string, ttlMs: number, now: number = this.now()): Promise<boolean> {
    if (names.length === 0) return true;
    const changed = await lostOnConflict(this.db(TABLE).where('owner', owner).whereIn('name', [...names]).update({ expires_at: now + ttlMs }));
    return changed === names.length;
  }

  private async read(name: string): Promise<LeaseRecord | undefined> {
    const row = (await this.db(TABLE).where('name', name).first()) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }
}

/**
 * Galera's certification aborted the statement (or the transaction it ends)
 * because a conflicting write on another node committed first. MySQL and
 * MariaDB without Galera report a deadlock with the same code.
 */
function isCertificationConflict(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  return e?.code === 'ER_LOCK_DEADLOCK' || e?.errno === 1213;
}

/** The statement's result, or undefined when it lost a conflict (see the file's comment): it changed nothing. */
async function lostOnConflict<T>(statement: PromiseLike<T>): Promise<T | undefined> {
  try {
    return await statement;
  } catch (err) {
    if (isCertificationConflict(err)) return undefined;
    throw err;
  }
}
