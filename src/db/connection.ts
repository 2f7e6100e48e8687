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
 * - `mysql://user:pass@h1:3311,h2:3312,h3:3313/db`: several servers of one
 *   database (a Galera cluster's nodes, docs/galera.md). Each new connection
 *   goes to the first of them that answers, starting from the last one used.
 */
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
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

export interface MysqlHost {
  host: string;
  port: number;
}

export interface MysqlTarget {
  backend: 'mysql';
  /** The first server of `hosts`. */
  host: string;
  port: number;
  /** Every server the URI names, in its order (one for a plain URI). */
  hosts: MysqlHost[];
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
  // WHATWG URLs take one host: read the host list apart, and the rest with
  // the first host in its place.
  const parts = /^([a-z][a-z0-9+.-]*:\/\/)(?:(.*)@)?([^/?#@]*)(.*)$/i.exec(uri);
  const hostList = parts?.[3] ?? '';
  const hostTexts = hostList.split(',');
  let url: URL;
  try {
    url = new URL(`${parts?.[1] ?? ''}${parts?.[2] === undefined ? '' : `${parts[2]}@`}${hostTexts[0] ?? ''}${parts?.[4] ?? ''}`);
  } catch {
    throw new InvalidDbUri(redactUri(uri), 'not a URL (mysql://user:password@host:port/database, or host1:port1,host2:port2,... for several servers)');
  }
  if (!url.hostname) throw new InvalidDbUri(redactUri(uri), 'no host');
  const hosts = hostTexts.map((text, i) => parseHost(uri, text, i));
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const first = hosts[0] as MysqlHost;
  return {
    backend: 'mysql',
    host: first.host,
    port: first.port,
    hosts,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: database === '' ? undefined : database,
  };
}

/** One `host`, `host:port`, `[v6]` or `[v6]:port` of a host list. */
function parseHost(uri: string, text: string, index: number): MysqlHost {
  const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::([0-9]{1,5}))?$/i.exec(text);
  const port = match?.[3] === undefined ? 3306 : Number(match[3]);
  if (!match || port < 1 || port > 65535) {
    const what = text === '' ? 'an empty host' : `'${text}' is not host or host:port`;
    throw new InvalidDbUri(redactUri(uri), `${what} (server ${index + 1} of the list; write host1:port1,host2:port2,...)`);
  }
  return { host: (match[1] ?? match[2] ?? '').toLowerCase(), port };
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
  const settings = {
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
  };
  return {
    client: 'mysql2',
    log,
    connection: target.hosts.length > 1 ? severalServers(target.hosts, settings) : settings,
    // A daemon keeps a few connections; min 0 lets idle ones close, so a
    // restarted server does not leave the pool holding dead sockets.
    pool: { min: 0, max: 10, idleTimeoutMillis: 30_000, afterCreate: causalReadsOnGalera },
    acquireConnectionTimeout: 15_000,
  };
}

/** How long a server of a host list has to accept a TCP connection before the next one is tried. */
export const HOST_PROBE_TIMEOUT_MS = 2_000;

type Mysql2Settings = Record<string, unknown> & { host: string; port: number };

/**
 * knex's connection provider for a URI naming several servers: called for a
 * new pooled connection whenever the server last chosen is known to have
 * failed (and at first), it returns the settings of the first server,
 * starting from the last one chosen, that accepts a TCP connection within
 * HOST_PROBE_TIMEOUT_MS, so a dead server costs one refused (or timed out)
 * probe. None answering: the last one chosen, whose connection then fails
 * with the driver's own error (the callers treat it as unreachable and try
 * again later).
 *
 * "Known to have failed": a connection to the chosen server could not be
 * made, or one was closed (the server died or restarted; a connection the
 * pool retires when idle counts too, which costs one probe of a live
 * server). Until then knex keeps the settings, so a healthy server costs no
 * probe per connection. Settings found expired when knex checks out a
 * pooled connection make it retire that connection and use a new one.
 */
function severalServers(hosts: readonly MysqlHost[], settings: Mysql2Settings): () => Promise<Knex.MySql2ConnectionConfig> {
  let current = 0;
  let stale = true;
  const failed = (index: number) => {
    if (index === current) stale = true;
  };
  return async () => {
    current = await firstAnswering(hosts, current);
    stale = false;
    const index = current;
    const { host, port } = hosts[index] as MysqlHost;
    return {
      ...settings,
      host,
      port,
      // mysql2 connects through this socket: we learn of a refused or
      // reset connection, and of a server closing one we did not end.
      stream: () => {
        const socket = connect({ host, port });
        socket.setKeepAlive(true);
        socket.once('error', () => failed(index));
        socket.once('end', () => failed(index));
        return socket;
      },
      expirationChecker: () => stale,
    } as Knex.MySql2ConnectionConfig;
  };
}

async function firstAnswering(hosts: readonly MysqlHost[], from: number): Promise<number> {
  for (let k = 0; k < hosts.length; k++) {
    const index = (from + k) % hosts.length;
    if (await accepts(hosts[index] as MysqlHost, HOST_PROBE_TIMEOUT_MS)) return index;
  }
  return from;
}

function accepts({ host, port }: MysqlHost, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

interface Mysql2Callbacks {
  query(sql: string, callback: (err: Error | null, rows?: unknown) => void): void;
}

/**
 * On a Galera node, make this connection's reads causal: a read waits until
 * the node has applied every write the cluster committed before it, so a
 * process reading leases or the change log on one node sees what another
 * process committed on another (docs/galera.md). Elsewhere (@@wsrep_on is
 * 0, or, on MySQL, unknown) nothing changes.
 */
function causalReadsOnGalera(conn: Mysql2Callbacks, done: (err: Error | null, conn: unknown) => void): void {
  conn.query('SELECT @@wsrep_on AS wsrep_on', (err, rows) => {
    const on = !err && Array.isArray(rows) && Number((rows[0] as { wsrep_on?: unknown } | undefined)?.wsrep_on) === 1;
    if (!on) {
      done(null, conn);
      return;
    }
    conn.query('SET SESSION wsrep_sync_wait = 1', (setErr) => done(setErr, conn));
  });
}

/** SQLite needs its folder to exist before the first connection. */
export function prepareTarget(target: DbTarget): void {
  if (target.backend === 'sqlite' && target.filename !== ':memory:') {
    mkdirSync(dirname(target.filename), { recursive: true });
  }
}
