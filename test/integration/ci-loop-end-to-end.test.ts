/**
 * The whole CI loop with real sockets on loopback: nodepoold as a process,
 * a real gearmand holding the queued work, a ZeroMQ publisher in Jenkins'
 * format and the Jenkins simulator as the target. The test plays the CI
 * system: it queues 20 jobs, takes a job only for a ready node that is a
 * registered agent, runs it there (onStarted, onFinalized) and tells
 * gearmand it is done. Three runs of a job with hold-on-failure 2 fail.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { Database, NodeRecord } from '../../src/db/index.js';
import { JobEventPublisher } from '../../src/events/index.js';
import { GearmanClient, GearmanWorker, type GearmanJob } from '../../src/gearman/index.js';
import { startJenkinsSimulator, type JenkinsSimulator } from '../../src/tools/jenkins-simulator/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { liveServers } from '../support/fake-cloud-state.js';
import { startGearmand, type TestGearmand } from '../support/gearmand.js';
import { poolConfig } from '../support/pool-config.js';

const running: RunningDaemon[] = [];
const closers: (() => unknown)[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    if (failed) console.error(`nodepoold ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.kill();
  }
  for (const close of closers.splice(0).reverse()) await close();
});

const MIN_READY = 2;
const FUNCTIONS = ['build:gate-unit:small', 'build:gate-flaky:small'];

describeEachBackend('the CI loop end to end', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterEach(async () => {
    await clearAll(db);
  });

  it('20 queued jobs each run on a node of their own; 3 failures of a job with hold-on-failure 2 hold exactly 2 nodes; nothing leaks', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const gearmand: TestGearmand = await startGearmand();
    closers.push(() => gearmand.stop());
    const jenkins: JenkinsSimulator = await startJenkinsSimulator();
    closers.push(() => jenkins.close());
    const publisher = await JobEventPublisher.bind('tcp://127.0.0.1:*');
    closers.push(() => publisher.close());
    const config = poolConfig({ dir, dburi: backend.uri, providers: [{ name: 'fake-a', maxServers: 12 }], labels: [{ name: 'small', minReady: MIN_READY, providers: ['fake-a'] }] });
    const configFile = writeConfigFile(dir, {
      ...config,
      // Calls to Jenkins spaced by 0.1 s rather than the default 1 s: some forty of them.
      targets: [{ name: 'jenkins1', rate: 0.1, jenkins: {} }],
      'gearman-servers': [{ host: '127.0.0.1', port: gearmand.port }],
      'gearman-poll-interval': 0.5,
      'zmq-publishers': [publisher.endpoint],
    });
    const secureFile = join(dir, 'secure.conf');
    writeFileSync(secureFile, `[jenkins "jenkins1"]\nurl=${jenkins.url}\nuser=${jenkins.credentials.user}\napikey=${jenkins.credentials.apiToken}\n`);
    await db.jobs.create('gate-flaky', 2);
    const daemon = startNodepoold(['-c', configFile, '-s', secureFile, '--no-builder'], { NODEPOOL_ALLOCATE_SECONDS: '1' });
    running.push(daemon);
    await publisher.waitForSubscribers(1, 20_000);

    // The CI system queues its work: 15 runs of a job that passes, 5 of one that fails 3 times.
    const client = new GearmanClient({ host: '127.0.0.1', port: gearmand.port });
    for (let i = 0; i < 15; i += 1) await client.submitBackgroundJob('build:gate-unit:small', `unit-${i}`);
    for (let i = 0; i < 5; i += 1) await client.submitBackgroundJob('build:gate-flaky:small', `flaky-${i}`);

    const worker = new GearmanWorker({ host: '127.0.0.1', port: gearmand.port });
    closers.push(() => worker.close());
    const usedNodes = new Set<number>();
    let flakyRuns = 0;
    let runs = 0;
    const runOn = async (job: GearmanJob, node: NodeRecord & { nodename: string }) => {
      const name = job.fn.split(':')[1] as string;
      const fails = name === 'gate-flaky' && (flakyRuns += 1) <= 3;
      const build = { job: name, number: usedNodes.size, nodeName: node.nodename };
      await publisher.started(build);
      await waitFor(`node ${node.id} used by ${name}`, async () => (await db.nodes.get(node.id))?.state === 'used', { timeoutMs: 10_000 });
      await publisher.finalized(build, fails ? 'FAILURE' : 'SUCCESS');
      await (fails ? job.fail() : job.complete());
      runs += 1;
    };
    // A job is taken only for a ready node that Jenkins knows as an agent, and each node runs one job.
    await waitFor('20 runs', async () => {
      const ready = (await db.nodes.list({ state: 'ready' })).filter(
        (n): n is NodeRecord & { nodename: string } => n.nodename !== null && !usedNodes.has(n.id) && jenkins.agent(n.nodename) !== undefined,
      );
      // The runs on the nodes ready now go at once, as a CI system's executors would.
      const started: Promise<void>[] = [];
      for (const node of ready) {
        const job = await worker.grabJob(FUNCTIONS);
        if (!job) break;
        usedNodes.add(node.id);
        started.push(runOn(job, node));
      }
      await Promise.all(started);
      return runs === 20;
    }, { timeoutMs: 90_000 });
    expect(usedNodes.size).toBe(20);

    // Afterwards: exactly 2 held for gate-flaky, every other used node deleted, at least min-ready ready, nothing leaked.
    const settled = await waitFor('the pool at rest', async () => {
      const nodes = await db.nodes.list();
      const resting = nodes.every((n) => n.state === 'ready' || n.state === 'hold');
      // Nodes launched for work that others took stay ready: a pool never deletes ready nodes.
      return resting && nodes.filter((n) => n.state === 'ready').length >= MIN_READY ? nodes : undefined;
    }, { timeoutMs: 30_000 });
    const held = settled.filter((n) => n.state === 'hold');
    expect(held).toHaveLength(2);
    expect(held.every((n) => n.comment === 'Automatically held after failing gate-flaky' && usedNodes.has(n.id))).toBe(true);
    expect(settled.filter((n) => usedNodes.has(n.id) && n.state !== 'hold')).toEqual([]);
    expect(liveServers(join(dir, 'fake-a.json')).map((s) => s.id).sort()).toEqual(settled.map((n) => n.externalId).sort());
    expect(jenkins.agents().map((a) => a.name).sort()).toEqual(settled.map((n) => n.nodename).sort());
    expect(await gearmand.row('build:gate-unit:small')).toMatchObject({ total: 0 });
  });
});
