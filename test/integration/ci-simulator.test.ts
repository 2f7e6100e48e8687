/**
 * nodepoold as a process with the CI simulator of its ci-simulator section
 * inside it, on SQLite: runs take ready nodes (used), nodepoold deletes a
 * node after its run and launches its replacement, and holds a node of a
 * failed run for a job with hold-on-failure. Stopped, it leaves no node
 * used. With --no-ci-simulator, nothing of it runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database, type NodeRecord } from '../../src/db/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { createTempSqliteUri } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { startGearmand } from '../support/gearmand.js';
import { poolConfig } from '../support/pool-config.js';

const running: RunningDaemon[] = [];
const databases: Database[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    if (failed) console.error(`nodepoold ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.kill();
  }
  for (const db of databases.splice(0)) await db.close();
});

async function pool(ciSimulator: Record<string, unknown> | undefined, options: { minReady?: number; more?: Record<string, unknown> } = {}) {
  const dir = tempDir();
  const dburi = createTempSqliteUri();
  const config = poolConfig({ dir, dburi, providers: [{ name: 'fake-a', maxServers: 10 }], labels: [{ name: 'small', minReady: options.minReady ?? 2, providers: ['fake-a'] }] });
  const configFile = writeConfigFile(dir, { ...config, ...options.more, ...(ciSimulator && { 'ci-simulator': ciSimulator }) });
  const db = await openDatabase(dburi);
  databases.push(db);
  return { configFile, db };
}

/** A node, and not a later one that was given the same id. */
const same = (a: NodeRecord) => (b: NodeRecord) => b.id === a.id && b.createdAt === a.createdAt;

describe('nodepoold with its CI simulator', () => {
  it('has its nodes used by runs, deleted after them and replaced, and a failed run’s node held', { timeout: 90_000 }, async () => {
    const { configFile, db } = await pool({
      jobs: [
        { name: 'gate', label: 'small', every: 1, duration: 2 },
        { name: 'flaky', label: 'small', every: 2, duration: 1, 'failure-rate': 1, 'hold-on-failure': 1 },
      ],
    });
    const daemon = startNodepoold(['-c', configFile, '--no-builder']);
    running.push(daemon);

    const used = await waitFor('a node used by a run', async () => (await db.nodes.list({ state: 'used' }))[0], { timeoutMs: 30_000 });
    await waitFor(`node ${used.id} deleted after its run`, async () => !(await db.nodes.list()).some(same(used)), { timeoutMs: 20_000 });
    await waitFor('a replacement node ready', async () => (await db.nodes.list({ state: 'ready' })).some((n) => n.createdAt > used.createdAt), { timeoutMs: 20_000 });
    const held = await waitFor('a node held after flaky failed', async () => (await db.nodes.list({ state: 'hold' }))[0], { timeoutMs: 30_000 });
    expect(held.comment).toBe('Automatically held after failing flaky');
    expect(await db.jobs.getByName('flaky')).toMatchObject({ holdOnFailure: 1 });
    expect(await db.jobs.getByName('gate')).toMatchObject({ holdOnFailure: 0 });
    expect(daemon.lines.some((l) => l.name === 'nodepool.CiSimulator' && /^run \d+ of gate started on node \d+/.test(l.msg))).toBe(true);

    // A stop aborts the runs under way, and nodepoold hears it before it stops: no node is left used.
    expect(await daemon.stop('SIGTERM', 20_000)).toBe(0);
    expect(await db.nodes.list({ state: 'used' })).toEqual([]);
    expect((await db.nodes.list({ state: 'hold' })).map((n) => n.comment)).toEqual(['Automatically held after failing flaky']);
  });

  it('queues its runs on gearmand, where nodepoold reads the demand that launches their nodes', { timeout: 90_000 }, async () => {
    const gearmand = await startGearmand();
    try {
      const { configFile, db } = await pool(
        { jobs: [{ name: 'gate', label: 'small', every: 1, duration: 1 }] },
        { minReady: 0, more: { 'gearman-servers': [{ host: '127.0.0.1', port: gearmand.port }], 'gearman-poll-interval': 0.5 } },
      );
      const daemon = startNodepoold(['-c', configFile, '--no-builder']);
      running.push(daemon);
      // min-ready is 0: only the queued runs launch nodes.
      const used = await waitFor('a node launched for a queued run, then used by it', async () => (await db.nodes.list({ state: 'used' }))[0], { timeoutMs: 30_000 });
      expect(used.label).toBe('small');
      await waitFor('a run running in gearmand', async () => ((await gearmand.row('build:gate:small'))?.running ?? 0) > 0, { timeoutMs: 10_000 });
      await waitFor(`node ${used.id} deleted after its run`, async () => !(await db.nodes.list()).some(same(used)), { timeoutMs: 20_000 });
      expect(await daemon.stop('SIGTERM', 20_000)).toBe(0);
      expect(await db.nodes.list({ state: 'used' })).toEqual([]);
      await waitFor('no run left running in gearmand', async () => (await gearmand.row('build:gate:small'))?.running === 0, { timeoutMs: 5000 });
    } finally {
      await gearmand.stop();
    }
  });

  it('runs no simulator with --no-ci-simulator', { timeout: 60_000 }, async () => {
    const { configFile, db } = await pool({ jobs: [{ name: 'gate', label: 'small', every: 1, duration: 1 }] });
    const daemon = startNodepoold(['-c', configFile, '--no-builder', '--no-ci-simulator']);
    running.push(daemon);
    await waitFor('the min-ready nodes', async () => (await db.nodes.list({ state: 'ready' })).length === 2, { timeoutMs: 30_000 });
    expect(await db.jobs.getByName('gate')).toBeUndefined();
    expect(daemon.lines.filter((l) => l.name === 'nodepool.CiSimulator')).toEqual([]);
    expect(await db.nodes.list({ state: 'used' })).toEqual([]);
  });
});
