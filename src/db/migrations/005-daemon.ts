/**
 * daemon: the nodepoold processes sharing a database (docs/scaling.md).
 * Each renews its row while it runs; a row whose expiry has passed is a
 * daemon taken for dead. The providers each daemon drives are the
 * `provider:<name>` leases it holds.
 *
 * change.detail: what a change carries beyond its action (a job event
 * forwarded to the nodepoold that owns the node's provider).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('daemon', (t) => {
    t.string('name', 255).primary();
    t.string('host', 255).notNullable();
    t.integer('pid').notNullable();
    t.bigInteger('started_at').notNullable();
    t.bigInteger('renewed_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.boolean('draining').notNullable().defaultTo(false);
    t.string('web', 255).nullable();
  });
  await knex.schema.alterTable('change', (t) => {
    t.text('detail').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('change', (t) => {
    t.dropColumn('detail');
  });
  await knex.schema.dropTable('daemon');
}
