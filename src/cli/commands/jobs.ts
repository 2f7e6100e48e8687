import type { Database } from '../../db/index.js';
import type { JobRecord } from '../../db/records.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import { renderTable } from '../table.js';
import type { ListingOptions } from './nodes.js';

function printJobs(jobs: readonly JobRecord[], out: Output, options: ListingOptions): void {
  if (options.json) {
    out.out(JSON.stringify(jobs.map((j) => ({ id: j.id, name: j.name, hold_on_failure: j.holdOnFailure })), null, 2));
    return;
  }
  out.out(renderTable(['ID', 'Name', 'Hold on Failure'], jobs.map((j) => [j.id, j.name, j.holdOnFailure])));
}

export async function listJobs(db: Database, out: Output, options: ListingOptions): Promise<void> {
  printJobs(await db.jobs.list(), out, options);
}

/** `job-create NAME --hold-on-failure N`, then the job table as upstream printed it. */
export async function createJob(db: Database, out: Output, name: string, holdOnFailure: number): Promise<void> {
  await db.transaction(async (tx) => {
    if (await tx.jobs.getByName(name)) throw new CommandFailure(`Job ${name} already exists.`);
    const job = await tx.jobs.create(name, holdOnFailure);
    await tx.changes.append('job', job.id, 'create');
  });
  printJobs(await db.jobs.list(), out, {});
}

export async function deleteJob(db: Database, id: number): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await tx.jobs.delete(id))) throw new CommandFailure(`Job ${id} not found.`);
    await tx.changes.append('job', id, 'delete');
  });
}
