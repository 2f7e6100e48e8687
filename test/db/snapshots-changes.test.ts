import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

describeEachBackend('actor snapshots and the change log', (backend) => {
  let db: Database;
  let clock = 3_000_000;

  beforeAll(async () => {
    db = await backend.open({ now: () => clock });
  });
  beforeEach(async () => {
    clock = 3_000_000;
    await clearAll(db);
  });

  const snapshot = {
    status: 'active',
    value: { launching: 'waitForServer' },
    context: { nodeId: 12, serverId: 'srv-12', deadline: 1_700_000_123_456, tags: ['a', 'ü', '✓'], nested: { empty: null, list: [{ x: 1 }] } },
    children: {},
  };

  it('a saved snapshot round-trips as the same nested object', async () => {
    const saved = await db.snapshots.save('node-12', 'node', snapshot);
    expect(saved).toEqual({ actorId: 'node-12', kind: 'node', snapshot, updatedAt: 3_000_000 });
    expect(await db.snapshots.get('node-12')).toEqual(saved);
  });

  it('saving again replaces the snapshot (upsert)', async () => {
    await db.snapshots.save('node-12', 'node', snapshot);
    clock += 100;
    const next = { ...snapshot, value: 'ready' };
    await db.snapshots.save('node-12', 'node', next);
    expect(await db.snapshots.get('node-12')).toEqual({ actorId: 'node-12', kind: 'node', snapshot: next, updatedAt: 3_000_100 });
    expect(await db.snapshots.listByKind('node')).toHaveLength(1);
  });

  it('a large snapshot fits (LONGTEXT on MySQL)', async () => {
    const big = { history: Array.from({ length: 5000 }, (_, i) => ({ i, event: 'server.status', status: 'BUILD' })) };
    await db.snapshots.save('node-1', 'node', big);
    expect((await db.snapshots.get('node-1'))?.snapshot).toEqual(big);
  });

  it('snapshots are listed by kind and deleted by actor id', async () => {
    await db.snapshots.save('node-2', 'node', { n: 2 });
    await db.snapshots.save('node-1', 'node', { n: 1 });
    await db.snapshots.save('upload-1', 'image-upload', { u: 1 });
    expect((await db.snapshots.listByKind('node')).map((s) => s.actorId)).toEqual(['node-1', 'node-2']);
    expect(await db.snapshots.delete('node-1')).toBe(true);
    expect(await db.snapshots.delete('node-1')).toBe(false);
    expect(await db.snapshots.get('node-1')).toBeUndefined();
    expect((await db.snapshots.listByKind('image-upload')).map((s) => s.actorId)).toEqual(['upload-1']);
  });

  it('changes are read back in order after the last id seen', async () => {
    expect(await db.changes.latestId()).toBe(0);
    const hold = await db.changes.append('node', 12, 'hold');
    const del = await db.changes.append('node', 13, 'delete');
    const build = await db.changes.append('build-request', 1, 'create');
    expect(hold).toEqual({ id: hold.id, kind: 'node', recordId: 12, action: 'hold', at: 3_000_000, detail: null });
    expect(await db.changes.latestId()).toBe(build.id);
    expect(await db.changes.since(0)).toEqual([hold, del, build]);
    expect(await db.changes.since(hold.id)).toEqual([del, build]);
    expect(await db.changes.since(hold.id, 1)).toEqual([del]);
    expect(await db.changes.since(build.id)).toEqual([]);
  });
});
