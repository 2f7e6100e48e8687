import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { DuplicateJob } from '../../src/db/index.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

describeEachBackend('jobs', (backend) => {
  let db: Database;

  beforeAll(async () => {
    db = await backend.open();
  });
  beforeEach(() => clearAll(db));

  it('job-create, job-list, get and getByName', async () => {
    const a = await db.jobs.create('gate-nova-python27', 3);
    const b = await db.jobs.create('gate-tempest');
    expect(a).toEqual({ id: a.id, name: 'gate-nova-python27', holdOnFailure: 3 });
    expect(b.holdOnFailure).toBe(0);
    expect(await db.jobs.list()).toEqual([a, b]);
    expect(await db.jobs.get(a.id)).toEqual(a);
    expect(await db.jobs.getByName('gate-tempest')).toEqual(b);
    expect(await db.jobs.getByName('nope')).toBeUndefined();
  });

  it('a second job with the same name is a DuplicateJob and changes nothing', async () => {
    await db.jobs.create('gate-tempest', 1);
    const error = await db.jobs.create('gate-tempest', 2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateJob);
    expect((error as Error).message).toContain("'gate-tempest'");
    expect(await db.jobs.list()).toHaveLength(1);
  });

  it('names differing only in case are different jobs on both backends', async () => {
    await db.jobs.create('gate-tempest');
    await db.jobs.create('Gate-Tempest');
    expect(await db.jobs.list()).toHaveLength(2);
  });

  it('job-delete says whether there was such a job', async () => {
    const job = await db.jobs.create('gate-tempest');
    expect(await db.jobs.delete(job.id)).toBe(true);
    expect(await db.jobs.delete(job.id)).toBe(false);
    expect(await db.jobs.list()).toEqual([]);
  });
});
