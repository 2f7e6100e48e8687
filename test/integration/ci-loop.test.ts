/**
 * nodepoold as a process in the CI loop, with real sockets on loopback: a
 * real gearmand whose queue is the demand, and a ZeroMQ publisher in
 * Jenkins' format whose job events use, delete and hold the nodes.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { JobEventPublisher } from '../../src/events/index.js';
import { GearmanWorker } from '../../src/gearman/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { allocationAfter, allocationWatch, startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { runExecutable } from '../support/cli.js';
import { startGearmand, type TestGearmand } from '../support/gearmand.js';
import { poolConfig } from '../support/pool-config.js';

const running: RunningDaemon[] = [];
const publishers: JobEventPublisher[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    if (failed) console.error(`nodepoold ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.kill();
  }
  for (const publisher of publishers.splice(0)) publisher.close();
});

describeEachBackend('nodepoold in the CI loop', (backend) => {
  let db: Database;
  let gearmand: TestGearmand;
  beforeAll(async () => {
    db = await backend.open();
    gearmand = await startGearmand();
  });
  afterAll(async () => {
    await gearmand?.stop();
  });
  afterEach(async () => {
    await clearAll(db);
  });

  const start = (configFile: string, dir: string) => {
    const watch = allocationWatch(dir);
    const daemon = startNodepoold(['-c', configFile, '--no-builder', ...watch.args], watch.env);
    running.push(daemon);
    return daemon;
  };
  const count = async (state?: 'ready' | 'used' | 'hold') => (await db.nodes.list(state ? { state } : {})).length;

  it('launches exactly one node per queued Gearman job of a label, and not again while they stay queued', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const config = poolConfig({ dir, dburi: backend.uri, providers: [{ name: 'fake-a', maxServers: 20 }], labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
    const configFile = writeConfigFile(dir, { ...config, 'gearman-servers': [{ host: '127.0.0.1', port: gearmand.port }], 'gearman-poll-interval': 0.5 });
    // A queue of its own per backend: function names the other backend's test did not use.
    const label = 'small';
    const job = `gate-${backend.name}`;
    const daemon = start(configFile, dir);
    await waitFor('the min-ready node', async () => (await count('ready')) === 1);

    const beforeJobs = daemon.lines.length;
    await gearmand.submit(`build:${job}:${label}`, 7);
    await waitFor('8 nodes ready', async () => (await count('ready')) === 8, { timeoutMs: 20_000 });
    // Allocation after allocation, with the 7 jobs still queued, nothing more is launched.
    const seen = daemon.lines.length;
    const first = await allocationAfter(daemon, seen);
    await allocationAfter(daemon, daemon.lines.indexOf(first));
    expect(await count()).toBe(8);
    // One node per queued job: 7 launched in all (in one allocation, or in two when a poll saw the queue half filled).
    const launched = daemon.lines.slice(beforeJobs).map((l) => /^launching (\d+) node\(s\)$/.exec(String(l.msg))?.[1]).filter((n) => n !== undefined);
    expect(launched.reduce((sum, n) => sum + Number(n), 0)).toBe(7);
  });

  it('job events make a node used, delete it after its job, and hold failed ones up to the job’s count, surviving a restart', { timeout: 90_000 }, async () => {
    const dir = tempDir();
    const publisher = await JobEventPublisher.bind('tcp://127.0.0.1:*');
    publishers.push(publisher);
    const config = poolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 4, providers: ['fake-a'] }] });
    const configFile = writeConfigFile(dir, { ...config, 'zmq-publishers': [publisher.endpoint] });
    await db.jobs.create('gate-flaky', 1);
    let daemon = start(configFile, dir);
    await waitFor('4 ready nodes', async () => (await count('ready')) === 4, { timeoutMs: 20_000 });
    await publisher.waitForSubscribers(1, 10_000);
    const [a, b, c] = await db.nodes.list({ state: 'ready' });
    if (!a?.nodename || !b?.nodename || !c?.nodename) throw new Error('ready nodes without node names');

    // Events for nodes this pool does not have, and a malformed message, change nothing and stop nothing.
    await publisher.started({ job: 'gate-other', number: 1, nodeName: 'not-a-node-of-ours' });
    await publisher.send('onStarted {"name": ');

    await publisher.started({ job: 'gate-ok', number: 1, nodeName: a.nodename });
    await waitFor('node a used', async () => (await db.nodes.get(a.id))?.state === 'used');
    const listed = JSON.parse((await runExecutable('nodepool', ['-c', configFile, 'list', '--json'])).stdout) as { id: number; job: string | null }[];
    expect(listed.find((n) => n.id === a.id)?.job).toBe('gate-ok');
    await publisher.finalized({ job: 'gate-ok', number: 1, nodeName: a.nodename }, 'SUCCESS');
    await waitFor('node a deleted', async () => !(await db.nodes.get(a.id)), { timeoutMs: 10_000 });

    await publisher.started({ job: 'gate-flaky', number: 2, nodeName: b.nodename });
    await publisher.finalized({ job: 'gate-flaky', number: 2, nodeName: b.nodename }, 'FAILURE');
    await publisher.started({ job: 'gate-flaky', number: 3, nodeName: c.nodename });
    await publisher.finalized({ job: 'gate-flaky', number: 3, nodeName: c.nodename }, 'FAILURE');
    await waitFor('node b held, node c deleted', async () => (await db.nodes.get(b.id))?.state === 'hold' && !(await db.nodes.get(c.id)), { timeoutMs: 10_000 });
    expect((await db.nodes.get(b.id))?.comment).toBe('Automatically held after failing gate-flaky');
    const jobs = JSON.parse((await runExecutable('nodepool', ['-c', configFile, 'job-list', '--json'])).stdout) as { name: string; held: number }[];
    expect(jobs.find((j) => j.name === 'gate-flaky')?.held).toBe(1);
    expect(daemon.lines.filter((l) => l.level === 'warn' && /malformed/i.test(l.msg))).toHaveLength(1);

    // The pool is made whole again around the held node, and a restart keeps what the events did.
    await waitFor('4 ready nodes again', async () => (await count('ready')) === 4, { timeoutMs: 20_000 });
    await daemon.stop();
    daemon = start(configFile, dir);
    await daemon.waitForLog('started', (l) => l.msg === 'nodepoold started');
    await publisher.waitForSubscribers(1, 10_000);
    const d = (await db.nodes.list({ state: 'ready' }))[0];
    if (!d?.nodename) throw new Error('no ready node after the restart');
    await publisher.started({ job: 'gate-flaky', number: 4, nodeName: d.nodename });
    await publisher.finalized({ job: 'gate-flaky', number: 4, nodeName: d.nodename }, 'FAILURE');
    await waitFor('node d deleted: the job already has its one held node', async () => !(await db.nodes.get(d.id)), { timeoutMs: 10_000 });
    expect((await db.nodes.get(b.id))?.state).toBe('hold');
    expect(await count('hold')).toBe(1);
  });

  it('assign-via-gearman offers each node to a manager, records the manager it names, and revokes the node from it at the deletion', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const target = `zuul-${backend.name}`;
    const config = poolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
    const configFile = writeConfigFile(dir, {
      ...config,
      targets: [{ name: target, 'assign-via-gearman': true }],
      'gearman-servers': [{ host: '127.0.0.1', port: gearmand.port }],
    });
    start(configFile, dir);
    // A manager: a real Gearman worker that takes the offer and answers with its name.
    const worker = new GearmanWorker({ host: '127.0.0.1', port: gearmand.port });
    try {
      const offer = await waitFor('an offer', () => worker.grabJob([`node_assign:${target}`]), { timeoutMs: 20_000 });
      const offered = JSON.parse(offer.payload.toString('utf8')) as Record<string, unknown>;
      expect(offered).toMatchObject({ description: 'Dynamic single use small node', labels: 'small', root: '/home/jenkins' });
      // Not ready before the manager took it.
      expect(await count('ready')).toBe(0);
      await offer.complete(JSON.stringify({ manager: 'manager-7' }));
      const node = await waitFor('the node ready, managed by manager-7', async () => {
        const [ready] = await db.nodes.list({ state: 'ready' });
        return ready?.manager === 'manager-7' ? ready : undefined;
      }, { timeoutMs: 10_000 });
      expect(node.nodename).toBe(offered.name);

      await db.transaction(async (tx) => {
        await tx.nodes.setState(node.id, 'delete');
        await tx.changes.append('node', node.id, 'delete');
      });
      const revoke = await waitFor('the revoke queued', () => worker.grabJob(['node_revoke:manager-7']), { timeoutMs: 15_000 });
      expect(JSON.parse(revoke.payload.toString('utf8'))).toEqual({ name: node.nodename });
      await revoke.complete();
      await waitFor('the node gone', async () => !(await db.nodes.get(node.id)), { timeoutMs: 15_000 });
    } finally {
      worker.close();
    }
  });

  it('follows a reload of zmq-publishers: the new publisher is listened to, the one removed is let go', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const first = await JobEventPublisher.bind('tcp://127.0.0.1:*');
    const second = await JobEventPublisher.bind('tcp://127.0.0.1:*');
    publishers.push(first, second);
    const config = poolConfig({ dir, dburi: backend.uri, labels: [{ name: 'small', minReady: 0, providers: ['fake-a'] }] });
    const configFile = writeConfigFile(dir, { ...config, 'zmq-publishers': [first.endpoint] });
    const daemon = start(configFile, dir);
    await first.waitForSubscribers(1, 10_000);
    // Rewritten while nodepoold may still be starting: a change then is a reload too.
    writeConfigFile(dir, { ...config, 'zmq-publishers': [second.endpoint] });
    await daemon.waitForLog('the reload', (l) => /^configuration changed: settings: zmqPublishers/.test(l.msg), 15_000);
    await second.waitForSubscribers(1, 10_000);
    await first.waitForSubscribersAtMost(0, 10_000);
  });
});

