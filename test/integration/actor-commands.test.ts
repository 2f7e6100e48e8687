/**
 * `nodepool actor-list`, `actor-show` and `why` as processes over a
 * database nodepoold wrote (SQLite and MariaDB), while it runs and after a
 * SIGKILL: the history survives the crash.
 */
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { writePoolConfig } from '../support/pool-config.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
});

interface ListedActor {
  actor: string;
  machine: string;
  state: string;
  since: number;
  owner: string | null;
}

describeEachBackend('the actor commands', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
    await clearAll(db);
  });

  it('list and show the nodes’ actors with their timelines, and still do after nodepoold is killed', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 2, providers: ['fake-a'] }] });
    const daemon = startNodepoold(['-c', configFile, '--no-builder']);
    running.push(daemon);
    await waitFor('2 ready nodes', async () => (await db.nodes.list({ state: 'ready' })).length === 2);
    const [node] = await db.nodes.list({ state: 'ready' });
    const id = node?.id as number;
    const nodepool = (...args: string[]) => runExecutable('nodepool', ['-c', configFile, ...args]);

    await waitFor('both nodes ready in actor-list', async () => {
      const list = JSON.parse((await nodepool('actor-list', '--json')).stdout) as ListedActor[];
      return list.filter((a) => a.machine === 'node' && a.state === 'ready').length === 2;
    });
    const list = JSON.parse((await nodepool('actor-list', '--machine', 'node', '--state', 'ready', '--json')).stdout) as ListedActor[];
    expect(list.map((a) => a.actor).sort()).toEqual((await db.nodes.list()).map((n) => `node-${n.id}`).sort());
    expect(list[0]?.owner).toMatch(/^nodepoold:/);
    const table = await nodepool('actor-list', '--machine', 'node');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\| Actor +\| Machine \| State +\| In State +\| Owner +\|/);
    expect(table.stdout).toContain(`| node-${id} `);

    const show = await nodepool('actor-show', String(id));
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`node-${id} (node)`);
    expect(show.stdout).toMatch(/state: ready, since \S+ ago|state: ready, since now/);
    expect(show.stdout).toContain(`server: ${node?.externalId}`);
    expect(show.stdout).toMatch(/\| building\.\S+ +\| ready /);

    await daemon.kill();
    const after = JSON.parse((await nodepool('actor-show', `node-${id}`, '--json')).stdout) as { state: string; timeline: { from: string | null; to: string }[] };
    expect(after.state).toBe('ready');
    expect(after.timeline[0]?.from).toBeNull();
    expect(after.timeline.at(-1)?.to).toBe('ready');
    const why = await nodepool('why', String(id));
    expect(why.code).toBe(0);
    expect(why.stdout).toMatch(/ready/i);
    const label = await nodepool('why', 'label:small');
    expect(label.stdout).toContain('No node launches because none is wanted: min-ready 2 is met by 2 counted nodes (2 ready');
    const unknown = await nodepool('why', 'label:nope');
    expect(unknown.stdout).toContain('Label nope is not in the configuration');

    const missing = await nodepool('actor-show', '999999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Actor 999999 not found.');
    const bad = await nodepool('actor-list', '--machine', 'teapot');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be one of node, subnode, build, upload, provider, pool, builder');
  });
});
