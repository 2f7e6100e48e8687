import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type SnapshotFrom } from 'xstate';
import {
  DELETE_RETRY_MS,
  backoffMs,
  imageUploadMachine,
  uploadStateOf,
  type ImageUploadInput,
  type UploadOutcome,
} from '../../machines/image-upload.machine.js';
import { deferred, flush } from '../support/deferred.js';


const T0 = 1_000_000;
const BASE = 60_000;
const input: ImageUploadInput = { uploadId: 9, maxAttempts: 3, baseBackoffMs: BASE, maxBackoffMs: 3_600_000 };

type Snapshot = SnapshotFrom<typeof imageUploadMachine>;

/** An upload machine with effects the test controls and records. */
function harness(options: { snapshot?: Snapshot; uploadInput?: Partial<ImageUploadInput> } = {}) {
  const calls: string[] = [];
  const outcomes: UploadOutcome[] = [];
  const uploads: ReturnType<typeof deferred<{ externalId: string }>>[] = [];
  const deletes: ReturnType<typeof deferred<void>>[] = [];
  const machine = imageUploadMachine.provide({
    actors: {
      uploadImage: fromPromise(async ({ input: i }) => {
        calls.push(`uploadImage ${i.uploadId}`);
        const d = deferred<{ externalId: string }>();
        uploads.push(d);
        return d.promise;
      }),
      deleteProviderImage: fromPromise(async ({ input: i }) => {
        calls.push(`deleteProviderImage ${i.uploadId} ${i.externalId ?? '(by metadata)'}`);
        const d = deferred<void>();
        deletes.push(d);
        return d.promise;
      }),
    },
    actions: { reportUploadResult: (_, params) => outcomes.push(params) },
  });
  const actor = createActor(machine, { input: { ...input, ...options.uploadInput }, snapshot: options.snapshot });
  actor.start();
  const state = () => actor.getSnapshot().value;
  const row = () => uploadStateOf(actor.getSnapshot().value);
  const context = () => actor.getSnapshot().context;
  return { actor, calls, outcomes, uploads, deletes, state, row, context };
}

type Harness = ReturnType<typeof harness>;

async function toReady(h: Harness, externalId = 'img-1') {
  h.actor.send({ type: 'worker.granted', now: T0 });
  h.uploads.at(-1)?.resolve({ externalId });
  await flush();
}

/** Grants a worker and lets the upload attempt fail. */
async function failAttempt(h: Harness, now: number, message = '503 Service Unavailable') {
  h.actor.send({ type: 'worker.granted', now });
  h.uploads.at(-1)?.reject(new Error(message));
  await flush();
}

function persisted(h: Harness): Snapshot {
  return JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot())) as Snapshot;
}

describe('an image upload', () => {
  it('waits queued until a worker is granted, then uploads', () => {
    const h = harness();
    expect(h.state()).toBe('queued');
    expect(h.row()).toBe('uploading');
    h.actor.send({ type: 'tick', now: T0 });
    expect(h.calls).toEqual([]);
    h.actor.send({ type: 'worker.granted', now: T0 });
    expect(h.state()).toBe('uploading');
    expect(h.row()).toBe('uploading');
    expect(h.calls).toEqual(['uploadImage 9']);
  });

  it('that succeeds is ready and records the provider image id', async () => {
    const h = harness();
    await toReady(h, 'img-abc');
    expect(h.state()).toBe('ready');
    expect(h.row()).toBe('ready');
    expect(h.context().externalId).toBe('img-abc');
    expect(h.outcomes).toEqual([{ outcome: 'ready', uploadId: 9, externalId: 'img-abc' }]);
  });

  it('that fails records the error and the attempt count', async () => {
    const h = harness();
    await failAttempt(h, T0, 'Image upload failed: 413 Request Entity Too Large');
    expect(h.state()).toBe('failed');
    expect(h.row()).toBe('failed');
    expect(h.context()).toMatchObject({ attempts: 1, error: 'Image upload failed: 413 Request Entity Too Large' });
    expect(h.outcomes).toEqual([
      { outcome: 'failed', uploadId: 9, error: 'Image upload failed: 413 Request Entity Too Large', attempts: 1, willRetry: true },
    ]);
  });

  it('that fails is retried with a growing back-off: base after the first failure, twice base after the second', async () => {
    const h = harness();
    await failAttempt(h, T0);
    // The back-off counts from the first tick after the failure.
    const t1 = T0 + 5_000;
    h.actor.send({ type: 'tick', now: t1 });
    expect(h.context()).toMatchObject({ failedAt: t1, retryAt: t1 + BASE });
    h.actor.send({ type: 'tick', now: t1 + BASE - 1 });
    expect(h.state()).toBe('failed');
    h.actor.send({ type: 'tick', now: t1 + BASE });
    expect(h.state()).toBe('queued');
    expect(h.context().retryAt).toBeUndefined();
    expect(h.calls).toEqual(['uploadImage 9']);

    await failAttempt(h, t1 + BASE + 1);
    expect(h.context().attempts).toBe(2);
    const t2 = t1 + BASE + 10_000;
    h.actor.send({ type: 'tick', now: t2 });
    h.actor.send({ type: 'tick', now: t2 + 2 * BASE - 1 });
    expect(h.state()).toBe('failed');
    h.actor.send({ type: 'tick', now: t2 + 2 * BASE });
    expect(h.state()).toBe('queued');

    h.uploads.length = 0;
    h.actor.send({ type: 'worker.granted', now: t2 + 2 * BASE + 1 });
    expect(h.calls).toEqual(['uploadImage 9', 'uploadImage 9', 'uploadImage 9']);
    h.uploads[0]?.resolve({ externalId: 'img-third-time' });
    await flush();
    expect(h.state()).toBe('ready');
    expect(h.context().externalId).toBe('img-third-time');
  });

  it('gives up after maxAttempts and stays failed', async () => {
    const h = harness({ uploadInput: { maxAttempts: 2 } });
    await failAttempt(h, T0);
    h.actor.send({ type: 'tick', now: T0 + 1 });
    h.actor.send({ type: 'tick', now: T0 + 1 + BASE });
    await failAttempt(h, T0 + 2 + BASE);
    expect(h.outcomes.map((o) => o.outcome === 'failed' && o.willRetry)).toEqual([true, false]);
    h.actor.send({ type: 'tick', now: T0 + 10 * BASE });
    h.actor.send({ type: 'tick', now: T0 + 1_000 * BASE });
    expect(h.state()).toBe('failed');
    expect(h.context()).toMatchObject({ attempts: 2, retryAt: undefined });
    expect(h.calls).toEqual(['uploadImage 9', 'uploadImage 9']);
  });

  it('waits at most maxBackoffMs between attempts', async () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 1_000, 5_000))).toEqual([1_000, 2_000, 4_000, 5_000]);
    const h = harness({ uploadInput: { maxAttempts: 10, baseBackoffMs: 1_000, maxBackoffMs: 1_500 } });
    await failAttempt(h, T0);
    h.actor.send({ type: 'tick', now: T0 });
    h.actor.send({ type: 'tick', now: T0 + 1_000 });
    await failAttempt(h, T0 + 1_001);
    h.actor.send({ type: 'tick', now: T0 + 2_000 });
    expect(h.context().retryAt).toBe(T0 + 2_000 + 1_500);
  });

  it('in progress cannot be deleted (image-delete refuses it)', () => {
    const h = harness();
    h.actor.send({ type: 'worker.granted', now: T0 });
    h.actor.send({ type: 'delete' });
    expect(h.state()).toBe('uploading');
    expect(h.calls).toEqual(['uploadImage 9']);
  });

  it('that is ready and deleted deletes the provider image by its id, then ends', async () => {
    const h = harness();
    await toReady(h, 'img-1');
    h.actor.send({ type: 'delete' });
    expect(h.state()).toEqual({ deleting: 'deletingImage' });
    expect(h.row()).toBe('deleting');
    expect(h.calls.at(-1)).toBe('deleteProviderImage 9 img-1');
    h.deletes[0]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
    expect(h.actor.getSnapshot().status).toBe('done');
  });

  it('that failed is cleaned up by looking for an image with its metadata', async () => {
    const h = harness();
    await failAttempt(h, T0);
    h.actor.send({ type: 'delete' });
    expect(h.calls.at(-1)).toBe('deleteProviderImage 9 (by metadata)');
    h.deletes[0]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
  });

  it('still queued when it is dropped is deleted without uploading', async () => {
    const h = harness();
    h.actor.send({ type: 'delete' });
    expect(h.calls).toEqual(['deleteProviderImage 9 (by metadata)']);
  });

  it('whose delete fails tries again after a pause, not before', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.deletes[0]?.reject(new Error('409 Conflict: image in use'));
    await flush();
    expect(h.state()).toEqual({ deleting: 'deleteFailed' });
    expect(h.context().deleteError).toBe('409 Conflict: image in use');
    h.actor.send({ type: 'tick', now: T0 + 100_000 });
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS - 1 });
    expect(h.deletes).toHaveLength(1);
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS });
    expect(h.deletes).toHaveLength(2);
    expect(h.calls.at(-1)).toBe('deleteProviderImage 9 img-1');
    h.deletes[1]?.resolve();
    await flush();
    expect(h.state()).toBe('removed');
  });
});

describe('an image upload restored from its snapshot', () => {
  it('that was uploading runs the upload again (it adopts an image it made before) and finishes', async () => {
    const first = harness();
    first.actor.send({ type: 'worker.granted', now: T0 });
    const saved = persisted(first);
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    await flush();
    expect(restored.state()).toBe('uploading');
    expect(restored.calls).toEqual(['uploadImage 9']);
    restored.uploads[0]?.resolve({ externalId: 'img-adopted' });
    await flush();
    expect(restored.state()).toBe('ready');
    expect(restored.context().externalId).toBe('img-adopted');
  });

  it('that was deleting deletes again and ends', async () => {
    const first = harness();
    await toReady(first, 'img-1');
    first.actor.send({ type: 'delete' });
    const saved = persisted(first);
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    await flush();
    expect(restored.calls).toEqual(['deleteProviderImage 9 img-1']);
    restored.deletes[0]?.resolve();
    await flush();
    expect(restored.state()).toBe('removed');
  });

  it('that was waiting to retry keeps its attempts and retry time', async () => {
    const first = harness();
    await failAttempt(first, T0);
    first.actor.send({ type: 'tick', now: T0 + 1_000 });
    const saved = persisted(first);
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    expect(restored.context()).toMatchObject({ attempts: 1, retryAt: T0 + 1_000 + BASE });
    restored.actor.send({ type: 'tick', now: T0 + 1_000 + BASE - 1 });
    expect(restored.state()).toBe('failed');
    restored.actor.send({ type: 'tick', now: T0 + 1_000 + BASE });
    expect(restored.state()).toBe('queued');
  });
});

describe('the upload record state', () => {
  it('follows the machine state', () => {
    expect(uploadStateOf('queued')).toBe('uploading');
    expect(uploadStateOf('uploading')).toBe('uploading');
    expect(uploadStateOf('ready')).toBe('ready');
    expect(uploadStateOf('failed')).toBe('failed');
    expect(uploadStateOf({ deleting: 'deletingImage' })).toBe('deleting');
    expect(uploadStateOf({ deleting: 'deleteFailed' })).toBe('deleting');
    expect(uploadStateOf('removed')).toBe('deleting');
  });
});
