import type { Database } from '../../db/index.js';
import type { JobRecord } from '../../db/records.js';
import { autoHoldComment } from '../../core/auto-hold.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import { renderTable } from '../../listings/table.js';
import type { ListingOptions } from './nodes.js';

/** The jobs, with how many nodes are held for each (after its failures); Held comes after 0.4's columns. */
async function printJobs(db: Database, out: Output, options: ListingOptions): Promise<void> {
  const jobs = await db.jobs.list();
  const heldComments = new Map<string | null, number>();
  for (const node of await db.nodes.list({ state: 'hold' })) heldComments.set(node.comment, (heldComments.get(node.comment) ?? 0) + 1);
  const held = (job: JobRecord) => heldComments.get(autoHoldComment(job.name)) ?? 0;
  if (options.json) {
    out.out(JSON.stringify(jobs.map((j) => ({ id: j.id, name: j.name, hold_on_failure: j.holdOnFailure, held: held(j) })), null, 2));
    return;
  }
  out.out(renderTable(['ID', 'Name', 'Hold on Failure', 'Held'], jobs.map((j) => [j.id, j.name, j.holdOnFailure, held(j)])));
}

export async function listJobs(db: Database, out: Output, options: ListingOptions): Promise<void> {
  await printJobs(db, out, options);
}

/** `job-create NAME --hold-on-failure N`, then the job table as upstream printed it. */
export async function createJob(db: Database, out: Output, name: string, holdOnFailure: number): Promise<void> {
  await db.transaction(async (tx) => {
    if (await tx.jobs.getByName(name)) throw new CommandFailure(`Job ${name} already exists.`);
    const job = await tx.jobs.create(name, holdOnFailure);
    await tx.changes.append('job', job.id, 'create');
  });
  await printJobs(db, out, {});
}

export async function deleteJob(db: Database, id: number): Promise<void> {
  await db.transaction(async (tx) => {
    if (!(await tx.jobs.delete(id))) throw new CommandFailure(`Job ${id} not found.`);
    await tx.changes.append('job', id, 'delete');
  });
}
