/**
 * Database URIs and the knex configuration each one means.
 *
 * Accepted forms:
 * - `sqlite:///abs/path/nodepool.db`: three slashes, then an absolute path
 *   (SQLAlchemy's four-slash form `sqlite:////abs/path` means the same file).
 * - `sqlite:relative/path.db`: relative to the current directory.
 * - `sqlite:///:memory:`: a private in-memory database (one connection; tests).
 * - `mysql://user:pass@host:port/db` and `mysql+pymysql://...` (the 0.4
 *   SQLAlchemy spelling, same meaning). User and password are URL-decoded;
 *   query parameters such as `?charset=utf8` are ignored (always utf8mb4).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Knex } from 'knex';
import { InvalidDbUri, UnknownDbScheme } from './errors.js';
import { keepPreparedStatements } from './statement-cache.js';

export const ACCEPTED_SCHEMES = ['sqlite', 'mysql', 'mysql+pymysql'] as const;

export type DbBackend = 'sqlite' | 'mysql';

export interface SqliteTarget {
  backend: 'sqlite';
  /** Absolute path, or ':memory:'. */
  filename: string;
}

export interface MysqlTarget {
  backend: 'mysql';
  host: string;
  port: number;
  user: string;
  password: string;
  /** Absent when the URI names only a server (e.g. to create a database). */
  database: string | undefined;
}

export type DbTarget = SqliteTarget | MysqlTarget;

/** Replace the password in a URI by `***`, so URIs can go into errors and logs. */
export function redactUri(uri: string): string {
  // Greedy up to the last '@': a password with an unencoded '@' or '/' is still hidden.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i.exec(uri);
  if (!match?.[2]?.includes(':')) return uri;
  const user = match[2].slice(0, match[2].indexOf(':'));
  return `${match[1]}${user}:***@${uri.slice(match[0].length)}`;
}

/** Read a database URI; throws UnknownDbScheme or InvalidDbUri. */
export function parseDbTarget(uri: string): DbTarget {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(uri);
  if (!match?.[1]) throw new InvalidDbUri(redactUri(uri), 'expected <scheme>:...');
  const scheme = match[1].toLowerCase();
  if (scheme === 'sqlite') return parseSqlite(uri.slice(match[0].length));
  if (scheme === 'mysql' || scheme === 'mysql+pymysql') return parseMysql(uri);
  throw new UnknownDbScheme(scheme, ACCEPTED_SCHEMES);
}

function parseSqlite(rest: string): SqliteTarget {
  if (rest === '///:memory:' || rest === ':memory:') return { backend: 'sqlite', filename: ':memory:' };
  // '///abs' -> '/abs'; '////abs' -> '//abs' which resolve() normalises; 'rel' -> cwd/rel.
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (path === '' || path === '/') throw new InvalidDbUri(`sqlite:${rest}`, 'no file name');
  return { backend: 'sqlite', filename: resolve(path) };
}

function parseMysql(uri: string): MysqlTarget {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidDbUri(redactUri(uri), 'not a URL (mysql://user:password@host:port/database)');
  }
  if (!url.hostname) throw new InvalidDbUri(redactUri(uri), 'no host');
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    backend: 'mysql',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: database === '' ? undefined : database,
  };
}

/** The knex configuration for a database URI. */
export function parseDbUri(uri: string): Knex.Config {
  return knexConfigFor(parseDbTarget(uri));
}

export function knexConfigFor(target: DbTarget, warnings?: KnexWarnings): Knex.Config {
  const log = knexLogger(warnings);
  return target.backend === 'sqlite' ? sqliteConfig(target, log) : mysqlConfig(target, log);
}

/** How long a writer waits for another process's write lock before SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/** Where knex's own warnings go: a daemon's or command's logger, so they are lines of its log. */
export type KnexWarnings = (text: string) => void;

/**
 * knex's logger, minus the two warnings a losing migration racer prints
 * ("Can't take lock ..."): migrate() retries those, so they are noise;
 * minus "Acquire connection error", which openDatabase reports itself as
 * one line (DatabaseUnavailable) instead of a stack trace; and minus
 * "Connection lost", said once per pooled connection when the server goes
 * away (ten lines for one outage), which the loops that use the database
 * log once per outage themselves. The rest go to `sink`: without one, to
 * stderr.
 */
function knexLogger(sink: KnexWarnings = (text) => console.warn(`knex: ${text}`)): Knex.Logger {
  const pass = (message: unknown) => {
    const text = String(message);
    if (/Can't take lock to run migrations|release the lock manually|Acquire connection error|Connection lost/.test(text)) return;
    sink(text);
  };
  return { warn: pass, error: pass, deprecate: pass };
}

function sqliteConfig(target: SqliteTarget, log: Knex.Logger): Knex.Config {
  return {
    client: 'better-sqlite3',
    log,
    connection: { filename: target.filename },
    useNullAsDefault: true,
    // better-sqlite3 is synchronous: one connection per process, knex queues the rest.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: SqlitePragmas, done: (err: Error | null, conn: unknown) => void) => {
        try {
          // WAL lets readers (the commands) run while a daemon writes; the busy
          // timeout makes a second writer wait instead of failing at once.
          if (target.filename !== ':memory:') conn.pragma('journal_mode = WAL');
          // With WAL, NORMAL syncs at checkpoints rather than at every commit:
          // the database stays sound through a crash of the process or of the
          // machine, which may lose the last moments of writes (a restart
          // resumes from what was written, and cleans up a server whose
          // record was lost).
          conn.pragma('synchronous = NORMAL');
          conn.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
          conn.pragma('foreign_keys = ON');
          keepPreparedStatements(conn);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  };
}

interface SqlitePragmas {
  pragma(source: string): unknown;
  prepare(source: string): unknown;
}

function mysqlConfig(target: MysqlTarget, log: Knex.Logger): Knex.Config {
  return {
    client: 'mysql2',
    log,
    connection: {
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      ...(target.database === undefined ? {} : { database: target.database }),
      charset: 'utf8mb4',
      // Ids, counts and times (BIGINT milliseconds) come back as JS numbers;
      // only values beyond 2^53 would be strings, and we never store those.
      supportBigNumbers: true,
      bigNumberStrings: false,
      connectTimeout: 10_000,
      enableKeepAlive: true,
    },
    // A daemon keeps a few connections; min 0 lets idle ones close, so a
    // restarted server does not leave the pool holding dead sockets.
    pool: { min: 0, max: 10, idleTimeoutMillis: 30_000 },
    acquireConnectionTimeout: 15_000,
  };
}

/** SQLite needs its folder to exist before the first connection. */
export function prepareTarget(target: DbTarget): void {
  if (target.backend === 'sqlite' && target.filename !== ':memory:') {
    mkdirSync(dirname(target.filename), { recursive: true });
  }
}
