import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database, NodeRecord } from '../../src/db/index.js';
import { NotFound } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

describeEachBackend('nodes and subnodes', (backend) => {
  let db: Database;
  let clock = 1_000_000;

  beforeAll(async () => {
    db = await backend.open({ now: () => clock });
  });
  beforeEach(async () => {
    clock = 1_000_000;
    await clearAll(db);
  });

  it('a new node is building, with state time and creation time now', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 'default' });
    expect(node).toEqual({
      id: node.id,
      provider: 'rax',
      label: 'trusty',
      target: 'default',
      manager: null,
      az: null,
      hostname: null,
      nodename: null,
      externalId: null,
      ip: null,
      ipPrivate: null,
      uploadId: null,
      state: 'building',
      stateTime: 1_000_000,
      comment: null,
      job: null,
      createdAt: 1_000_000,
    });
    expect(await db.nodes.get(node.id)).toEqual(node);
  });

  it('ids and times come back as numbers', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', uploadId: 7, createdAt: 1_700_000_000_123 });
    const read = await db.nodes.get(node.id);
    expect(typeof read?.id).toBe('number');
    expect(read?.uploadId).toBe(7);
    expect(read?.createdAt).toBe(1_700_000_000_123);
    expect(read?.stateTime).toBe(1_700_000_000_123);
    // The driver itself, not only our mapping, hands back BIGINT as a number.
    const raw = (await db.knex('node').where('id', node.id).first()) as { created_at: unknown; id: unknown };
    expect(typeof raw.created_at).toBe('number');
    expect(typeof raw.id).toBe('number');
  });

  it('updates many rows in one go, each with its own columns, stamping state_time only where the state changed', async () => {
    const nodes = await Promise.all([1, 2, 3, 4].map(() => db.nodes.create({ provider: 'rax', label: 'trusty', target: 't' })));
    const [a, b, c, d] = nodes as [NodeRecord, NodeRecord, NodeRecord, NodeRecord];
    clock += 5000;
    await db.nodes.updateManyFrom([
      { current: a, patch: { state: 'ready', ip: '10.0.0.1', externalId: 'srv-a' } },
      { current: b, patch: { externalId: 'srv-b' } },
      // Nothing differs: nothing is written.
      { current: c, patch: { state: 'building' } },
      { current: d, patch: { ip: null, comment: 'it\'s "quoted"' } },
    ]);
    const read = await db.nodes.getMany(nodes.map((n) => n.id));
    expect(read.get(a.id)).toMatchObject({ state: 'ready', stateTime: 1_005_000, ip: '10.0.0.1', externalId: 'srv-a' });
    expect(read.get(b.id)).toMatchObject({ state: 'building', stateTime: 1_000_000, ip: null, externalId: 'srv-b' });
    expect(read.get(c.id)).toEqual(c);
    expect(read.get(d.id)).toMatchObject({ state: 'building', ip: null, comment: 'it\'s "quoted"', externalId: null });
  });

  it('updates more rows than fit in one statement', async () => {
    const nodes: NodeRecord[] = [];
    for (let i = 0; i < 450; i += 1) nodes.push(await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't' }));
    await db.nodes.updateManyFrom(nodes.map((current) => ({ current, patch: { ip: `10.1.${current.id >> 8}.${current.id & 255}` } })));
    const read = await db.nodes.getMany(nodes.map((n) => n.id));
    expect(nodes.every((n) => read.get(n.id)?.ip === `10.1.${n.id >> 8}.${n.id & 255}`)).toBe(true);
  });

  it('changing the state stamps state_time; other changes do not', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't' });
    clock += 5000;
    const ready = await db.nodes.update(node.id, { state: 'ready', ip: '10.0.0.5' });
    expect(ready).toMatchObject({ state: 'ready', stateTime: 1_005_000, ip: '10.0.0.5' });
    clock += 5000;
    const renamed = await db.nodes.update(node.id, { hostname: 'trusty-rax-1', state: 'ready' });
    expect(renamed.stateTime).toBe(1_005_000);
    expect(await db.nodes.get(node.id)).toEqual(renamed);
  });

  it('setState records the state and, when given, a comment', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    clock += 1000;
    const held = await db.nodes.setState(node.id, 'hold', 'debugging a failure');
    expect(held).toMatchObject({ state: 'hold', comment: 'debugging a failure', stateTime: 1_001_000 });
    const deleting = await db.nodes.setState(node.id, 'delete');
    expect(deleting.comment).toBe('debugging a failure');
    expect((await db.nodes.get(node.id))?.state).toBe('delete');
  });

  it('updating a node that does not exist is NotFound', async () => {
    await expect(db.nodes.update(999_999, { state: 'ready' })).rejects.toThrow(NotFound);
    await expect(db.nodes.update(999_999, { state: 'ready' })).rejects.toThrow('node 999999 not found');
  });

  it('lists by provider, label and state, in id order', async () => {
    const a = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    const b = await db.nodes.create({ provider: 'rax', label: 'precise', target: 't', state: 'ready' });
    const c = await db.nodes.create({ provider: 'hp', label: 'trusty', target: 't', state: 'building' });
    const d = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'used' });
    expect((await db.nodes.list()).map((n) => n.id)).toEqual([a.id, b.id, c.id, d.id]);
    expect((await db.nodes.list({ provider: 'rax' })).map((n) => n.id)).toEqual([a.id, b.id, d.id]);
    expect((await db.nodes.list({ provider: 'rax', label: 'trusty' })).map((n) => n.id)).toEqual([a.id, d.id]);
    expect((await db.nodes.list({ state: 'ready' })).map((n) => n.id)).toEqual([a.id, b.id]);
    expect((await db.nodes.list({ states: ['building', 'used'] })).map((n) => n.id)).toEqual([c.id, d.id]);
  });

  it('finds a node by node name (job events) and by server id within a provider', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', nodename: 'trusty-rax-42', externalId: 'srv-1' });
    await db.nodes.create({ provider: 'hp', label: 'trusty', target: 't', externalId: 'srv-1' });
    expect((await db.nodes.findByNodename('trusty-rax-42'))?.id).toBe(node.id);
    expect(await db.nodes.findByNodename('TRUSTY-RAX-42')).toBeUndefined();
    expect((await db.nodes.findByExternalId('rax', 'srv-1'))?.id).toBe(node.id);
    expect(await db.nodes.findByExternalId('rax', 'srv-2')).toBeUndefined();
  });

  it('counts nodes per provider, label and state', async () => {
    await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'ready' });
    await db.nodes.create({ provider: 'rax', label: 'trusty', target: 't', state: 'building' });
    await db.nodes.create({ provider: 'hp', label: 'trusty', target: 't', state: 'ready' });
    expect(await db.nodes.countBy()).toEqual([
      { provider: 'hp', label: 'trusty', state: 'ready', count: 1 },
      { provider: 'rax', label: 'trusty', state: 'building', count: 1 },
      { provider: 'rax', label: 'trusty', state: 'ready', count: 2 },
    ]);
  });

  it('deleting a node deletes its subnodes', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'multi', target: 't' });
    const other = await db.nodes.create({ provider: 'rax', label: 'multi', target: 't' });
    await db.subnodes.create({ nodeId: node.id });
    await db.subnodes.create({ nodeId: node.id });
    const kept = await db.subnodes.create({ nodeId: other.id });
    expect(await db.nodes.delete(node.id)).toBe(true);
    expect(await db.nodes.delete(node.id)).toBe(false);
    expect(await db.nodes.get(node.id)).toBeUndefined();
    expect(await db.subnodes.listForNode(node.id)).toEqual([]);
    expect(await db.subnodes.listForNode(other.id)).toEqual([kept]);
  });

  it('subnodes: create, list, update, find by server id, delete', async () => {
    const node = await db.nodes.create({ provider: 'rax', label: 'multi', target: 't' });
    const sub = await db.subnodes.create({ nodeId: node.id, hostname: 'multi-sub-1' });
    expect(sub).toEqual({
      id: sub.id,
      nodeId: node.id,
      hostname: 'multi-sub-1',
      externalId: null,
      ip: null,
      ipPrivate: null,
      state: 'building',
      stateTime: 1_000_000,
    });
    clock += 300;
    const ready = await db.subnodes.update(sub.id, { state: 'ready', externalId: 'srv-9', ip: '10.1.1.1', ipPrivate: '192.168.0.2' });
    expect(ready).toMatchObject({ state: 'ready', stateTime: 1_000_300, externalId: 'srv-9' });
    expect(await db.subnodes.findByExternalId('srv-9')).toEqual(ready);
    expect(await db.subnodes.listForNode(node.id)).toEqual([ready]);
    clock += 300;
    expect((await db.subnodes.setState(sub.id, 'delete')).stateTime).toBe(1_000_600);
    expect(await db.subnodes.delete(sub.id)).toBe(true);
    expect(await db.subnodes.findByExternalId('srv-9')).toBeUndefined();
  });

  it('a subnode of a node that does not exist is refused', async () => {
    await expect(db.subnodes.create({ nodeId: 999_999 })).rejects.toThrow();
  });
});
