/**
 * `nodepool list | head`: the reader closes the pipe after the first lines,
 * and the command ends quietly with exit 0, not with an unhandled EPIPE.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { PROJECT_ROOT } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { createTempSqliteUri } from '../support/databases.js';
import { writePoolConfig } from '../support/pool-config.js';

let db: Database;
let configFile: string;
beforeAll(async () => {
  const dburi = createTempSqliteUri();
  db = await openDatabase(dburi);
  // More than a pipe holds (64 KB), so the command is still writing when the reader goes.
  for (let i = 0; i < 2_000; i += 1) await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', hostname: `small-fake-a-${i}` });
  configFile = writePoolConfig({ dir: tempDir(), dburi });
});
afterAll(async () => {
  await db.close();
});

it('ends with exit 0 and no stack trace when its reader closes the pipe early', async () => {
  const child = spawn(process.execPath, [`${PROJECT_ROOT}bin/nodepool.js`, '-c', configFile, 'list'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODEPOOL_DBURI: undefined } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // Like `head -1`: read the first chunk, then close the pipe.
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
}, 30_000);
