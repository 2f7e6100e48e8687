import { beforeAll, expect, it } from 'vitest';
import { databaseReason, type Database } from '../../src/db/index.js';
import { describeEachBackend } from '../support/databases.js';

describeEachBackend('a database error as the operator reads it', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('gives the driver’s reason without the statement', async () => {
    // A job name the column cannot hold on MariaDB; a duplicate job name on both.
    await db.jobs.create('twice', 0).catch(() => {});
    const failure = await db.knex('job').insert({ name: 'twice', hold_on_failure: 0 }).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeDefined();
    const reason = databaseReason(failure);
    expect(reason).toBeDefined();
    expect(reason).not.toMatch(/insert into/i);
    expect(reason).toMatch(/UNIQUE|Duplicate/i);
    expect((reason ?? '').length).toBeLessThan(400);
  });

  it('is undefined for an error that is not the database’s', () => {
    expect(databaseReason(new Error('no such node'))).toBeUndefined();
    expect(databaseReason(undefined)).toBeUndefined();
  });
});
