/**
 * nodepoold as a process with a Jenkins target, against the Jenkins
 * simulator over real HTTP on loopback: each ready node is an agent, the
 * agent goes before the server, a Jenkins that is down keeps new nodes out
 * of ready and deleted ones waiting, and no registration outlives its node.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { JobEventPublisher } from '../../src/events/index.js';
import { startJenkinsSimulator, type JenkinsSimulator } from '../../src/tools/jenkins-simulator/index.js';
import { runExecutable } from '../support/cli.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { liveServers } from '../support/fake-cloud-state.js';
import { poolConfig } from '../support/pool-config.js';

const running: RunningDaemon[] = [];
const closers: (() => unknown)[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    if (failed) console.error(`nodepoold ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.kill();
  }
  for (const close of closers.splice(0)) await close();
});

interface Setup {
  dir: string;
  db: Database;
  sim: JenkinsSimulator;
  configFile: string;
  secureFile: string;
  daemon: RunningDaemon;
}

/** A pool of `minReady` nodes whose target is the simulated Jenkins, its credentials in the secure file. */
async function withJenkins(minReady: number, jenkins: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Setup> {
  const dir = tempDir();
  const sim = await startJenkinsSimulator({ jobs: [{ name: 'acceptance', parameters: { NODE: '' } }] });
  closers.push(() => sim.close());
  const dburi = `sqlite://${join(dir, 'np.db')}`;
  const config = poolConfig({ dir, dburi, labels: [{ name: 'small', minReady, providers: ['fake-a'] }] });
  const configFile = writeConfigFile(dir, { ...config, targets: [{ name: 'jenkins1', jenkins: { 'credentials-id': 'ci-ssh', ...jenkins } }], ...extra });
  const secureFile = join(dir, 'secure.conf');
  writeFileSync(secureFile, `[jenkins "jenkins1"]\nurl=${sim.url}\nuser=${sim.credentials.user}\napikey=${sim.credentials.apiToken}\n`);
  const daemon = startNodepoold(['-c', configFile, '-s', secureFile, '--no-builder'], { NODEPOOL_ALLOCATE_SECONDS: '1' });
  running.push(daemon);
  const db = await openDatabase(dburi);
  closers.push(() => db.close());
  return { dir, db, sim, configFile, secureFile, daemon };
}

const nodes = (db: Database, state?: 'ready' | 'test' | 'building' | 'delete') => db.nodes.list(state ? { state } : {});
const agentNames = (sim: JenkinsSimulator) => sim.agents().map((a) => a.name).sort();

describe('nodepoold with a Jenkins target', () => {
  it('registers each ready node as a single-use agent and removes the agent before the node’s server', { timeout: 60_000 }, async () => {
    const { db, sim, configFile, secureFile } = await withJenkins(2);
    await waitFor('2 ready nodes', async () => (await nodes(db, 'ready')).length === 2, { timeoutMs: 20_000 });
    const ready = await nodes(db, 'ready');
    expect(agentNames(sim)).toEqual(ready.map((n) => n.nodename).sort());
    const agent = sim.agent(ready[0]?.nodename ?? '');
    expect(agent).toMatchObject({ description: 'Dynamic single use small node', executors: 1, remoteRoot: '/home/jenkins', labels: ['small'] });
    expect(JSON.stringify(agent?.launcher)).toContain('ci-ssh');

    const gone = ready[0];
    if (!gone?.nodename) throw new Error('a ready node without a name');
    const deleted = await runExecutable('nodepool', ['-c', configFile, '-s', secureFile, 'delete', String(gone.id)]);
    expect(deleted.code).toBe(0);
    await waitFor('the node gone', async () => !(await db.nodes.get(gone.id)), { timeoutMs: 15_000 });
    expect(sim.agent(gone.nodename)).toBeUndefined();
    await waitFor('a replacement ready and registered', async () => {
      const now = await nodes(db, 'ready');
      return now.length === 2 && JSON.stringify(agentNames(sim)) === JSON.stringify(now.map((n) => n.nodename).sort());
    }, { timeoutMs: 20_000 });
  });

  it('keeps nodes out of ready and deleted servers waiting while Jenkins is down, and catches up without a leaked agent', { timeout: 90_000 }, async () => {
    const { dir, db, sim, daemon } = await withJenkins(2);
    await waitFor('2 ready nodes', async () => (await nodes(db, 'ready')).length === 2, { timeoutMs: 20_000 });
    const [victim] = await nodes(db, 'ready');
    if (!victim?.nodename || !victim.externalId) throw new Error('a ready node without a name or server');
    await sim.down();
    await db.transaction(async (tx) => {
      await tx.nodes.setState(victim.id, 'delete');
      await tx.changes.append('node', victim.id, 'delete');
    });
    // The agent cannot be removed: the server stays; the replacement cannot be registered: it is not ready.
    await daemon.waitForLog('a failed removal', (l) => /^removing node \d+ from its target failed/.test(l.msg), 15_000);
    await daemon.waitForLog('a failed registration', (l) => /^registering node \d+ with its target failed/.test(l.msg), 15_000);
    expect(liveServers(join(dir, 'fake-a.json')).some((s) => s.id === victim.externalId)).toBe(true);
    expect((await nodes(db, 'ready')).length).toBe(1);

    await sim.up();
    await waitFor('the victim gone, 2 ready nodes, one agent each', async () => {
      const ready = await nodes(db, 'ready');
      return !(await db.nodes.get(victim.id)) && ready.length === 2 && JSON.stringify(agentNames(sim)) === JSON.stringify(ready.map((n) => n.nodename).sort());
    }, { timeoutMs: 40_000 });
    expect(liveServers(join(dir, 'fake-a.json')).some((s) => s.id === victim.externalId)).toBe(false);
  });

  it('with a test job, starts it on each new node (NODE=<name>) and makes the node ready when the test passes', { timeout: 60_000 }, async () => {
    const publisher = await JobEventPublisher.bind('tcp://127.0.0.1:*');
    closers.push(() => publisher.close());
    const { db, sim } = await withJenkins(1, { 'test-job': 'acceptance' }, { 'zmq-publishers': [publisher.endpoint] });
    const [tested] = await waitFor('a node in test', async () => {
      const inTest = await nodes(db, 'test');
      return inTest.length === 1 ? inTest : undefined;
    }, { timeoutMs: 20_000 });
    if (!tested?.nodename) throw new Error('a node in test without a name');
    await waitFor('the test job queued', () => sim.builds('acceptance').some((b) => b.parameters.NODE === tested.nodename));
    // Not offered to other jobs before the test passed: no labels.
    expect(sim.agent(tested.nodename)?.labels).toEqual([]);
    await publisher.waitForSubscribers(1, 10_000);
    await publisher.finalized({ job: 'acceptance', number: 1, nodeName: tested.nodename }, 'SUCCESS');
    await waitFor('the node ready', async () => (await db.nodes.get(tested.id))?.state === 'ready', { timeoutMs: 10_000 });
  });
});
