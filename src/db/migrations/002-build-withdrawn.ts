/**
 * image_build.withdrawn_from: the (provider, image) pairs a person took the
 * build's upload out of with `image-delete`. The builder never uploads the
 * build there again, so new nodes keep booting from the previous upload until
 * a newer build arrives (docs/behaviour.md, "Images"). A JSON array of
 * `provider/image` strings; NULL means none.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('image_build', (t) => {
    t.text('withdrawn_from').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('image_build', (t) => {
    t.dropColumn('withdrawn_from');
  });
}
