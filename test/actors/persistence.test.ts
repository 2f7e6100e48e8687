/**
 * The actor host's persistence writes snapshots with their records in
 * batches: a burst of transitions costs a few transactions, each actor's
 * newest state lands, and an event that changed nothing writes nothing.
 */
import { afterEach, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { tempDir } from '../support/config-files.js';
import { createTempSqliteUri } from '../support/databases.js';
import { startHarness, stopHarnesses } from '../support/harness.js';
import { oneProviderConfig } from '../support/one-provider.js';

let db: Database | undefined;
afterEach(async () => {
  await stopHarnesses();
  await db?.close();
});

/** Counts the transactions the database is asked for. */
function countTransactions(database: Database): { count: number } {
  const counter = { count: 0 };
  const original = database.transaction.bind(database);
  database.transaction = (fn) => {
    counter.count += 1;
    return original(fn);
  };
  return counter;
}

it('writes the states of 200 nodes coming ready in a few transactions, and each row as its actor last said', async () => {
  const dburi = createTempSqliteUri();
  db = await openDatabase(dburi);
  const transactions = countTransactions(db);
  const dir = tempDir();
  const h = await startHarness({ db, dir, config: oneProviderConfig(dir, dburi, { minReady: 200, maxServers: 200, latency: { create: 0, active: 1 } }) });
  // Every changed snapshot of a node actor is a state to persist.
  let changes = 0;
  const last = new Map<string, unknown>();
  h.host.inspection.subscribe((e) => {
    const id = (e.actorRef as unknown as { id: string }).id;
    if (e.type !== '@xstate.snapshot' || !id.startsWith('node-') || last.get(id) === e.snapshot) return;
    last.set(id, e.snapshot);
    changes += 1;
  });
  await h.until('200 ready nodes', async () => (await db?.nodes.list({ state: 'ready' }))?.length === 200);
  await h.host.flush();
  expect(changes).toBeGreaterThanOrEqual(600);
  // Many changes share a transaction (the launcher's rows took one).
  expect(transactions.count).toBeLessThan(changes / 2);
  for (const node of await db.nodes.list()) {
    const saved = (await db.snapshots.get(`node-${node.id}`))?.snapshot as { value: unknown; context: { serverId?: string; ip?: string } };
    expect([saved.value, saved.context.serverId, saved.context.ip]).toEqual(['ready', node.externalId, node.ip]);
  }

  // Ten more minutes of idle time: lists come and go, nothing changes, nothing is written.
  const before = transactions.count;
  await h.advance(600_000, 5_000);
  await h.host.flush();
  expect(transactions.count - before).toBeLessThan(3);
});
