import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { BuildInUse, NotFound } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

describeEachBackend('image builds, uploads and build requests', (backend) => {
  let db: Database;
  let clock = 2_000_000;

  beforeAll(async () => {
    db = await backend.open({ now: () => clock });
  });
  beforeEach(async () => {
    clock = 2_000_000;
    await clearAll(db);
  });

  it('a build is created building, with its formats kept as a list', async () => {
    const build = await db.builds.create({ image: 'trusty', builder: 'nb01', filename: '/opt/dib/trusty-0001', formats: ['qcow2', 'raw'] });
    expect(build).toEqual({
      id: build.id,
      image: 'trusty',
      builder: 'nb01',
      filename: '/opt/dib/trusty-0001',
      formats: ['qcow2', 'raw'],
      withdrawnFrom: [],
      state: 'building',
      stateTime: 2_000_000,
      createdAt: 2_000_000,
    });
    expect(await db.builds.get(build.id)).toEqual(build);
  });

  it('withdraw records each provider image once', async () => {
    const build = await db.builds.create({ image: 'trusty', state: 'ready' });
    await db.builds.withdraw(build.id, 'fake-a', 'trusty');
    await db.builds.withdraw(build.id, 'fake-a', 'trusty');
    const after = await db.builds.withdraw(build.id, 'fake-b', 'trusty-large');
    expect(after.withdrawnFrom).toEqual(['fake-a/trusty', 'fake-b/trusty-large']);
    expect((await db.builds.get(build.id))?.withdrawnFrom).toEqual(['fake-a/trusty', 'fake-b/trusty-large']);
  });

  it('builds list newest first, by image and state', async () => {
    const old = await db.builds.create({ image: 'trusty', state: 'ready' });
    clock += 10;
    const other = await db.builds.create({ image: 'precise', state: 'ready' });
    clock += 10;
    const fresh = await db.builds.create({ image: 'trusty' });
    expect((await db.builds.list()).map((b) => b.id)).toEqual([fresh.id, other.id, old.id]);
    expect((await db.builds.list({ image: 'trusty' })).map((b) => b.id)).toEqual([fresh.id, old.id]);
    expect((await db.builds.list({ image: 'trusty', states: ['ready'] })).map((b) => b.id)).toEqual([old.id]);
  });

  it('a build changes state with its state time, and updates keep the formats', async () => {
    const build = await db.builds.create({ image: 'trusty' });
    clock += 60_000;
    expect(await db.builds.setState(build.id, 'ready')).toMatchObject({ state: 'ready', stateTime: 2_060_000 });
    const updated = await db.builds.update(build.id, { formats: ['vhd'] });
    expect(updated.formats).toEqual(['vhd']);
    expect(await db.builds.get(build.id)).toEqual(updated);
  });

  it('uploads: create, get, update and newest first with filters', async () => {
    const b1 = await db.builds.create({ image: 'trusty', state: 'ready' });
    const b2 = await db.builds.create({ image: 'trusty', state: 'ready' });
    const u1 = await db.uploads.create({ buildId: b1.id, provider: 'rax', image: 'trusty' });
    expect(u1).toEqual({
      id: u1.id,
      buildId: b1.id,
      provider: 'rax',
      image: 'trusty',
      externalName: null,
      externalId: null,
      state: 'uploading',
      stateTime: 2_000_000,
      createdAt: 2_000_000,
    });
    clock += 10;
    const u2 = await db.uploads.create({ buildId: b1.id, provider: 'hp', image: 'trusty', state: 'ready' });
    clock += 10;
    const u3 = await db.uploads.create({ buildId: b2.id, provider: 'rax', image: 'trusty', state: 'ready' });
    expect((await db.uploads.list()).map((u) => u.id)).toEqual([u3.id, u2.id, u1.id]);
    expect((await db.uploads.list({ provider: 'rax' })).map((u) => u.id)).toEqual([u3.id, u1.id]);
    expect((await db.uploads.list({ buildId: b1.id })).map((u) => u.id)).toEqual([u2.id, u1.id]);
    expect((await db.uploads.list({ image: 'trusty', provider: 'rax', states: ['uploading'] })).map((u) => u.id)).toEqual([u1.id]);
    clock += 10;
    const done = await db.uploads.update(u1.id, { state: 'ready', externalId: 'img-1', externalName: 'trusty-1' });
    expect(done).toMatchObject({ state: 'ready', stateTime: 2_000_030, externalId: 'img-1', externalName: 'trusty-1' });
    expect(await db.uploads.get(u1.id)).toEqual(done);
  });

  it('a node launches from the newest ready upload of its image in its provider', async () => {
    const build = await db.builds.create({ image: 'trusty', state: 'ready' });
    expect(await db.uploads.newestReady('trusty', 'rax')).toBeUndefined();
    const older = await db.uploads.create({ buildId: build.id, provider: 'rax', image: 'trusty', state: 'ready' });
    clock += 10;
    const newer = await db.uploads.create({ buildId: build.id, provider: 'rax', image: 'trusty', state: 'ready' });
    clock += 10;
    await db.uploads.create({ buildId: build.id, provider: 'rax', image: 'trusty', state: 'uploading' });
    await db.uploads.create({ buildId: build.id, provider: 'hp', image: 'trusty', state: 'ready' });
    expect((await db.uploads.newestReady('trusty', 'rax'))?.id).toBe(newer.id);
    await db.uploads.setState(newer.id, 'deleting');
    expect((await db.uploads.newestReady('trusty', 'rax'))?.id).toBe(older.id);
  });

  it('a build with uploads cannot be deleted until its uploads are', async () => {
    const build = await db.builds.create({ image: 'trusty', state: 'ready' });
    const upload = await db.uploads.create({ buildId: build.id, provider: 'rax', image: 'trusty' });
    await expect(db.builds.delete(build.id)).rejects.toThrow(BuildInUse);
    expect(await db.uploads.delete(upload.id)).toBe(true);
    expect(await db.builds.delete(build.id)).toBe(true);
    expect(await db.builds.delete(build.id)).toBe(false);
  });

  it('a build request is pending until one builder marks it handled', async () => {
    const trusty = await db.buildRequests.create('trusty');
    clock += 5;
    const precise = await db.buildRequests.create('precise');
    expect(trusty).toEqual({ id: trusty.id, image: 'trusty', requestedAt: 2_000_000, handledAt: null });
    expect(await db.buildRequests.listPending()).toEqual([trusty, precise]);
    expect(await db.buildRequests.listPending('precise')).toEqual([precise]);
    clock += 5;
    expect(await db.buildRequests.markHandled(trusty.id)).toBe(true);
    expect(await db.buildRequests.markHandled(trusty.id)).toBe(false);
    expect(await db.buildRequests.listPending()).toEqual([precise]);
    expect(await db.buildRequests.get(trusty.id)).toEqual({ ...trusty, handledAt: 2_000_010 });
  });
  it('markDeleting moves a build or upload only from ready or failed, stamping the state time', async () => {
    const ready = await db.builds.create({ image: 'trusty', state: 'ready' });
    const failed = await db.builds.create({ image: 'trusty', state: 'failed' });
    const building = await db.builds.create({ image: 'trusty' });
    clock += 1000;
    expect(await db.builds.markDeleting(ready.id)).toBe(true);
    expect(await db.builds.markDeleting(failed.id)).toBe(true);
    expect(await db.builds.markDeleting(building.id)).toBe(false);
    expect(await db.builds.markDeleting(ready.id)).toBe(false); // already deleting: the second caller learns it did not mark
    expect(await db.builds.markDeleting(999_999)).toBe(false);
    expect(await db.builds.get(ready.id)).toMatchObject({ state: 'deleting', stateTime: 2_001_000, formats: [] });
    expect(await db.builds.get(failed.id)).toMatchObject({ state: 'deleting', stateTime: 2_001_000 });
    expect(await db.builds.get(building.id)).toMatchObject({ state: 'building', stateTime: 2_000_000 });

    const up = { buildId: ready.id, provider: 'rax', image: 'trusty' };
    const readyUpload = await db.uploads.create({ ...up, state: 'ready' });
    const failedUpload = await db.uploads.create({ ...up, state: 'failed' });
    const uploading = await db.uploads.create(up);
    clock += 1000;
    expect(await db.uploads.markDeleting(readyUpload.id)).toBe(true);
    expect(await db.uploads.markDeleting(failedUpload.id)).toBe(true);
    expect(await db.uploads.markDeleting(uploading.id)).toBe(false);
    expect(await db.uploads.markDeleting(readyUpload.id)).toBe(false);
    expect(await db.uploads.get(readyUpload.id)).toMatchObject({ state: 'deleting', stateTime: 2_002_000 });
    expect(await db.uploads.get(failedUpload.id)).toMatchObject({ state: 'deleting', stateTime: 2_002_000 });
    expect(await db.uploads.get(uploading.id)).toMatchObject({ state: 'uploading', stateTime: 2_001_000 });
  });

  it('updateUnlessDeleting writes the state of a record that is not deleting, with its state time', async () => {
    const build = await db.builds.create({ image: 'trusty' });
    clock += 500;
    const done = await db.builds.updateUnlessDeleting(build.id, { state: 'ready', formats: ['qcow2'], filename: '/opt/dib/trusty-1' });
    expect(done).toMatchObject({ state: 'ready', stateTime: 2_000_500, formats: ['qcow2'], filename: '/opt/dib/trusty-1' });
    expect(await db.builds.get(build.id)).toEqual(done);
    clock += 500;
    // The same state again keeps its state time.
    expect(await db.builds.updateUnlessDeleting(build.id, { state: 'ready', builder: 'nb01' })).toMatchObject({
      state: 'ready',
      stateTime: 2_000_500,
      builder: 'nb01',
    });

    const upload = await db.uploads.create({ buildId: build.id, provider: 'rax', image: 'trusty' });
    clock += 500;
    const uploaded = await db.uploads.updateUnlessDeleting(upload.id, { state: 'ready', externalId: 'img-1', externalName: 'trusty-1' });
    expect(uploaded).toMatchObject({ state: 'ready', stateTime: 2_001_500, externalId: 'img-1', externalName: 'trusty-1' });
    expect(await db.uploads.get(upload.id)).toEqual(uploaded);
  });

  it('updateUnlessDeleting keeps a deleting record deleting but writes the other fields', async () => {
    const build = await db.builds.create({ image: 'trusty', state: 'ready' });
    await db.builds.markDeleting(build.id);
    clock += 500;
    const after = await db.builds.updateUnlessDeleting(build.id, { state: 'ready', stateTime: 9, formats: ['raw'] });
    expect(after).toMatchObject({ state: 'deleting', stateTime: 2_000_000, formats: ['raw'] });
    expect(await db.builds.get(build.id)).toEqual(after);
    // A patch that is itself 'deleting' applies as any update.
    expect(await db.builds.updateUnlessDeleting(build.id, { state: 'deleting', builder: 'nb02' })).toMatchObject({
      state: 'deleting',
      builder: 'nb02',
    });

    const upload = await db.uploads.create({ buildId: build.id, provider: 'rax', image: 'trusty', state: 'ready' });
    await db.uploads.markDeleting(upload.id);
    clock += 500;
    const late = await db.uploads.updateUnlessDeleting(upload.id, { state: 'failed' });
    expect(late).toMatchObject({ state: 'deleting', stateTime: 2_000_500 });
    const named = await db.uploads.updateUnlessDeleting(upload.id, { state: 'ready', externalId: 'img-9' });
    expect(named).toMatchObject({ state: 'deleting', stateTime: 2_000_500, externalId: 'img-9' });
    expect(await db.uploads.get(upload.id)).toEqual(named);
  });

  it('updateUnlessDeleting of a missing record is NotFound', async () => {
    await expect(db.builds.updateUnlessDeleting(999_999, { state: 'ready' })).rejects.toThrow(NotFound);
    await expect(db.uploads.updateUnlessDeleting(999_999, { externalId: 'x' })).rejects.toThrow(NotFound);
  });
});
