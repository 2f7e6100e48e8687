/**
 * node.job: the job that last ran on the node, from its job events, so
 * that `nodepool list` shows what a used node is used by (and a held node
 * what failed on it). NULL while no job has run on it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('node', (t) => {
    t.string('job', 255).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('node', (t) => {
    t.dropColumn('job');
  });
}
