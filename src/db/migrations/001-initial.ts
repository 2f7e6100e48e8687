/**
 * The first schema: one table per record in ../records.ts. Times are BIGINT
 * milliseconds (no DATETIME time-zone handling on either backend); string
 * columns that take part in indexes are short enough for InnoDB's 3072-byte
 * key limit under utf8mb4.
 */
import type { Knex } from 'knex';

const STATE = 16;
const NAME = 255;
const IP = 64;

/**
 * InnoDB and utf8mb4 on MySQL whatever the server defaults are. The binary
 * collation compares strings case-sensitively, as SQLite does, so a job name
 * or a node name is unique and found the same way on both backends.
 */
function tableOptions(knex: Knex, t: Knex.CreateTableBuilder): void {
  if (knex.client.config.client === 'mysql2') {
    t.engine('InnoDB');
    t.charset('utf8mb4');
    t.collate('utf8mb4_bin');
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('node', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    t.string('provider', NAME).notNullable();
    t.string('label', NAME).notNullable();
    t.string('target', NAME).notNullable();
    t.string('manager', NAME).nullable();
    t.string('az', NAME).nullable();
    t.string('hostname', NAME).nullable();
    t.string('nodename', NAME).nullable();
    t.string('external_id', NAME).nullable();
    t.string('ip', IP).nullable();
    t.string('ip_private', IP).nullable();
    // No foreign key: a node outlives the upload it was launched from.
    t.integer('upload_id').unsigned().nullable();
    t.string('state', STATE).notNullable();
    t.bigInteger('state_time').notNullable();
    t.text('comment').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['provider', 'label', 'state'], 'node_provider_label_state');
    t.index(['state'], 'node_state');
    t.index(['nodename'], 'node_nodename');
    t.index(['external_id'], 'node_external_id');
  });

  await knex.schema.createTable('subnode', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    t.integer('node_id').unsigned().notNullable().references('id').inTable('node').onDelete('CASCADE');
    t.string('hostname', NAME).nullable();
    t.string('external_id', NAME).nullable();
    t.string('ip', IP).nullable();
    t.string('ip_private', IP).nullable();
    t.string('state', STATE).notNullable();
    t.bigInteger('state_time').notNullable();
    t.index(['node_id'], 'subnode_node_id');
    t.index(['external_id'], 'subnode_external_id');
  });

  await knex.schema.createTable('job', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    t.string('name', NAME).notNullable().unique('job_name');
    t.integer('hold_on_failure').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('image_build', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    t.string('image', NAME).notNullable();
    t.string('builder', NAME).nullable();
    t.text('filename').nullable();
    /** JSON array of formats, e.g. ["qcow2","raw"]. */
    t.text('formats').notNullable();
    t.string('state', STATE).notNullable();
    t.bigInteger('state_time').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['image', 'state'], 'image_build_image_state');
  });

  await knex.schema.createTable('image_upload', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    // RESTRICT: a build cannot vanish while uploads of it exist, or their
    // cloud images would be forgotten (leaked) with the rows.
    t.integer('build_id').unsigned().notNullable().references('id').inTable('image_build').onDelete('RESTRICT');
    t.string('provider', NAME).notNullable();
    t.string('image', NAME).notNullable();
    t.string('external_name', NAME).nullable();
    t.string('external_id', NAME).nullable();
    t.string('state', STATE).notNullable();
    t.bigInteger('state_time').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['image', 'provider', 'state'], 'image_upload_image_provider_state');
    t.index(['build_id'], 'image_upload_build_id');
    t.index(['external_id'], 'image_upload_external_id');
  });

  await knex.schema.createTable('build_request', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    t.string('image', NAME).notNullable();
    t.bigInteger('requested_at').notNullable();
    t.bigInteger('handled_at').nullable();
    t.index(['image', 'handled_at'], 'build_request_image_handled');
  });

  await knex.schema.createTable('actor_snapshot', (t) => {
    tableOptions(knex, t);
    t.string('actor_id', NAME).primary();
    t.string('kind', 64).notNullable();
    t.text('snapshot', 'longtext').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['kind'], 'actor_snapshot_kind');
  });

  await knex.schema.createTable('lease', (t) => {
    tableOptions(knex, t);
    t.string('name', NAME).primary();
    t.string('owner', NAME).notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at'], 'lease_expires_at');
  });

  await knex.schema.createTable('change', (t) => {
    tableOptions(knex, t);
    t.increments('id');
    t.string('kind', 32).notNullable();
    t.integer('record_id').unsigned().notNullable();
    t.string('action', 64).notNullable();
    t.bigInteger('at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['change', 'lease', 'actor_snapshot', 'build_request', 'image_upload', 'image_build', 'job', 'subnode', 'node']) {
    await knex.schema.dropTableIfExists(table);
  }
}
