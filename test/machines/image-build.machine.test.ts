import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type SnapshotFrom } from 'xstate';
import {
  DELETE_RETRY_MS,
  buildStateOf,
  imageBuildMachine,
  type BuildOutcome,
  type ImageBuildInput,
} from '../../machines/image-build.machine.js';
import { deferred, flush } from '../support/deferred.js';


const T0 = 1_000_000;
const input: ImageBuildInput = { buildId: 42, buildTimeoutMs: 3_600_000 };

type Snapshot = SnapshotFrom<typeof imageBuildMachine>;

/** A build machine with effects the test controls and records. */
function harness(options: { snapshot?: Snapshot; buildInput?: Partial<ImageBuildInput> } = {}) {
  const calls: string[] = [];
  const outcomes: BuildOutcome[] = [];
  const builds: { d: ReturnType<typeof deferred<{ formats: string[] }>>; signal: AbortSignal }[] = [];
  const deletes: ReturnType<typeof deferred<void>>[] = [];
  const machine = imageBuildMachine.provide({
    actors: {
      runBuild: fromPromise(async ({ input: i, signal }) => {
        calls.push(`runBuild ${i.buildId}`);
        const d = deferred<{ formats: string[] }>();
        builds.push({ d, signal });
        return d.promise;
      }),
      deleteBuildFiles: fromPromise(async ({ input: i }) => {
        calls.push(`deleteBuildFiles ${i.buildId}`);
        const d = deferred<void>();
        deletes.push(d);
        return d.promise;
      }),
    },
    actions: { reportBuildResult: (_, params) => outcomes.push(params) },
  });
  const actor = createActor(machine, { input: { ...input, ...options.buildInput }, snapshot: options.snapshot });
  actor.start();
  const state = () => actor.getSnapshot().value;
  const row = () => buildStateOf(actor.getSnapshot().value);
  const context = () => actor.getSnapshot().context;
  return { actor, calls, outcomes, builds, deletes, state, row, context };
}

type Harness = ReturnType<typeof harness>;

/** Starts the build and lets diskimage-builder finish with these formats. */
async function toReady(h: Harness, formats = ['qcow2']) {
  h.actor.send({ type: 'worker.granted', now: T0 });
  h.builds.at(-1)?.d.resolve({ formats });
  await flush();
}

function persisted(h: Harness): Snapshot {
  return JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot())) as Snapshot;
}

describe('a diskimage build', () => {
  it('waits queued until a worker and its lease are granted, then runs diskimage-builder', () => {
    const h = harness();
    expect(h.state()).toBe('queued');
    expect(h.row()).toBe('building');
    h.actor.send({ type: 'tick', now: T0 + 999_999_999 });
    expect(h.state()).toBe('queued');
    expect(h.calls).toEqual([]);
    h.actor.send({ type: 'worker.granted', now: T0 });
    expect(h.state()).toBe('building');
    expect(h.row()).toBe('building');
    expect(h.context().startedAt).toBe(T0);
    expect(h.calls).toEqual(['runBuild 42']);
  });

  it('that succeeds is ready and records its formats', async () => {
    const h = harness();
    await toReady(h, ['qcow2', 'raw']);
    expect(h.state()).toBe('ready');
    expect(h.row()).toBe('ready');
    expect(h.context().formats).toEqual(['qcow2', 'raw']);
    expect(h.outcomes).toEqual([{ outcome: 'ready', buildId: 42, formats: ['qcow2', 'raw'] }]);
  });

  it('that fails records the reason and never becomes ready', async () => {
    const h = harness();
    h.actor.send({ type: 'worker.granted', now: T0 });
    h.builds[0]?.d.reject({ reason: 'exit', message: 'disk-image-create exited with status 1' });
    await flush();
    expect(h.state()).toBe('failed');
    expect(h.row()).toBe('failed');
    expect(h.context().failure).toEqual({ reason: 'exit', message: 'disk-image-create exited with status 1' });
    expect(h.outcomes).toEqual([
      { outcome: 'failed', buildId: 42, failure: { reason: 'exit', message: 'disk-image-create exited with status 1' } },
    ]);
    // Nothing brings a failed build back: it is kept until it is cleaned up.
    h.actor.send({ type: 'worker.granted', now: T0 + 1 });
    h.actor.send({ type: 'tick', now: T0 + 10_000_000 });
    expect(h.state()).toBe('failed');
    expect(h.context().formats).toEqual([]);
    expect(h.calls).toEqual(['runBuild 42']);
  });

  it('whose effect fails with a plain error is failed with reason other', async () => {
    const h = harness();
    h.actor.send({ type: 'worker.granted', now: T0 });
    h.builds[0]?.d.reject(new Error('missing output file /opt/nodepool/images/ubuntu-42.qcow2'));
    await flush();
    expect(h.context().failure).toEqual({ reason: 'other', message: 'missing output file /opt/nodepool/images/ubuntu-42.qcow2' });
  });

  it('that runs past the build timeout fails with reason timeout, and its process is told to stop', async () => {
    const h = harness({ buildInput: { buildTimeoutMs: 60_000 } });
    h.actor.send({ type: 'worker.granted', now: T0 });
    h.actor.send({ type: 'tick', now: T0 + 60_000 });
    expect(h.state()).toBe('building');
    expect(h.builds[0]?.signal.aborted).toBe(false);
    h.actor.send({ type: 'tick', now: T0 + 60_001 });
    expect(h.state()).toBe('failed');
    expect(h.context().failure).toEqual({ reason: 'timeout', message: 'not built within the build timeout of 60 s' });
    expect(h.outcomes.map((o) => o.outcome)).toEqual(['failed']);
    // XState stopped the effect on leaving `building`: src kills disk-image-create on this abort.
    expect(h.builds[0]?.signal.aborted).toBe(true);
    // A late success of the killed run changes nothing.
    h.builds[0]?.d.resolve({ formats: ['qcow2'] });
    await flush();
    expect(h.state()).toBe('failed');
  });

  it('in progress cannot be deleted (dib-image-delete refuses it)', () => {
    const h = harness();
    h.actor.send({ type: 'worker.granted', now: T0 });
    h.actor.send({ type: 'delete' });
    expect(h.state()).toBe('building');
    expect(h.calls).toEqual(['runBuild 42']);
  });

  it('that is ready and deleted removes its files and then ends', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    expect(h.state()).toEqual({ deleting: 'deletingFiles' });
    expect(h.row()).toBe('deleting');
    expect(h.calls.at(-1)).toBe('deleteBuildFiles 42');
    h.deletes[0]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
    expect(h.actor.getSnapshot().status).toBe('done');
  });

  it('that failed is cleaned up the same way', async () => {
    const h = harness();
    h.actor.send({ type: 'worker.granted', now: T0 });
    h.builds[0]?.d.reject(new Error('boom'));
    await flush();
    h.actor.send({ type: 'delete' });
    expect(h.calls.at(-1)).toBe('deleteBuildFiles 42');
    h.deletes[0]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
  });

  it('still queued when it is dropped is deleted without ever running', async () => {
    const h = harness();
    h.actor.send({ type: 'delete' });
    expect(h.calls).toEqual(['deleteBuildFiles 42']);
    h.deletes[0]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
  });

  it('whose file deletion fails tries again after a pause, not before', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.deletes[0]?.reject(new Error('EBUSY: resource busy'));
    await flush();
    expect(h.state()).toEqual({ deleting: 'deleteFailed' });
    expect(h.row()).toBe('deleting');
    expect(h.context().deleteError).toBe('EBUSY: resource busy');
    h.actor.send({ type: 'tick', now: T0 + 100_000 });
    expect(h.context().retryDeleteAt).toBe(T0 + 100_000 + DELETE_RETRY_MS);
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS - 1 });
    expect(h.state()).toEqual({ deleting: 'deleteFailed' });
    expect(h.deletes).toHaveLength(1);
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS });
    expect(h.state()).toEqual({ deleting: 'deletingFiles' });
    expect(h.deletes).toHaveLength(2);
    expect(h.context().deleteAttempts).toBe(1);
    h.deletes[1]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
  });

  it('uses the configured pause before retrying a deletion', async () => {
    const h = harness({ buildInput: { deleteRetryMs: 500 } });
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.deletes[0]?.reject(new Error('EIO'));
    await flush();
    h.actor.send({ type: 'tick', now: T0 + 1_000 });
    h.actor.send({ type: 'tick', now: T0 + 1_500 });
    expect(h.deletes).toHaveLength(2);
  });

  it('asked to delete again while deleting does not start over', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.actor.send({ type: 'delete' });
    expect(h.deletes).toHaveLength(1);
  });
});

describe('a diskimage build restored from its snapshot', () => {
  it('that was deleting removes its files again (deletion is safe to repeat) and ends', async () => {
    const first = harness();
    await toReady(first);
    first.actor.send({ type: 'delete' });
    const saved = persisted(first);
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    await flush();
    expect(restored.state()).toEqual({ deleting: 'deletingFiles' });
    expect(restored.calls).toEqual(['deleteBuildFiles 42']);
    restored.deletes[0]?.resolve();
    await flush();
    expect(restored.state()).toBe('removed');
  });

  it('that was waiting to retry a deletion keeps its retry time', async () => {
    const first = harness();
    await toReady(first);
    first.actor.send({ type: 'delete' });
    first.deletes[0]?.reject(new Error('EBUSY'));
    await flush();
    first.actor.send({ type: 'tick', now: T0 + 5_000 });
    const saved = persisted(first);
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    restored.actor.send({ type: 'tick', now: T0 + 5_000 + DELETE_RETRY_MS - 1 });
    expect(restored.calls).toEqual([]);
    restored.actor.send({ type: 'tick', now: T0 + 5_000 + DELETE_RETRY_MS });
    expect(restored.calls).toEqual(['deleteBuildFiles 42']);
  });

  it('that was building runs the build again, against the deadline of the first start', async () => {
    const first = harness({ buildInput: { buildTimeoutMs: 60_000 } });
    first.actor.send({ type: 'worker.granted', now: T0 });
    const saved = persisted(first);
    first.actor.stop();
    expect(first.builds[0]?.signal.aborted).toBe(true);

    const restored = harness({ snapshot: saved });
    await flush();
    expect(restored.state()).toBe('building');
    expect(restored.calls).toEqual(['runBuild 42']);
    restored.actor.send({ type: 'tick', now: T0 + 60_001 });
    expect(restored.context().failure?.reason).toBe('timeout');
  });
  it('that was ready stays ready and does not report its result again', async () => {
    const first = harness();
    await toReady(first, ['raw']);
    const saved = persisted(first);
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    await flush();
    expect(restored.state()).toBe('ready');
    expect(restored.context().formats).toEqual(['raw']);
    expect(restored.outcomes).toEqual([]);
    expect(restored.calls).toEqual([]);
  });
});

describe('the build record state', () => {
  it('follows the machine state', () => {
    expect(buildStateOf('queued')).toBe('building');
    expect(buildStateOf('building')).toBe('building');
    expect(buildStateOf('ready')).toBe('ready');
    expect(buildStateOf('failed')).toBe('failed');
    expect(buildStateOf({ deleting: 'deletingFiles' })).toBe('deleting');
    expect(buildStateOf({ deleting: 'deleteFailed' })).toBe('deleting');
    expect(buildStateOf('removed')).toBe('deleting');
  });
});
