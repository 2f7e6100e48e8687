/**
 * The actors' history, in nodepoold's real host on a simulated clock
 * (SQLite and MariaDB): each state change of a node is written with its
 * event and reason, a chain from its first state to `removed`; the
 * providers' and the pool's are written too, without a write of their own
 * while the daemon idles; old histories of removed nodes are pruned.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { eventName } from '../../src/actors/transition-recorder.js';
import type { Database, StoredTransition } from '../../src/db/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { harnessDatabase, startHarness } from '../support/harness.js';
import { oneProviderConfig } from '../support/one-provider.js';

/** Each transition starts where the one before ended. */
function expectChain(history: readonly StoredTransition[]): void {
  expect(history[0]?.from).toBeUndefined();
  for (let i = 1; i < history.length; i += 1) expect(history[i]?.from).toBe(history[i - 1]?.to);
  for (const t of history) expect(t.event).not.toBe('');
}

describeEachBackend('the actors’ history', (backend) => {
  const database = harnessDatabase(backend);
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  it('records a node from its first state to ready, then to removed with the command’s reason; the providers’ and the pool’s at the stop', async () => {
    const dir = tempDir();
    const h = await startHarness({ db, dir, config: oneProviderConfig(dir, backend.uri, { minReady: 1 }) });
    const node = await h.until('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]);
    await h.host.flush();
    const launched = await db.transitions.listFor(`node-${node.id}`);
    expectChain(launched);
    expect(launched[0]?.to).toMatch(/^building\./);
    expect(launched.at(-1)?.to).toBe('ready');
    expect(launched.every((t) => t.machine === 'node')).toBe(true);
    expect(launched.map((t) => t.at)).toEqual([...launched.map((t) => t.at)].sort((a, b) => a - b));

    await db.transaction(async (tx) => {
      await tx.nodes.setState(node.id, 'delete', 'not wanted');
      await tx.changes.append('node', node.id, 'delete');
    });
    await h.until('the node removed', async () => !(await db.nodes.get(node.id)), { stepMs: 1_000 });
    await h.host.flush();
    const whole = await db.transitions.listFor(`node-${node.id}`);
    expectChain(whole);
    expect(whole.at(-1)?.to).toBe('removed');
    const leaving = whole.find((t) => t.to.startsWith('deleting'));
    expect(leaving?.event).toBe('delete');
    expect(leaving?.reason).toBe('deleted by command');
    // Its history outlives its snapshot.
    expect(await db.snapshots.get(`node-${node.id}`)).toBeUndefined();

    await h.stop();
    expect((await db.transitions.listFor('provider-fake-a')).length).toBeGreaterThan(0);
    expect((await db.transitions.listFor('pool')).length).toBeGreaterThan(0);
  });

  it('prunes a removed node’s history after actor-history-hours and keeps a live node’s newest', async () => {
    const dir = tempDir();
    const h = await startHarness({ db, dir, config: { ...oneProviderConfig(dir, backend.uri, { minReady: 1 }), 'actor-history-hours': 1 } });
    const first = await h.until('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]);
    await db.transaction(async (tx) => {
      await tx.nodes.setState(first.id, 'delete');
      await tx.changes.append('node', first.id, 'delete');
    });
    const second = await h.until('its replacement ready', async () => (await db.nodes.list({ state: 'ready' })).find((n) => n.id !== first.id), { stepMs: 1_000 });
    await h.host.flush();
    expect((await db.transitions.listFor(`node-${first.id}`)).length).toBeGreaterThan(0);
    await h.advance(2 * 3_600_000, 60_000);
    await h.host.pruneHistory();
    expect(await db.transitions.listFor(`node-${first.id}`)).toEqual([]);
    expect((await db.transitions.listFor(`node-${second.id}`)).at(-1)?.to).toBe('ready');
  });
});

describe('the events as the history names them', () => {
  it('names the end of an invoked effect by the state it ran in', () => {
    expect(eventName('xstate.done.actor.0.node.building.creating')).toBe('done: building.creating');
    expect(eventName('xstate.error.actor.3.imageUpload.uploading')).toBe('error: uploading');
    expect(eventName('xstate.done.actor.survey')).toBe('done: survey');
    expect(eventName('server.listed')).toBe('server.listed');
  });
});
