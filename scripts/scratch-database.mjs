// A database and a directory for one run of a script (the benchmark, the
// chaos suite), removed afterwards: SQLite in the directory, or a MariaDB
// database of its own at NODEPOOL_TEST_MYSQL_URI (default
// mysql://root@127.0.0.1:3306/), dropped at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMysqlDatabase, dropMysqlDatabase, withDatabaseName } from '../dist/src/db/index.js';

const MYSQL = process.env.NODEPOOL_TEST_MYSQL_URI || 'mysql://root@127.0.0.1:3306/';

/** Runs `fn(dir, dburi)` with a fresh directory and database of `backend` ('sqlite' or 'mariadb'), named after `purpose`. */
export async function withScratchDatabase(backend, purpose, fn) {
  const dir = mkdtempSync(join(tmpdir(), `nodepool-${purpose}-`));
  let dburi = `sqlite://${join(dir, 'nodepool.db')}`;
  let drop = async () => {};
  if (backend === 'mariadb') {
    const name = `nodepool_${purpose}_${process.pid}_${Date.now()}`;
    await createMysqlDatabase(MYSQL, name);
    dburi = withDatabaseName(MYSQL, name);
    drop = () => dropMysqlDatabase(MYSQL, name);
  }
  try {
    return await fn(dir, dburi);
  } finally {
    await drop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
