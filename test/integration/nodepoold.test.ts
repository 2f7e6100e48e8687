import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { rendezvousOwner } from '../../src/core/rendezvous.js';
import { runExecutable } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { allocationAfter, allocationWatch, startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { poolConfig, writePoolConfig } from '../support/pool-config.js';
import { writeConfigFile } from '../support/config-files.js';
import { cloudState } from '../support/fake-cloud-state.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
});

/**
 * These tests are about nodes and share one database per backend: without
 * --no-builder, one test's uploads (into its own simulated clouds) would be
 * what the next test's nodes boot from. Images: nodepoold-images.test.ts.
 */
function start(configFile: string, ...args: string[]): RunningDaemon {
  return startWith(configFile, args, {});
}

function startWith(configFile: string, args: string[], env: NodeJS.ProcessEnv): RunningDaemon {
  const daemon = startNodepoold(['-c', configFile, '--no-builder', ...args], env);
  running.push(daemon);
  return daemon;
}

const readyCount = async (db: Database, label?: string) => (await db.nodes.list({ state: 'ready', ...(label ? { label } : {}) })).length;

describeEachBackend('nodepoold as a process', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('fills every label to min-ready over two providers, with the metadata on every server', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({
      dir,
      dburi: backend.uri,
      providers: [{ name: 'fake-a' }, { name: 'fake-b' }],
      labels: [
        { name: 'small', minReady: 3, providers: ['fake-a', 'fake-b'] },
        { name: 'large', minReady: 2, providers: ['fake-a', 'fake-b'] },
      ],
    });
    const watch = allocationWatch(dir);
    const daemon = startWith(configFile, watch.args, watch.env);
    await waitFor('5 ready nodes', async () => (await readyCount(db)) === 5);
    const nodes = await db.nodes.list();
    expect(nodes.map((n) => n.label).sort()).toEqual(['large', 'large', 'small', 'small', 'small']);
    expect(new Set(nodes.map((n) => n.provider))).toEqual(new Set(['fake-a', 'fake-b']));

    for (const node of nodes) {
      const server = cloudState(join(dir, `${node.provider}.json`)).servers.find((s) => s.id === node.externalId);
      expect(server?.metadata).toEqual({
        purpose: 'ci',
        groups: JSON.stringify(['debian', node.provider]),
        nodepool: JSON.stringify({ image_name: 'debian', provider_name: node.provider, node_id: node.id }),
      });
      expect(node.hostname).toBe(`${node.label}-${node.provider}-${node.id}`);
      expect(server?.name).toBe(node.hostname);
    }
    // Nothing more is launched once min-ready is met: an allocation that ran after the fifth node was ready launched nothing.
    const lastReady = daemon.lines.findLastIndex((l) => / is ready$/.test(l.msg));
    await allocationAfter(daemon, lastReady);
    expect((await db.nodes.list()).length).toBe(5);

    const list = await runExecutable('nodepool', ['-c', configFile, 'list']);
    expect(list.stdout.match(/\| ready \|/g)).toHaveLength(5);
    expect(await daemon.stop('SIGTERM')).toBe(0);
    await db.knex('node').del();
    await db.knex('actor_snapshot').del();
  });

  it('hears a hold and a delete from the command line within 2 s, and replaces the deleted node', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 2, providers: ['fake-a'] }] });
    const daemon = start(configFile);
    await waitFor('2 ready nodes', async () => (await readyCount(db)) === 2);
    const [held, deleted] = await db.nodes.list({ state: 'ready' });
    if (!held || !deleted) throw new Error('expected two ready nodes');

    expect((await runExecutable('nodepool', ['-c', configFile, 'hold', String(held.id), '--reason', 'look at it'])).code).toBe(0);
    await daemon.waitForLog('the node actor in hold', (l) => l.node === held.id && l.state === 'hold', 2_000);

    expect((await runExecutable('nodepool', ['-c', configFile, 'delete', String(deleted.id)])).code).toBe(0);
    const before = Date.now();
    await daemon.waitForLog('the node actor deleting', (l) => l.node === deleted.id && l.state === 'delete', 2_000);
    expect(Date.now() - before).toBeLessThan(2_000);
    await waitFor('the deleted node gone and its server too', async () => !(await db.nodes.get(deleted.id)));
    // A held node does not count against min-ready: two ready ones besides it.
    await waitFor('a replacement ready', async () => (await readyCount(db)) === 2 && (await db.nodes.list({ state: 'hold' })).length === 1);
    const state = cloudState(join(dir, 'fake-a.json'));
    expect(state.servers.find((s) => s.id === deleted.externalId && s.goneAt === undefined)).toBeUndefined();
    expect((await db.nodes.get(held.id))?.comment).toBe('look at it');
    await daemon.stop();
    await db.knex('node').del();
    await db.knex('actor_snapshot').del();
  });
});

describe('nodepoold as a process, on SQLite', () => {
  it('stops on SIGTERM and SIGINT with exit code 0 and removes its pid file; a live pid file refuses a second start', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: `sqlite://${join(dir, 'np.db')}` });
    const pidFile = join(dir, 'nodepoold.pid');
    const first = start(configFile, '-p', pidFile);
    await first.waitForLog('start', (l) => l.msg === 'nodepoold started');
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(first.pid));

    const second = await runExecutable('nodepoold', ['-d', '-c', configFile, '-p', pidFile]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`already running with pid ${first.pid}`);

    const started = Date.now();
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(existsSync(pidFile)).toBe(false);

    writeFileSync(pidFile, '999999\n'); // a stale pid file from a dead process
    const third = start(configFile, '-p', pidFile);
    await third.waitForLog('start', (l) => l.msg === 'nodepoold started');
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(third.pid));
    expect(await third.stop('SIGINT')).toBe(0);
  });

  it('a second nodepoold on the same database shares the providers, one driver each; a graceful stop hands them back at once', async () => {
    const dir = tempDir();
    const dbFile = join(dir, 'np.db');
    const providers = ['fake-a', 'fake-b', 'fake-c', 'fake-d'].map((name) => ({ name, stateFile: join(dir, `${name}.json`) }));
    const configFile = writePoolConfig({ dir, dburi: `sqlite://${dbFile}`, providers });
    const first = start(configFile, '--no-builder', '-p', join(dir, 'first.pid'));
    await first.waitForLog('start', (l) => l.msg === 'nodepoold started');
    const second = start(configFile, '--no-builder', '-p', join(dir, 'second.pid'));
    await second.waitForLog('start', (l) => l.msg === 'nodepoold started');
    const db = await openDatabase(`sqlite://${dbFile}`);
    const daemons = [first, second];
    try {
      const owners = async () => new Map((await db.leases.listWithPrefix('provider:')).map((l) => [l.name, l.owner]));
      const names = daemons.map((d) => `nodepoold:${hostname()}:${d.pid}`);
      // Within a few beats each provider has the one owner the hashing names among the two.
      const expected = new Map(providers.map((p) => [`provider:${p.name}`, rendezvousOwner(`provider:${p.name}`, names)]));
      await waitFor('each provider driven by the daemon the hashing names', async () => {
        const now = await owners();
        return [...expected].every(([lease, owner]) => now.get(lease) === owner);
      }, { timeoutMs: 30_000 });
      // The one driving more providers stops; everything it drove passes to the other as it stops, with no wait for a lease to lapse.
      const counts = names.map((n) => [...expected.values()].filter((owner) => owner === n).length);
      const index = (counts[0] ?? 0) >= (counts[1] ?? 0) ? 0 : 1;
      const leaving = names[index];
      const staying = daemons[1 - index] as RunningDaemon;
      const itsProviders = [...expected].filter(([, owner]) => owner === leaving).map(([lease]) => lease);
      const stopped = Date.now();
      expect(await (daemons[index] as RunningDaemon).stop('SIGTERM')).toBe(0);
      const after = await owners();
      for (const lease of providers.map((p) => `provider:${p.name}`)) expect(after.get(lease)).toBe(names[1 - index]);
      if (itsProviders[0]) await staying.waitForLog('take over', (l) => typeof l.msg === 'string' && l.msg.startsWith(`took ${itsProviders[0]?.replace(':', ' ')}`));
      expect(Date.now() - stopped).toBeLessThan(15_000);
      expect(await db.daemons.get(leaving as string)).toBeUndefined();
    } finally {
      await db.close();
      for (const daemon of daemons) if (daemon.exitCode === undefined) await daemon.stop('SIGTERM');
    }
  });

  it('nodepoold --drain moves a running daemon\'s providers to the other one and waits until it drives none; it keeps running', async () => {
    const dir = tempDir();
    const dbFile = join(dir, 'np.db');
    const providers = ['fake-a', 'fake-b', 'fake-c'].map((name) => ({ name, stateFile: join(dir, `${name}.json`) }));
    const configFile = writePoolConfig({ dir, dburi: `sqlite://${dbFile}`, providers });
    const pidFile = join(dir, 'first.pid');
    const first = start(configFile, '--no-builder', '-p', pidFile);
    await first.waitForLog('start', (l) => l.msg === 'nodepoold started');
    // Alone, there is nobody to hand the providers to: refused, and nothing changes.
    const alone = await runExecutable('nodepoold', ['--drain', '-c', configFile, '-p', pidFile]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('no other nodepoold is running');
    const second = start(configFile, '--no-builder', '-p', join(dir, 'second.pid'));
    const db = await openDatabase(`sqlite://${dbFile}`);
    try {
      await second.waitForLog('start', (l) => l.msg === 'nodepoold started');
      const drained = await runExecutable('nodepoold', ['--drain', '-c', configFile, '-p', pidFile]);
      expect(drained.stderr).toBe('');
      expect(drained.code).toBe(0);
      expect(drained.stdout).toContain('drives nothing now');
      const secondName = `nodepoold:${hostname()}:${second.pid}`;
      const leases = await db.leases.listWithPrefix('provider:');
      expect(leases.map((l) => l.owner)).toEqual(providers.map(() => secondName));
      expect((await db.leases.holder('nodepoold-allocation'))?.owner).toBe(secondName);
      expect(first.exitCode).toBeUndefined();
      expect((await db.daemons.get(`nodepoold:${hostname()}:${first.pid}`))?.draining).toBe(true);
    } finally {
      await db.close();
      await second.stop('SIGTERM');
      await first.stop('SIGTERM');
    }
  });

  it('starts despite a pid file that names a live process which is not a nodepoold', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: `sqlite://${join(dir, 'np.db')}` });
    const pidFile = join(dir, 'nodepoold.pid');
    // This test's own process: alive, and not a nodepoold (a dead daemon's pid given to another program).
    writeFileSync(pidFile, `${process.pid}\n`);
    const daemon = start(configFile, '-p', pidFile);
    await daemon.waitForLog('start', (l) => l.msg === 'nodepoold started');
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(daemon.pid));
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });

  it('without -d validates in the foreground, then runs in the background and returns', async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: `sqlite://${join(dir, 'np.db')}` });
    const pidFile = join(dir, 'nodepoold.pid');
    const result = await runExecutable('nodepoold', ['-c', configFile, '-p', pidFile]);
    expect(result.code).toBe(0);
    const pid = Number(/running in the background with pid (\d+)/.exec(result.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    try {
      await waitFor('the pid file of the background daemon', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(pid));
      const db = await openDatabase(`sqlite://${join(dir, 'np.db')}`);
      await waitFor('its nodes ready', async () => (await readyCount(db)) === 2);
      await db.close();
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    await waitFor('the background daemon gone and its pid file removed', () => !existsSync(pidFile));
  });

  it('refuses to start in the background on an invalid configuration', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, { labels: 'none' });
    const result = await runExecutable('nodepoold', ['-c', configFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid configuration');
    expect(result.stdout).not.toContain('background');
  });

  it('applies a changed configuration while running and keeps the running one when the new file is invalid', async () => {
    const dir = tempDir();
    const dburi = `sqlite://${join(dir, 'np.db')}`;
    const providers = [{ name: 'fake-a' }, { name: 'fake-b' }];
    const configFile = writePoolConfig({ dir, dburi, providers, labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
    const watch = allocationWatch(dir);
    const daemon = startWith(configFile, watch.args, watch.env);
    const db = await openDatabase(dburi);
    try {
      await waitFor('1 ready node', async () => (await readyCount(db)) === 1);

      // An invalid file: logged with its problem, nothing changes.
      writeFileSync(configFile, 'labels: [\n');
      await daemon.waitForLog('the invalid file reported', (l) => /YAML syntax/.test(JSON.stringify(l)), 10_000);

      // A new label on the second provider: launched there.
      writeConfigFile(dir, poolConfig({ dir, dburi, providers, labels: [
        { name: 'small', minReady: 1, providers: ['fake-a'] },
        { name: 'other', minReady: 2, providers: ['fake-b'] },
      ] }));
      await waitFor('2 ready nodes of the new label', async () => (await readyCount(db, 'other')) === 2);
      expect((await db.nodes.list({ label: 'other' })).every((n) => n.provider === 'fake-b')).toBe(true);

      // max-servers -1 retires fake-b: nothing more launched there, its nodes drain when deleted.
      const retired = poolConfig({ dir, dburi, providers: [{ name: 'fake-a' }, { name: 'fake-b', maxServers: -1 }], labels: [
        { name: 'small', minReady: 1, providers: ['fake-a'] },
        { name: 'other', minReady: 2, providers: ['fake-b'] },
      ] });
      writeConfigFile(dir, retired);
      await daemon.waitForLog('the retirement applied', (l) => /configuration changed/.test(l.msg) && /fake-b/.test(l.msg), 10_000);
      const [one] = await db.nodes.list({ label: 'other' });
      expect((await runExecutable('nodepool', ['-c', configFile, 'delete', String(one?.id)])).code).toBe(0);
      await waitFor('the deleted node gone', async () => !(await db.nodes.get(one?.id as number)));
      // An allocation that ran after the node was removed must not replace it on the retired provider.
      const removed = await daemon.waitForLog('the node removed', (l) => l.state === 'removed' && l.node === one?.id);
      await allocationAfter(daemon, daemon.lines.indexOf(removed));
      expect((await db.nodes.list({ label: 'other' })).length).toBe(1);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await db.close();
    }
  });
});
