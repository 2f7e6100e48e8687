/**
 * The listings drawn once per read: within the cache's second every request
 * gets the page drawn from the rows read, and the next read draws it anew.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { ListingPages } from '../../src/web/listing-pages.js';
import { createTempSqliteUri } from '../support/databases.js';

let db: Database;
beforeAll(async () => {
  db = await openDatabase(createTempSqliteUri());
  await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', hostname: 'small-1', createdAt: 0 });
});
afterAll(async () => {
  await db.close();
});

it('serves the page drawn from the rows of the last read until the cache reads again', async () => {
  let now = 10_000;
  const pages = new ListingPages({ db, labels: () => [], cacheMs: 1_000, now: () => now });
  const first = await pages.page('node-list', { json: true });
  now += 900;
  const second = await pages.page('node-list', { json: true });
  // The same drawing: the age in it is the one of the first request.
  expect(second).toBe(first);
  const table = await pages.page('node-list', { json: false });
  expect(table.body).toContain('| small-1 ');
  // One node's page is drawn for it, from the same rows.
  expect((await pages.page('node-list', { json: true, nodeId: 999 })).body).toBe('[]\n');
  now += 200;
  await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'building', hostname: 'small-2', createdAt: 0 });
  const third = await pages.page('node-list', { json: true });
  expect(third).not.toBe(first);
  expect((JSON.parse(String(third.body)) as unknown[]).length).toBe(2);
});
