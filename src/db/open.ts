/** Opening a database: connect, check it answers, migrate, hand out repositories. */
import knexFactory from 'knex';
import type { Knex } from 'knex';
import { type DbBackend, type DbTarget, type KnexWarnings, knexConfigFor, parseDbTarget, prepareTarget, redactUri } from './connection.js';
import { DatabaseUnavailable, InvalidDbUri } from './errors.js';
import { migrate } from './migrate.js';
import { type Repositories, createRepositories } from './repositories.js';
import type { Clock } from './rows.js';
import { systemClock, type Clock as Timer } from '../core/clock.js';

export interface OpenDatabaseOptions {
  /** Milliseconds since the epoch for created/state/updated times; default Date.now. */
  now?: Clock;
  /** Bring the schema up to date first; default true. */
  migrate?: boolean;
  /** Bound on waiting for another process's migration; default 30 s. */
  migrationTimeoutMs?: number;
  /** Where the pauses between attempts of a conflicting transaction are timed; default the system clock. */
  timer?: Timer;
  /** Where knex's own warnings go; default stderr. */
  warnings?: KnexWarnings;
}

export interface Database extends Repositories {
  readonly knex: Knex;
  readonly backend: DbBackend;
  /** The URI with its password hidden, for logs and errors. */
  readonly uri: string;
  /**
   * Run fn with repositories bound to one transaction: all its writes commit
   * together or not at all. Inside fn use only `tx`: on SQLite the process
   * has one connection, which the transaction holds until it ends.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openDatabase(uri: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const target = parseDbTarget(uri);
  const redacted = redactUri(uri);
  if (target.backend === 'mysql' && target.database === undefined) {
    throw new InvalidDbUri(redacted, 'no database name (mysql://user:password@host:port/database)');
  }
  const knex = await connect(target, redacted, options.warnings);
  try {
    if (options.migrate !== false) await migrate(knex, { timeoutMs: options.migrationTimeoutMs });
  } catch (err) {
    await knex.destroy();
    throw isConnectionError(err) ? unavailable(target, redacted, err) : err;
  }
  return makeDatabase(knex, target.backend, redacted, options.now ?? Date.now, options.timer ?? systemClock);
}

/** A knex whose first connection has been made, so a wrong URI fails here, quickly. */
async function connect(target: DbTarget, redacted: string, warnings?: KnexWarnings): Promise<Knex> {
  let knex: Knex | undefined;
  try {
    prepareTarget(target);
    knex = knexFactory(knexConfigFor(target, warnings));
    const connection: unknown = await knex.client.acquireConnection();
    await knex.client.releaseConnection(connection);
    return knex;
  } catch (err) {
    await knex?.destroy();
    throw unavailable(target, redacted, err);
  }
}

function makeDatabase(knex: Knex, backend: DbBackend, uri: string, now: Clock, timer: Timer): Database {
  return {
    ...createRepositories(knex, now),
    knex,
    backend,
    uri,
    transaction: (fn) => retryConflicts(() => knex.transaction((trx) => fn(createRepositories(trx, now))), timer),
    close: () => knex.destroy(),
  };
}

/**
 * Errors after which the whole transaction (rolled back) is simply run again:
 * SQLite's BUSY_SNAPSHOT (in WAL mode, a transaction that read and then wants
 * to write after another process wrote; the busy timeout does not wait for
 * it) and a MySQL deadlock.
 */
const CONFLICT_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'ER_LOCK_DEADLOCK']);
const CONFLICT_ATTEMPTS = 10;

async function retryConflicts<T>(run: () => Promise<T>, timer: Timer): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (attempt >= CONFLICT_ATTEMPTS || typeof code !== 'string' || !CONFLICT_CODES.has(code)) throw err;
      const pause = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
      await new Promise((resolve) => timer.setTimeout(() => resolve(undefined), pause));
    }
  }
}

function unavailable(target: DbTarget, redacted: string, err: unknown): DatabaseUnavailable {
  let reason = err instanceof Error ? err.message : String(err);
  // Drivers do not echo passwords, but make sure.
  if (target.backend === 'mysql' && target.password !== '') reason = reason.split(target.password).join('***');
  return new DatabaseUnavailable(redacted, reason, { cause: err });
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'SQLITE_CANTOPEN',
]);

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}
