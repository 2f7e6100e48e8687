/**
 * Bring a database's schema up to date, safely when several processes start
 * at once (a nodepoold and two builders after a reboot, say).
 *
 * knex's own migration lock is a row in knex_migrations_lock set with a
 * conditional UPDATE; a loser fails with "Migration table is already locked",
 * and two first-ever starts can race creating knex_migrations ("already
 * exists") or insert two lock rows (after which nobody can ever lock). So:
 * - the bookkeeping tables and their single lock row (index 1) are created
 *   here first, tolerating a racer doing the same;
 * - on MySQL, the whole run holds a server named lock (GET_LOCK), which the
 *   server frees if the holder's connection dies. Holding it proves nobody
 *   else is migrating, so a knex lock left set by a crashed process (MySQL
 *   DDL commits implicitly, so a crash can leave it set) is cleared. On
 *   SQLite the whole batch, lock included, is one transaction: a crash
 *   rolls the lock back, writers queue on the file lock, and a committed
 *   lock can only be stale;
 * - any lock-contention error is retried with a growing pause until the
 *   migrations are complete or the time bound passes.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { MigrationFailed } from './errors.js';
import { migrationSource } from './migrations/index.js';

const MIGRATIONS_TABLE = 'knex_migrations';
const LOCK_TABLE = 'knex_migrations_lock';

export interface MigrateOptions {
  /** Give up (MigrationFailed) after this long; default 30 s. */
  timeoutMs?: number;
}

export async function migrate(knex: Knex, options: MigrateOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    try {
      await runOnce(knex, deadline);
      return;
    } catch (err) {
      if (!isContention(err)) throw err;
      if (Date.now() >= deadline) {
        throw new MigrationFailed(
          `database migrations did not complete within ${options.timeoutMs ?? 30_000} ms: ${(err as Error).message}` +
            ` (if no other nodepool process is migrating, set is_locked = 0 in ${LOCK_TABLE})`,
          { cause: err },
        );
      }
      await sleep(backoffMs(attempt));
    }
  }
}

async function runOnce(knex: Knex, deadline: number): Promise<void> {
  if (isMysql(knex)) {
    await withMysqlNamedLock(knex, deadline, async () => {
      await ensureBookkeeping(knex);
      await knex(LOCK_TABLE).update({ is_locked: 0 });
      await knex.migrate.latest({ migrationSource });
    });
  } else {
    await knex.transaction(async (trx) => {
      await ensureBookkeeping(trx);
      // Every batch runs in one transaction with its lock, so a committed
      // is_locked = 1 can only be left by hand or by a foreign tool: clear it.
      // A migration in progress holds the write lock; this waits for it.
      await trx(LOCK_TABLE).update({ is_locked: 0 });
    });
    await knex.migrate.latest({ migrationSource });
  }
}

/** knex's bookkeeping tables, exactly as knex would create them, with one lock row. */
async function ensureBookkeeping(knex: Knex): Promise<void> {
  await createTableIfMissing(knex, MIGRATIONS_TABLE, (t) => {
    t.increments();
    t.string('name');
    t.integer('batch');
    t.timestamp('migration_time');
  });
  await createTableIfMissing(knex, LOCK_TABLE, (t) => {
    t.increments('index').primary();
    t.integer('is_locked');
  });
  // A fixed key makes the racers' inserts collide instead of adding rows.
  await knex(LOCK_TABLE).insert({ index: 1, is_locked: 0 }).onConflict('index').ignore();
  await knex(LOCK_TABLE).whereNot('index', 1).delete();
}

async function createTableIfMissing(knex: Knex, name: string, build: (t: Knex.CreateTableBuilder) => void): Promise<void> {
  if (await knex.schema.hasTable(name)) return;
  try {
    await knex.schema.createTable(name, build);
  } catch (err) {
    // Another process created it between our check and our create.
    if (!(await knex.schema.hasTable(name))) throw err;
  }
}

function isMysql(knex: Knex): boolean {
  return knex.client.config.client === 'mysql2';
}

/** GET_LOCK names are server-wide: scope by database, within MySQL's 64-character limit. */
function lockName(knex: Knex): string {
  const connection = knex.client.config.connection as { database?: string } | undefined;
  const name = `nodepool-migrate:${connection?.database ?? ''}`;
  return name.length <= 64 ? name : `nodepool-migrate:${createHash('sha1').update(name).digest('hex')}`;
}

class NamedLockBusy extends Error {
  override readonly name = 'MigrationLocked';
}

async function withMysqlNamedLock(knex: Knex, deadline: number, fn: () => Promise<void>): Promise<void> {
  const name = lockName(knex);
  const waitSeconds = Math.max(1, Math.min(5, Math.ceil((deadline - Date.now()) / 1000)));
  // The lock belongs to one connection, so take one out of the pool for the whole run.
  const connection: unknown = await knex.client.acquireConnection();
  try {
    const [rows] = (await knex.raw('SELECT GET_LOCK(?, ?) AS got', [name, waitSeconds]).connection(connection)) as [Array<{ got: unknown }>];
    if (Number(rows[0]?.got) !== 1) throw new NamedLockBusy(`another process holds the migration lock '${name}'`);
    try {
      await fn();
    } finally {
      await knex.raw('SELECT RELEASE_LOCK(?)', [name]).connection(connection);
    }
  } finally {
    await knex.client.releaseConnection(connection);
  }
}

const CONTENTION_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_LOCKED',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_TABLE_EXISTS_ERROR',
  'ER_DUP_ENTRY',
  'ER_TABLE_DEF_CHANGED',
]);

/** Errors that mean "someone else is migrating right now", worth a retry. */
function isContention(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  if (e?.name === 'MigrationLocked') return true;
  if (typeof e?.code === 'string' && CONTENTION_CODES.has(e.code)) return true;
  return typeof e?.message === 'string' && /already locked|already exists|database is locked/i.test(e.message);
}

function backoffMs(attempt: number): number {
  return Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
