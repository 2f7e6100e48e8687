/**
 * The migrations, listed in code rather than looked up on disk, so the
 * compiled dist/ and the TypeScript sources behave the same.
 */
import type { Knex } from 'knex';
import * as initial from './001-initial.js';
import * as buildWithdrawn from './002-build-withdrawn.js';
import * as nodeJob from './003-node-job.js';
import * as actorTransition from './004-actor-transition.js';
import * as daemon from './005-daemon.js';

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order; append only. A name, once released, never changes. */
export const MIGRATIONS: readonly Migration[] = [
  { name: '001-initial', ...initial },
  { name: '002-build-withdrawn', ...buildWithdrawn },
  { name: '003-node-job', ...nodeJob },
  { name: '004-actor-transition', ...actorTransition },
  { name: '005-daemon', ...daemon },
];

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: () => Promise.resolve([...MIGRATIONS]),
  getMigrationName: (migration) => migration.name,
  getMigration: (migration) => Promise.resolve(migration),
};
