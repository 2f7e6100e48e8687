/**
 * Server-level operations on MySQL: checking a server answers, creating and
 * dropping a database. Used by the test support and by operators' setup
 * scripts; the daemons never create databases themselves.
 */
import knexFactory from 'knex';
import type { Knex } from 'knex';
import { type MysqlTarget, knexConfigFor, parseDbTarget, redactUri } from './connection.js';
import { DatabaseUnavailable, InvalidDbUri } from './errors.js';

/** A knex on the server of a mysql:// URI, whatever database it names. */
function serverKnex(serverUri: string): Knex {
  const target = parseDbTarget(serverUri);
  if (target.backend !== 'mysql') throw new InvalidDbUri(redactUri(serverUri), 'expected a mysql:// URI');
  const server: MysqlTarget = { ...target, database: undefined };
  return knexFactory({ ...knexConfigFor(server), pool: { min: 0, max: 1 } });
}

/** Names go into DDL as identifiers: allow only the plain ones. */
function checkName(name: string): void {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`unsafe database name '${name}'`);
}

async function withServer<T>(serverUri: string, fn: (knex: Knex) => Promise<T>): Promise<T> {
  const knex = serverKnex(serverUri);
  try {
    return await fn(knex);
  } finally {
    await knex.destroy();
  }
}

/** Resolves if the server accepts a connection; DatabaseUnavailable otherwise. */
export async function pingMysqlServer(serverUri: string): Promise<void> {
  await withServer(serverUri, async (knex) => {
    try {
      await knex.client.releaseConnection(await knex.client.acquireConnection());
    } catch (err) {
      throw new DatabaseUnavailable(redactUri(serverUri), err instanceof Error ? err.message : String(err), { cause: err });
    }
  });
}

export async function createMysqlDatabase(serverUri: string, name: string): Promise<void> {
  checkName(name);
  await withServer(serverUri, (knex) => knex.raw('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_bin', [name]));
}

export async function dropMysqlDatabase(serverUri: string, name: string): Promise<void> {
  checkName(name);
  await withServer(serverUri, (knex) => knex.raw('DROP DATABASE IF EXISTS ??', [name]));
}

/** The URI of database `name` on the server (or servers) of `serverUri` (credentials kept). */
export function withDatabaseName(serverUri: string, name: string): string {
  // Several servers (h1:p1,h2:p2/...): not a WHATWG URL; the path follows the host list.
  const several = /^([a-z][a-z0-9+.-]*:\/\/(?:.*@)?[^/?#@]*,[^/?#@]*)(?:[/?#].*)?$/i.exec(serverUri);
  if (several?.[1]) return `${several[1]}/${encodeURIComponent(name)}`;
  const url = new URL(serverUri);
  url.pathname = `/${name}`;
  url.search = '';
  return url.toString();
}
