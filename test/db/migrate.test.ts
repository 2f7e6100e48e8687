import knexFactory from 'knex';
import type { Knex } from 'knex';
import { afterEach, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/db/migrations/index.js';
import { migrate, parseDbUri } from '../../src/db/index.js';
import { describeEachBackend } from '../support/databases.js';

const TABLES = ['node', 'subnode', 'job', 'image_build', 'image_upload', 'build_request', 'actor_snapshot', 'lease', 'change'];

describeEachBackend('migrations', (backend) => {
  let instances: Knex[] = [];

  /** Separate knex instances, each with its own pool and connections: to the database they are separate processes. */
  function connect(count: number): Knex[] {
    const made = Array.from({ length: count }, () => knexFactory(parseDbUri(backend.uri)));
    instances.push(...made);
    return made;
  }

  afterEach(async () => {
    await Promise.all(instances.map((k) => k.destroy()));
    instances = [];
  });

  async function bookkeeping(knex: Knex): Promise<{ applied: string[]; locks: Array<{ is_locked: unknown }> }> {
    const applied = (await knex('knex_migrations').orderBy('id').select('name')) as Array<{ name: string }>;
    const locks = (await knex('knex_migrations_lock').select('is_locked')) as Array<{ is_locked: unknown }>;
    return { applied: applied.map((m) => m.name), locks };
  }

  it('five processes starting at once on an empty database all end with one complete schema', async () => {
    const racers = connect(5);
    await Promise.all(racers.map((k) => migrate(k)));
    const [first] = racers as [Knex];
    for (const table of TABLES) expect(await first.schema.hasTable(table), table).toBe(true);
    const { applied, locks } = await bookkeeping(first);
    expect(applied).toEqual(MIGRATIONS.map((m) => m.name));
    expect(locks.map((l) => Number(l.is_locked))).toEqual([0]);
  });

  it('migrating an up-to-date database changes nothing', async () => {
    const [knex] = connect(1) as [Knex];
    await migrate(knex);
    await migrate(knex);
    expect((await bookkeeping(knex)).applied).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('a migration lock left set by a process that died does not block the next start', async () => {
    const [knex] = connect(1) as [Knex];
    await knex('knex_migrations_lock').update({ is_locked: 1 });
    await migrate(knex, { timeoutMs: 5000 });
    expect((await bookkeeping(knex)).locks.map((l) => Number(l.is_locked))).toEqual([0]);
  });
});
