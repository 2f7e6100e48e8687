import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DatabaseUnavailable, InvalidDbUri, UnknownDbScheme, openDatabase, parseDbTarget, parseDbUri, redactUri, withDatabaseName } from '../../src/db/index.js';
import { createTempSqliteUri } from '../support/databases.js';

describe('database URIs', () => {
  it('sqlite:/// names an absolute file', () => {
    expect(parseDbTarget('sqlite:///var/lib/nodepool/nodepool.db')).toEqual({ backend: 'sqlite', filename: '/var/lib/nodepool/nodepool.db' });
    // SQLAlchemy's four-slash absolute form means the same file.
    expect(parseDbTarget('sqlite:////var/lib/nodepool/nodepool.db')).toEqual({ backend: 'sqlite', filename: '/var/lib/nodepool/nodepool.db' });
  });

  it('sqlite:relative is relative to the current directory', () => {
    expect(parseDbTarget('sqlite:var/nodepool.db')).toEqual({ backend: 'sqlite', filename: join(process.cwd(), 'var/nodepool.db') });
  });

  it('sqlite:///:memory: is an in-memory database', () => {
    expect(parseDbTarget('sqlite:///:memory:')).toEqual({ backend: 'sqlite', filename: ':memory:' });
  });

  it('a SQLite knex config uses better-sqlite3 with one connection', () => {
    const config = parseDbUri('sqlite:///tmp/x.db');
    expect(config.client).toBe('better-sqlite3');
    expect(config.connection).toEqual({ filename: '/tmp/x.db' });
    expect(config.pool).toMatchObject({ min: 1, max: 1 });
  });

  it('mysql:// gives host, port, database and URL-decoded credentials', () => {
    expect(parseDbTarget('mysql://node%40pool:p%2Fss%3Aw0rd@db.example.org:3307/nodepool?charset=utf8')).toEqual({
      backend: 'mysql',
      host: 'db.example.org',
      port: 3307,
      hosts: [{ host: 'db.example.org', port: 3307 }],
      user: 'node@pool',
      password: 'p/ss:w0rd',
      database: 'nodepool',
    });
  });

  it('mysql+pymysql:// (the 0.4 spelling) means the same, port 3306 by default', () => {
    expect(parseDbTarget('mysql+pymysql://nodepool@localhost/nodepool')).toEqual({
      backend: 'mysql',
      host: 'localhost',
      port: 3306,
      hosts: [{ host: 'localhost', port: 3306 }],
      user: 'nodepool',
      password: '',
      database: 'nodepool',
    });
  });

  it('a MySQL knex config returns big numbers as numbers', () => {
    const config = parseDbUri('mysql://u:p@h/d');
    expect(config.client).toBe('mysql2');
    expect(config.connection).toMatchObject({ supportBigNumbers: true, bigNumberStrings: false, database: 'd', charset: 'utf8mb4' });
  });

  it('mysql:// with several servers (a Galera cluster) lists them all, the first as host and port', () => {
    expect(parseDbTarget('mysql://nodepool:s%40cret@db1:3311,db2:3312,10.0.0.3,[fd00::4]:3314/nodepool')).toEqual({
      backend: 'mysql',
      host: 'db1',
      port: 3311,
      hosts: [
        { host: 'db1', port: 3311 },
        { host: 'db2', port: 3312 },
        { host: '10.0.0.3', port: 3306 },
        { host: 'fd00::4', port: 3314 },
      ],
      user: 'nodepool',
      password: 's@cret',
      database: 'nodepool',
    });
    expect(parseDbTarget('mysql+pymysql://np@h1,h2/np?charset=utf8')).toMatchObject({ hosts: [{ host: 'h1', port: 3306 }, { host: 'h2', port: 3306 }], database: 'np' });
  });

  it('a URI with several servers hides its password and connects through a provider', () => {
    const uri = 'mysql://nodepool:hunter2@db1:3311,db2:3312,db3:3313/nodepool';
    expect(redactUri(uri)).toBe('mysql://nodepool:***@db1:3311,db2:3312,db3:3313/nodepool');
    expect(typeof parseDbUri(uri).connection).toBe('function');
    expect(withDatabaseName('mysql://root@db1:3311,db2:3312/', 'nodepool_x')).toBe('mysql://root@db1:3311,db2:3312/nodepool_x');
    expect(withDatabaseName('mysql://root:pw@db1:3311,db2:3312/old?charset=utf8', 'new')).toBe('mysql://root:pw@db1:3311,db2:3312/new');
  });

  it('a malformed host list is an InvalidDbUri naming the bad entry, without the password', () => {
    const error = (uri: string) => {
      try {
        parseDbTarget(uri);
      } catch (err) {
        return err;
      }
      throw new Error(`${uri} was accepted`);
    };
    expect(error('mysql://np:hunter2@db1:3311,,db3:3313/np')).toBeInstanceOf(InvalidDbUri);
    expect(String(error('mysql://np:hunter2@db1:3311,,db3:3313/np'))).toMatch(/mysql:\/\/np:\*\*\*@db1:3311,,db3:3313\/np: an empty host \(server 2 of the list/);
    expect(String(error('mysql://np:hunter2@db1:3311,db2:port/np'))).toMatch(/'db2:port' is not host or host:port \(server 2/);
    expect(String(error('mysql://np:hunter2@db1:3311,db2:99999/np'))).toMatch(/'db2:99999'/);
    expect(String(error('mysql://np:hunter2@db1,/np'))).toMatch(/an empty host/);
    for (const uri of ['mysql://np:hunter2@db1:3311,,db3:3313/np', 'mysql://np:hunter2@db1:3311,db2:port/np']) expect(String(error(uri))).not.toContain('hunter2');
  });

  it('an unknown scheme is an error naming it and the accepted ones', () => {
    expect(() => parseDbUri('postgresql://u@h/d')).toThrow(UnknownDbScheme);
    expect(() => parseDbUri('postgresql://u@h/d')).toThrow(/'postgresql'.*sqlite:\/\/, mysql:\/\/, mysql\+pymysql:\/\//);
  });

  it('text that is not a URI is an InvalidDbUri', () => {
    expect(() => parseDbUri('nodepool.db')).toThrow(InvalidDbUri);
  });

  it('redactUri hides the password and only the password', () => {
    expect(redactUri('mysql+pymysql://nodepool:s3cret@db:3306/nodepool')).toBe('mysql+pymysql://nodepool:***@db:3306/nodepool');
    expect(redactUri('mysql://u:p@ss/w@rd@db/n')).toBe('mysql://u:***@db/n');
    expect(redactUri('mysql://nodepool@db/nodepool')).toBe('mysql://nodepool@db/nodepool');
    expect(redactUri('sqlite:///var/lib/nodepool.db')).toBe('sqlite:///var/lib/nodepool.db');
  });
});

describe('opening a database', () => {
  it('an unreachable MySQL fails quickly with DatabaseUnavailable and no password', async () => {
    const started = Date.now();
    const error = await openDatabase('mysql://nodepool:hunter2@127.0.0.1:1/nodepool').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailable);
    expect((error as Error).message).toContain('mysql://nodepool:***@127.0.0.1:1/nodepool');
    expect((error as Error).message).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a MySQL URI without a database name is refused', async () => {
    await expect(openDatabase('mysql://root@127.0.0.1:1/')).rejects.toThrow(InvalidDbUri);
  });

  it('SQLite creates the missing parent folder', async () => {
    const uri = createTempSqliteUri().replace(/nodepool\.db$/, 'a/b/nodepool.db');
    const db = await openDatabase(uri);
    await db.close();
    expect(existsSync(uri.slice('sqlite://'.length))).toBe(true);
  });

  it('SQLite runs in WAL mode with foreign keys on, so processes can share the file', async () => {
    const uri = createTempSqliteUri();
    const db = await openDatabase(uri);
    const connection = (await db.knex.client.acquireConnection()) as BetterSqlite.Database;
    expect(connection.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(Number(connection.pragma('busy_timeout', { simple: true }))).toBeGreaterThanOrEqual(5000);
    await db.knex.client.releaseConnection(connection);
    await db.close();
    // WAL is a property of the file: another process opening it sees it too.
    const other = new BetterSqlite(uri.slice('sqlite://'.length));
    expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    other.close();
  });

  it('a SQLite file that cannot be created is DatabaseUnavailable', async () => {
    // The "folder" is a regular file, so neither the folder nor the database can be made.
    const blocker = createTempSqliteUri().slice('sqlite://'.length);
    writeFileSync(blocker, '');
    await expect(openDatabase(`sqlite://${blocker}/sub/nodepool.db`)).rejects.toThrow(DatabaseUnavailable);
  });

  it('an in-memory SQLite database works (one connection)', async () => {
    const db = await openDatabase('sqlite:///:memory:');
    await db.jobs.create('gate-x');
    expect(await db.jobs.list()).toHaveLength(1);
    await db.close();
  });
});
