/**
 * actor_transition: every state change of the actors (nodes, sub-nodes,
 * builds, uploads, providers, the pool and the builder), written in the
 * transaction of the snapshot it produced, so `nodepool actor-show` and
 * `why` can tell an actor's story after the fact (docs/inspection.md).
 * Bounded: the last 100 per live actor, and a removed actor's history for a
 * day.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('actor_transition', (t) => {
    t.bigIncrements('id').primary();
    t.string('actor_id', 64).notNullable();
    t.string('machine', 32).notNullable();
    t.bigInteger('at').notNullable();
    t.string('event', 255).notNullable();
    t.string('from_state', 255).nullable();
    t.string('to_state', 255).notNullable();
    t.text('reason').nullable();
    t.index(['actor_id', 'id'], 'actor_transition_actor');
    t.index(['at'], 'actor_transition_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('actor_transition');
}
