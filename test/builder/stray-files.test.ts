import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { removeStrayBuildFiles } from '../../src/builder/stray-files.js';
import { imageWorkLease as workLease } from '../../src/core/leases.js';
import type { Database } from '../../src/db/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';

describeEachBackend('stray build files at start', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('removes files no build on this host will finish, and keeps the rest', async () => {
    const dir = tempDir();
    const ready = await db.builds.create({ image: 'debian', builder: 'here', state: 'ready' });
    const elsewhere = await db.builds.create({ image: 'debian', builder: 'there', state: 'ready' });
    const abandoned = await db.builds.create({ image: 'debian', builder: 'here', state: 'building' });
    const running = await db.builds.create({ image: 'debian', builder: 'here', state: 'building' });
    await db.leases.tryAcquire(workLease(`build-${running.id}`), 'another-process', 60_000);
    const files = {
      kept: [`debian-${ready.id}.qcow2`, `debian-${ready.id}.log`, `debian-${running.id}.qcow2`, 'notes.txt'],
      removed: [`debian-${elsewhere.id}.qcow2`, `debian-${abandoned.id}.qcow2`, 'debian-999999.raw', `centos-${ready.id}.qcow2`],
    };
    for (const name of [...files.kept, ...files.removed]) writeFileSync(join(dir, name), 'x');
    mkdirSync(join(dir, `debian-${abandoned.id}.d`));
    mkdirSync(join(dir, '.cache'));

    const removed = await removeStrayBuildFiles(dir, db, 'here');
    expect(removed.sort()).toEqual([...files.removed, `debian-${abandoned.id}.d`].sort());
    expect(readdirSync(dir).sort()).toEqual([...files.kept, '.cache'].sort());
  });
});
