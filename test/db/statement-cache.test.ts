import BetterSqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { keepPreparedStatements } from '../../src/db/statement-cache.js';

describe('prepared statements kept per SQLite connection', () => {
  it('prepares a statement text once and gives the same statement back', () => {
    const db = new BetterSqlite(':memory:');
    const prepare = db.prepare.bind(db);
    let prepared = 0;
    db.prepare = ((source: string) => {
      prepared += 1;
      return prepare(source);
    }) as typeof db.prepare;
    keepPreparedStatements(db);
    db.prepare('create table t (a integer)').run();
    const insert = db.prepare('insert into t (a) values (?)');
    insert.run(1);
    const again = db.prepare('insert into t (a) values (?)');
    again.run(2);
    expect(again).toBe(insert);
    expect(prepared).toBe(2);
    expect(db.prepare('select a from t order by a').all()).toEqual([{ a: 1 }, { a: 2 }]);
    db.close();
  });

  it('drops the least recently used statement past its bound', () => {
    const sources: string[] = [];
    const connection = { prepare: (source: string) => { sources.push(source); return { source }; } };
    keepPreparedStatements(connection, 2);
    const a = connection.prepare('a');
    connection.prepare('b');
    expect(connection.prepare('a')).toBe(a); // a is now the newest
    connection.prepare('c'); // b, the oldest, is dropped
    expect(connection.prepare('a')).toBe(a);
    connection.prepare('b');
    expect(sources).toEqual(['a', 'b', 'c', 'b']);
  });

  it('a statement prepared before a schema change still runs after it', () => {
    const db = new BetterSqlite(':memory:');
    keepPreparedStatements(db);
    db.prepare('create table t (a integer)').run();
    db.prepare('insert into t (a) values (?)').run(1);
    db.prepare('alter table t add column b integer').run();
    db.prepare('insert into t (a) values (?)').run(2);
    expect(db.prepare('select a, b from t order by a').all()).toEqual([{ a: 1, b: null }, { a: 2, b: null }]);
    db.close();
  });
});
