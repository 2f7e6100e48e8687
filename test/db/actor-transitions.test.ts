import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { ActorTransition, Database } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

const step = (actorId: string, at: number, to: string, extra: Partial<ActorTransition> = {}): ActorTransition => ({
  actorId, machine: actorId.split('-')[0] as string, at, event: 'tick', to, ...extra,
});

describeEachBackend('actor transitions', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  beforeEach(() => clearAll(db));

  it('are read back per actor, oldest first, with their reason; the last N when asked', async () => {
    await db.transitions.appendMany([
      step('node-1', 1000, 'building.creating', { event: 'xstate.init' }),
      step('node-2', 1001, 'building.creating'),
      step('node-1', 2000, 'building.waitingForServer', { from: 'building.creating', event: 'xstate.done.actor.create' }),
      step('node-1', 3000, 'deleting.deletingServer', { from: 'building.waitingForServer', reason: 'server went to ERROR: No valid host' }),
    ]);
    const history = await db.transitions.listFor('node-1');
    expect(history.map((t) => [t.at, t.from, t.to, t.event])).toEqual([
      [1000, undefined, 'building.creating', 'xstate.init'],
      [2000, 'building.creating', 'building.waitingForServer', 'xstate.done.actor.create'],
      [3000, 'building.waitingForServer', 'deleting.deletingServer', 'tick'],
    ]);
    expect(history[2]?.reason).toBe('server went to ERROR: No valid host');
    expect(history[0]).not.toHaveProperty('reason');
    expect((await db.transitions.listFor('node-1', 2)).map((t) => t.at)).toEqual([2000, 3000]);
    const latest = await db.transitions.latestOf(['node-1', 'node-2', 'node-3']);
    expect(latest.get('node-1')?.to).toBe('deleting.deletingServer');
    expect(latest.get('node-2')?.to).toBe('building.creating');
    expect(latest.has('node-3')).toBe(false);
  });

  it('cuts a reason too long to keep', async () => {
    await db.transitions.appendMany([step('node-1', 1, 'failed', { reason: 'x'.repeat(5000) })]);
    const [t] = await db.transitions.listFor('node-1');
    expect(t?.reason).toHaveLength(2000);
    expect(t?.reason?.endsWith('…')).toBe(true);
  });

  it('pruning keeps the newest N per actor, drops a removed actor’s history once old, and keeps what it is told to', async () => {
    await db.snapshots.save('node-1', 'node', { value: 'ready' });
    await db.transitions.appendMany(Array.from({ length: 12 }, (_, i) => step('node-1', 1000 + i, `s${i}`)));
    // node-2 is gone (no snapshot): old history. node-3 is gone too, but recently.
    await db.transitions.appendMany([step('node-2', 500, 'building'), step('node-2', 600, 'removed')]);
    await db.transitions.appendMany([step('node-3', 5000, 'removed')]);
    await db.transitions.appendMany([step('pool', 100, 'running')]);
    const removed = await db.transitions.prune({ perActor: 10, removedBefore: 4000, keep: (id) => id === 'pool' });
    expect(removed).toBe(2 + 2);
    expect((await db.transitions.listFor('node-1')).map((t) => t.to)).toEqual(['s2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11']);
    expect(await db.transitions.listFor('node-2')).toEqual([]);
    expect(await db.transitions.listFor('node-3')).toHaveLength(1);
    expect(await db.transitions.listFor('pool')).toHaveLength(1);
    expect(await db.transitions.count()).toBe(12);
  });

  it('finds the newest transition of the roots and the providers', async () => {
    await db.transitions.appendMany([
      step('pool', 1, 'providers, allocation.idle'), step('pool', 2, 'providers, allocation.allocating'),
      step('provider-a', 3, 'nodes, listing.idle'), step('node-1', 4, 'ready'), step('builder', 5, 'supervision'),
    ]);
    const found = await db.transitions.latestMatching(['pool', 'builder'], ['provider-']);
    expect(found.map((t) => [t.actorId, t.to]).sort()).toEqual([
      ['builder', 'supervision'], ['pool', 'providers, allocation.allocating'], ['provider-a', 'nodes, listing.idle'],
    ]);
  });
});
