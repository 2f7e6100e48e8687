/**
 * What the job-event router tells the metrics: a job that succeeded on a
 * node in use, with how long the node was used (0.4 counted only those).
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { Database } from '../../src/db/index.js';
import { Logging } from '../../src/log/index.js';
import type { JobSucceeded } from '../../src/metrics/index.js';
import { JobEventRouter } from '../../src/nodepoold/job-events.js';
import type { JobEvent } from '../../src/events/index.js';
import type { NodeEvent } from '../../machines/node.machine.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { oneProviderConfig } from '../support/one-provider.js';

describeEachBackend('job events and the job metrics', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => {
    await clearAll(db);
    await db.close();
  });
  beforeEach(async () => {
    await clearAll(db);
  });

  /** A router over the events; with `drives`, only those providers are this daemon's, and the rest is forwarded. */
  async function routed(events: JobEvent[], now: number, drives?: (provider: string) => boolean) {
    const dir = tempDir();
    const config = loadConfigOrThrow(writeConfigFile(dir, oneProviderConfig(dir, backend.uri)));
    const succeeded: JobSucceeded[] = [];
    const sent: { node: number; event: NodeEvent }[] = [];
    const forwarded: { node: number; event: JobEvent }[] = [];
    const router = new JobEventRouter({
      db,
      config: () => config,
      log: new Logging({ level: 'error', destination: 'stderr', loggers: {} }).get('test'),
      now: () => now,
      toNode: (node, event) => sent.push({ node: node.id, event }),
      jobSucceeded: (job) => succeeded.push(job),
      ...(drives && {
        drives,
        forward: (node: { id: number }, event: JobEvent) => {
          forwarded.push({ node: node.id, event });
          return Promise.resolve();
        },
      }),
    });
    for (const event of events) await router.handle(event);
    return { succeeded, sent, forwarded };
  }

  it('an event for a node of a provider another nodepoold drives is forwarded, not acted on; the same event heard twice acts once', async () => {
    const mine = await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', nodename: 'small-1', state: 'used', stateTime: 1_000 });
    const theirs = await db.nodes.create({ provider: 'fake-b', label: 'small', target: 'local', nodename: 'small-2', state: 'used', stateTime: 1_000 });
    const finished = (nodeName: string): JobEvent => ({ kind: 'finalized', job: 'tempest', nodeName, status: 'SUCCESS', parameters: {} });
    // The publisher's event, then the same one forwarded by another daemon: one delete.
    const { sent, forwarded } = await routed([finished('small-1'), finished('small-2'), finished('small-1')], 5_000, (p) => p === 'fake-a');
    expect(sent).toEqual([{ node: mine.id, event: { type: 'job.finished', job: 'tempest', result: 'SUCCESS' } }]);
    expect(forwarded).toEqual([{ node: theirs.id, event: finished('small-2') }]);
  });

  it('a job that succeeded on a used node: its branch, label, provider and how long the node was used', async () => {
    const node = await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', nodename: 'small-1', state: 'used', stateTime: 1_000, createdAt: 500 });
    const { succeeded } = await routed([{ kind: 'finalized', job: 'tempest', nodeName: node.nodename as string, status: 'SUCCESS', parameters: { ZUUL_BRANCH: 'master' } }], 61_000);
    expect(succeeded).toEqual([{ job: 'tempest', branch: 'master', label: 'small', provider: 'fake-a', ms: 60_000 }]);
  });

  it('a failed job, a job on a node not in use, and a started job are not counted', async () => {
    await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', nodename: 'small-1', state: 'used', stateTime: 1_000 });
    await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', nodename: 'small-2', state: 'ready', stateTime: 1_000 });
    const { succeeded } = await routed([
      { kind: 'finalized', job: 'tempest', nodeName: 'small-1', status: 'FAILURE', parameters: {} },
      { kind: 'finalized', job: 'tempest', nodeName: 'small-2', status: 'SUCCESS', parameters: {} },
      { kind: 'started', job: 'tempest', nodeName: 'small-2', parameters: {} },
    ], 5_000);
    expect(succeeded).toEqual([]);
  });
});
