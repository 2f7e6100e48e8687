import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

describeEachBackend('transactions', (backend) => {
  let db: Database;

  beforeAll(async () => {
    db = await backend.open();
  });
  beforeEach(() => clearAll(db));

  it('a record change, the actor snapshot and the change log entry commit together', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    const result = await db.transaction(async (tx) => {
      const held = await tx.nodes.setState(node.id, 'hold', 'kept for debugging');
      await tx.snapshots.save(`node-${node.id}`, 'node', { value: 'hold' });
      await tx.changes.append('node', node.id, 'hold');
      return held;
    });
    expect(result.state).toBe('hold');
    expect((await db.nodes.get(node.id))?.state).toBe('hold');
    expect((await db.snapshots.get(`node-${node.id}`))?.snapshot).toEqual({ value: 'hold' });
    expect((await db.changes.since(0)).map((c) => c.action)).toEqual(['hold']);
  });

  it('a failure inside the transaction leaves nothing behind', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    const failure = db.transaction(async (tx) => {
      await tx.nodes.setState(node.id, 'delete');
      await tx.nodes.create({ provider: 'rax', label: 'trusty', target: 't' });
      await tx.snapshots.save(`node-${node.id}`, 'node', { value: 'delete' });
      await tx.changes.append('node', node.id, 'delete');
      await tx.jobs.create('gate-tempest');
      await tx.leases.tryAcquire('node-delete', 'me', 1000);
      throw new Error('crash before commit');
    });
    await expect(failure).rejects.toThrow('crash before commit');
    expect(await db.nodes.list()).toEqual([node]);
    expect(await db.snapshots.get(`node-${node.id}`)).toBeUndefined();
    expect(await db.changes.latestId()).toBe(0);
    expect(await db.jobs.list()).toEqual([]);
    expect(await db.leases.holder('node-delete')).toBeUndefined();
  });
});

describeEachBackend('transactions under write conflicts', (backend) => {
  it('a transaction that read before another connection wrote is run again, not lost', async () => {
    const first = await backend.open();
    const second = await backend.open();
    const node = await first.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    let attempts = 0;
    let otherWrote!: () => void;
    const wrote = new Promise<void>((resolve) => {
      otherWrote = resolve;
    });
    const tx = first.transaction(async (t) => {
      attempts += 1;
      await t.nodes.get(node.id);
      if (attempts === 1) {
        // Another process commits between this transaction's read and its write.
        await second.nodes.update(node.id, { comment: 'from the other process' });
        otherWrote();
      }
      await wrote;
      return t.nodes.update(node.id, { state: 'hold' });
    });
    expect((await tx).state).toBe('hold');
    const after = await second.nodes.get(node.id);
    expect(after).toMatchObject({ state: 'hold', comment: 'from the other process' });
    // SQLite in WAL mode refuses the first attempt's write (SQLITE_BUSY_SNAPSHOT); MySQL lets it through.
    expect(attempts).toBe(backend.name === 'sqlite' ? 2 : 1);
  });
});
