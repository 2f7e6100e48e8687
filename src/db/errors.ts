/**
 * Typed database errors. Each carries what an operator needs to act and never
 * a password: URIs in messages are always redacted first.
 */
import { NodepoolError } from '../core/errors.js';

export class UnknownDbScheme extends NodepoolError {
  override readonly name = 'UnknownDbScheme';
  constructor(
    readonly scheme: string,
    readonly accepted: readonly string[],
  ) {
    super('NP_DB_URI', `unknown database URI scheme '${scheme}': use one of ${accepted.map((s) => `${s}://`).join(', ')}`);
  }
}

export class InvalidDbUri extends NodepoolError {
  override readonly name = 'InvalidDbUri';
  constructor(
    readonly redactedUri: string,
    readonly reason: string,
  ) {
    super('NP_DB_URI', `invalid database URI ${redactedUri}: ${reason}`);
  }
}

/** The database could not be reached or opened (refused, bad credentials, unwritable file, ...). */
export class DatabaseUnavailable extends NodepoolError {
  override readonly name = 'DatabaseUnavailable';
  constructor(
    readonly redactedUri: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('NP_DB_UNAVAILABLE', `database ${redactedUri} is unavailable: ${reason}`, options);
  }
}

/** Migrations could not complete, e.g. another process held the migration lock for too long. */
export class MigrationFailed extends NodepoolError {
  override readonly name = 'MigrationFailed';
  constructor(message: string, options?: { cause?: unknown }) {
    super('NP_DB_MIGRATION', message, options);
  }
}

export class NotFound extends Error {
  override readonly name = 'NotFound';
  constructor(
    readonly kind: string,
    readonly id: number | string,
  ) {
    super(`${kind} ${id} not found`);
  }
}

export class DuplicateJob extends Error {
  override readonly name = 'DuplicateJob';
  constructor(readonly jobName: string) {
    super(`a job named '${jobName}' already exists`);
  }
}

/** A unique or primary key was violated: the row is already there. Same test on both backends. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A build cannot be deleted while uploads of it remain (their cloud images would leak). */
export class BuildInUse extends Error {
  override readonly name = 'BuildInUse';
  constructor(readonly buildId: number) {
    super(`build ${buildId} still has uploads; delete them first`);
  }
}

export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === 'ER_ROW_IS_REFERENCED_2' || e?.code === 'ER_ROW_IS_REFERENCED' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return true;
  // SQLite reports ON DELETE RESTRICT as a trigger constraint.
  return e?.code === 'SQLITE_CONSTRAINT_TRIGGER' && typeof e.message === 'string' && e.message.includes('FOREIGN KEY');
}

/**
 * What a database driver's error says, without the statement: knex puts the
 * whole SQL in front of the driver's message (70 KB for a long value), and
 * an operator needs the reason, not the statement. Undefined for an error
 * that is not a database driver's.
 */
export function databaseReason(err: unknown): string | undefined {
  const e = err as { sql?: unknown; sqlMessage?: unknown; code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  const code = typeof e.code === 'string' && /^(ER_|SQLITE_)/.test(e.code) ? e.code : undefined;
  if (typeof e.sqlMessage === 'string') return `${e.sqlMessage}${code ? ` (${code})` : ''}`;
  if (e.sql === undefined && code === undefined) return undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  // knex: "<statement> - <driver's message>"
  const reason = message.includes(' - ') ? message.slice(message.lastIndexOf(' - ') + 3) : message;
  return `${reason.slice(0, 300)}${code && !reason.includes(code) ? ` (${code})` : ''}`;
}

/** Error codes of a database that does not answer (down, restarting, unreachable), as the drivers give them. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
]);

/**
 * Whether an error says the database is not answering, rather than that it
 * refused a statement: work waits for such a database instead of giving up.
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  // knex's pool gave up waiting for a connection the database would not give.
  return e.name === 'KnexTimeoutError';
}
