/**
 * `bin/ci-simulator.js` as a real process: its runs queued on a real
 * gearmand, the ready nodes read from the database, and its job events read
 * by a real ZeroMQ subscriber, the listener nodepoold uses.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/db/index.js';
import { jobEvents, type JobEvent } from '../../../src/events/index.js';
import { PROJECT_ROOT } from '../../support/cli.js';
import { tempDir, writeConfigFile } from '../../support/config-files.js';
import { createTempSqliteUri } from '../../support/databases.js';
import { RunningDaemon, waitFor } from '../../support/daemon.js';
import { startGearmand, type TestGearmand } from '../../support/gearmand.js';
import { poolConfig } from '../../support/pool-config.js';
import { freeLoopbackPort } from '../../support/ssh-server.js';
import { memoryLogger } from '../../streams/support.js';

const PROGRAM = `${PROJECT_ROOT}bin/ci-simulator.js`;

function startSimulator(configFile: string): RunningDaemon {
  if (!existsSync(`${PROJECT_ROOT}dist/src/tools/ci-simulator/main.js`)) throw new Error('the compiled simulator is missing: run `npm run build` first');
  const child = spawn(process.execPath, [PROGRAM, '-c', configFile], { cwd: PROJECT_ROOT, env: { ...process.env, NODEPOOL_DBURI: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new RunningDaemon(child);
}

/** The program run to its end, for the ways it refuses to start. */
function runToEnd(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROGRAM, ...args], { cwd: PROJECT_ROOT, timeout: 20_000, env: { ...process.env, NODEPOOL_DBURI: undefined } }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

let gearmand: TestGearmand;
beforeAll(async () => {
  gearmand = await startGearmand();
});
afterAll(async () => {
  await gearmand?.stop();
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      if (failed) console.error(err);
    }
  }
});

describe('the standalone CI simulator', () => {
  it('queues runs on gearmand, takes one for each free ready node, and publishes their start and end over ZeroMQ', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const dburi = createTempSqliteUri();
    const endpoint = `tcp://127.0.0.1:${await freeLoopbackPort()}`;
    const configFile = writeConfigFile(dir, {
      ...poolConfig({ dir, dburi, labels: [{ name: 'small', minReady: 0, providers: ['fake-a'] }] }),
      'gearman-servers': [{ host: '127.0.0.1', port: gearmand.port }],
      'ci-simulator': { publish: endpoint, jobs: [{ name: 'gate', label: 'small', every: 1, duration: 2 }] },
    });
    const db: Database = await openDatabase(dburi);
    cleanups.push(() => db.close());
    const simulator = startSimulator(configFile);
    cleanups.push(async () => {
      if (simulator.exitCode === undefined) console.error(`ci-simulator ${simulator.pid} said last:\n${simulator.tail()}`);
      await simulator.kill();
    });

    // No node yet: the runs wait in gearmand, where nodepoold would count them as demand.
    await waitFor('runs queued in gearmand', async () => ((await gearmand.row('build:gate:small'))?.total ?? 0) >= 2, { timeoutMs: 15_000 });
    expect(await db.jobs.getByName('gate')).toMatchObject({ holdOnFailure: 0 });

    const heard: JobEvent[] = [];
    const listening: Subscription = jobEvents([endpoint], { log: memoryLogger().logger }).subscribe((e) => heard.push(e));
    cleanups.push(() => listening.unsubscribe());
    const eventsOf = (nodeName: string) => heard.filter((e) => e.nodeName === nodeName).map((e) => `${e.kind} ${e.job}${e.status ? ` ${e.status}` : ''}`);

    const first = await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', nodename: 'small-fake-a-1', state: 'ready' });
    await waitFor('the run to start on the node', () => eventsOf('small-fake-a-1').length === 1, { timeoutMs: 15_000 });
    expect(await gearmand.row('build:gate:small')).toMatchObject({ running: 1 });
    await waitFor('the run to end', () => eventsOf('small-fake-a-1').length === 2, { timeoutMs: 10_000 });
    expect(eventsOf('small-fake-a-1')).toEqual(['started gate', 'finalized gate SUCCESS']);
    expect(await gearmand.row('build:gate:small')).toMatchObject({ running: 0 });

    // The node is still ready (no nodepoold here to delete it): it is not taken again. A new node is.
    await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', nodename: 'small-fake-a-2', state: 'ready' });
    await waitFor('a run on the second node', () => eventsOf('small-fake-a-2').length === 1, { timeoutMs: 15_000 });
    expect(eventsOf('small-fake-a-1')).toHaveLength(2);
    expect((await db.nodes.get(first.id))?.state).toBe('ready');

    // Stopped mid-run: the run is aborted and said so, and its Gearman job is answered.
    expect(await simulator.stop('SIGTERM', 15_000)).toBe(0);
    expect(eventsOf('small-fake-a-2')).toEqual(['started gate', 'finalized gate ABORTED']);
    await waitFor('no run left running in gearmand', async () => (await gearmand.row('build:gate:small'))?.running === 0, { timeoutMs: 5000 });
    expect(simulator.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('refuses to start without a ci-simulator section or an endpoint to publish on', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const dburi = createTempSqliteUri();
    const base = poolConfig({ dir, dburi });
    const none = await runToEnd(['-c', writeConfigFile(dir, base, 'none.yaml')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no ci-simulator section: nothing to run');
    const unpublished = await runToEnd(['-c', writeConfigFile(dir, { ...base, 'ci-simulator': { jobs: [] } }, 'unpublished.yaml')]);
    expect(unpublished.code).toBe(1);
    expect(unpublished.stderr).toContain('ci-simulator.publish is not set');
  });
});
