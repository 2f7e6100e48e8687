/**
 * Every database test runs on both backends: SQLite in a temporary file and
 * a real MariaDB/MySQL server (NODEPOOL_TEST_MYSQL_URI, default
 * mysql://root@127.0.0.1:3306/), each suite in its own freshly created
 * database `nodepool_test_<pid>_<random>` that is dropped afterwards.
 *
 * No MySQL server reachable: the MariaDB suites are skipped with a warning,
 * except in CI (CI set and not 'false') where they fail, so a broken CI
 * database is never mistaken for passing tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  type Database,
  type OpenDatabaseOptions,
  createMysqlDatabase,
  dropMysqlDatabase,
  openDatabase,
  pingMysqlServer,
  redactUri,
  withDatabaseName,
} from '../../src/db/index.js';

export type BackendName = 'sqlite' | 'mariadb';

export interface TestBackend {
  readonly name: BackendName;
  /** This suite's database URI; read it inside hooks and tests (the database is made in beforeAll). */
  readonly uri: string;
  /** openDatabase on this suite's database; closed after the suite. */
  open(options?: OpenDatabaseOptions): Promise<Database>;
}

export const MYSQL_SERVER_URI = process.env.NODEPOOL_TEST_MYSQL_URI || 'mysql://root@127.0.0.1:3306/';

const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';

/** Checked once per test file, before any suite is declared, so skipping is decided up front. */
const mysqlProblem: string | undefined = await pingMysqlServer(MYSQL_SERVER_URI).then(
  () => undefined,
  (err: unknown) => (err instanceof Error ? err.message : String(err)),
);

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A sqlite:/// URI of a file in a new temporary folder, removed when the process exits. */
export function createTempSqliteUri(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-test-'));
  tempDirs.push(dir);
  return `sqlite://${join(dir, 'nodepool.db')}`;
}

/** A new empty database on the test MySQL server; call drop() when done. */
export async function createMysqlTestDatabase(): Promise<{ uri: string; drop(): Promise<void> }> {
  const name = `nodepool_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await createMysqlDatabase(MYSQL_SERVER_URI, name);
  return { uri: withDatabaseName(MYSQL_SERVER_URI, name), drop: () => dropMysqlDatabase(MYSQL_SERVER_URI, name) };
}

/** Declare the same suite once per backend: `describeEachBackend('nodes', (backend) => { ... })`. */
export function describeEachBackend(title: string, body: (backend: TestBackend) => void): void {
  describeBackend('sqlite', title, body);
  if (mysqlProblem === undefined) {
    describeBackend('mariadb', title, body);
  } else if (inCi) {
    describe(`${title} [mariadb]`, () => {
      it('needs a reachable MySQL server in CI', () => {
        throw new Error(`MariaDB tests cannot run: ${redactUri(MYSQL_SERVER_URI)} is unreachable (${mysqlProblem}); set NODEPOOL_TEST_MYSQL_URI`);
      });
    });
  } else {
    console.warn(`skipping MariaDB tests of '${title}': ${redactUri(MYSQL_SERVER_URI)} unreachable: ${mysqlProblem}`);
    describe.skip(`${title} [mariadb] (skipped: no MySQL server at ${redactUri(MYSQL_SERVER_URI)})`, () => body(unusable('mariadb')));
  }
}

function describeBackend(name: BackendName, title: string, body: (backend: TestBackend) => void): void {
  describe(`${title} [${name}]`, () => {
    let uri: string | undefined;
    let drop: () => Promise<void> = () => Promise.resolve();
    const opened: Database[] = [];
    beforeAll(async () => {
      if (name === 'sqlite') {
        uri = createTempSqliteUri();
      } else {
        ({ uri, drop } = await createMysqlTestDatabase());
      }
    });
    afterAll(async () => {
      await Promise.all(opened.map((db) => db.close()));
      await drop();
    });
    const backend: TestBackend = {
      name,
      get uri(): string {
        if (uri === undefined) throw new Error('backend.uri is only valid inside hooks and tests');
        return uri;
      },
      open: async (options) => {
        const db = await openDatabase(backend.uri, options);
        opened.push(db);
        return db;
      },
    };
    body(backend);
  });
}

function unusable(name: BackendName): TestBackend {
  const fail = (): never => {
    throw new Error(`${name} backend is not available`);
  };
  return {
    name,
    get uri(): string {
      return fail();
    },
    open: fail,
  };
}

/** Every row of every table gone, children first: a clean slate between tests sharing one database. */
export async function clearAll(db: Database): Promise<void> {
  for (const table of ['subnode', 'node', 'image_upload', 'image_build', 'job', 'build_request', 'actor_snapshot', 'actor_transition', 'lease', 'change']) {
    await db.knex(table).delete();
  }
}
