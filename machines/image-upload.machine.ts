/**
 * One ready build uploaded to one provider (docs/behaviour.md, "Images").
 *
 *   queued ─► uploading ─► ready ─► deleting ─► removed
 *     ▲  │         │                   ▲
 *     │  │         ▼                   │
 *     └──┼──── failed (back-off, until maxAttempts)
 *        └─────────────────────────────┘ (dropped before it ran)
 *
 * Pure: the upload and the deletion of the provider's image are named actors
 * supplied by src/. Time comes in as `tick` events carrying `now`; the retry
 * time of a failed upload and of a failed delete are absolute times in the
 * context, because pending `after` timers are not persisted.
 *
 * Effects must be safe to repeat: a snapshot restored in `uploading` runs
 * `uploadImage` again from its beginning, so it first looks in the provider
 * for an image carrying this upload's `nodepool_upload_id` and adopts it; one
 * restored in `deleting` deletes again (an image already gone is success).
 */
import { assign, fromPromise, setup } from 'xstate';
import { deletingRegion, deletionImplementations, deletionWantsTimeAt, errorMessage, type DeletionFields } from './deletion.js';
import { topStateOf } from './state-value.js';
import { imagePhaseOf, imageRecordStateOf } from './image-phases.js';

export { DELETE_RETRY_MS } from './deletion.js';

/** The upload record's state (src/db/records.ts UploadState). */
export type UploadRowState = 'uploading' | 'ready' | 'failed' | 'deleting';

export interface ImageUploadInput {
  uploadId: number;
  /** Uploads tried before the upload stays failed for good. */
  maxAttempts: number;
  /** Pause before the first retry; it doubles with each failed attempt. */
  baseBackoffMs: number;
  /** The longest pause between two attempts. */
  maxBackoffMs: number;
  /** Pause before a failed delete of the provider's image is tried again. Default DELETE_RETRY_MS. */
  deleteRetryMs?: number;
  /** The provider's image id, when the record already holds one (restored without a snapshot). */
  externalId?: string;
}

export interface ImageUploadContext extends ImageUploadInput, DeletionFields {
  /** Upload attempts that failed. */
  attempts: number;
  /** The last upload error. */
  error?: string;
  /** The `now` of the first tick after the last failure: the back-off counts from here. */
  failedAt?: number;
  /** When a failed upload may be tried again. */
  retryAt?: number;
}

export type ImageUploadEvent =
  /** An upload worker is this upload's: start now. */
  | { type: 'worker.granted'; now: number }
  | { type: 'tick'; now: number }
  /** Retention, `image-delete`, or the image left the provider's configuration. */
  | { type: 'delete' };

/** What src logs and counts when an upload attempt ends. */
export type UploadOutcome =
  | { outcome: 'ready'; uploadId: number; externalId: string }
  | { outcome: 'failed'; uploadId: number; error: string; attempts: number; willRetry: boolean };

/** The pause after the `attempts`-th failure: base, 2x base, 4x base, ... capped at maxBackoffMs. */
export function backoffMs(attempts: number, baseBackoffMs: number, maxBackoffMs: number): number {
  return Math.min(baseBackoffMs * 2 ** Math.max(0, attempts - 1), maxBackoffMs);
}

const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`${name} is not provided`);
  });

const deletion = deletionImplementations<ImageUploadContext, ImageUploadEvent>();

export const imageUploadMachine = setup({
  types: {
    context: {} as ImageUploadContext,
    events: {} as ImageUploadEvent,
    input: {} as ImageUploadInput,
  },
  actors: {
    /**
     * Uploads the build's file of the provider's image type, or adopts the
     * image an earlier attempt made (found by `nodepool_upload_id`); resolves
     * with the provider's image id once the image is active.
     */
    uploadImage: notProvided('uploadImage') as unknown as ReturnType<
      typeof fromPromise<{ externalId: string }, { uploadId: number }>
    >,
    /**
     * Deletes the provider's image: by its id, or when none is known, any
     * image carrying this upload's `nodepool_upload_id`. An image already
     * gone is success.
     */
    deleteProviderImage: notProvided('deleteProviderImage') as unknown as ReturnType<
      typeof fromPromise<void, { uploadId: number; externalId?: string }>
    >,
  },
  actions: {
    /** Told to src so it can log the attempt and count it by outcome. */
    reportUploadResult: (_, _params: UploadOutcome) => {},
    startRetryDelay: assign(({ context, event }) => {
      if (!('now' in event)) return {};
      return { failedAt: event.now, retryAt: event.now + backoffMs(context.attempts, context.baseBackoffMs, context.maxBackoffMs) };
    }),
    ...deletion.actions,
  },
  guards: {
    attemptsExhausted: ({ context }) => context.attempts >= context.maxAttempts,
    retryDelayUnset: ({ context }) => context.retryAt === undefined,
    retryDue: ({ context, event }) => 'now' in event && context.retryAt !== undefined && event.now >= context.retryAt,
    ...deletion.guards,
  },
}).createMachine({
  id: 'imageUpload',
  context: ({ input }) => ({ ...input, attempts: 0, deleteAttempts: 0 }),
  initial: 'queued',
  states: {
    /** Waits for an upload worker. */
    queued: {
      on: {
        'worker.granted': 'uploading',
        delete: 'deleting',
      },
    },
    /** `delete` is refused here (`image-delete` refuses an upload in progress). */
    uploading: {
      invoke: {
        src: 'uploadImage',
        input: ({ context }) => ({ uploadId: context.uploadId }),
        onDone: {
          target: 'ready',
          actions: [
            assign({ externalId: ({ event }) => event.output.externalId, error: undefined }),
            {
              type: 'reportUploadResult',
              params: ({ context, event }) => ({
                outcome: 'ready' as const,
                uploadId: context.uploadId,
                externalId: event.output.externalId,
              }),
            },
          ],
        },
        onError: {
          target: 'failed',
          actions: [
            assign({ error: ({ event }) => errorMessage(event.error), attempts: ({ context }) => context.attempts + 1 }),
            {
              type: 'reportUploadResult',
              params: ({ context }) => ({
                outcome: 'failed' as const,
                uploadId: context.uploadId,
                error: context.error ?? 'unknown error',
                attempts: context.attempts,
                willRetry: context.attempts < context.maxAttempts,
              }),
            },
          ],
        },
      },
    },
    /**
     * Tried again after a back-off that starts at the first tick after the
     * failure; after maxAttempts it stays failed until retention deletes it.
     */
    failed: {
      on: {
        tick: [
          { guard: 'attemptsExhausted' },
          { guard: 'retryDelayUnset', actions: 'startRetryDelay' },
          { guard: 'retryDue', target: 'queued' },
        ],
        delete: 'deleting',
      },
      exit: assign({ failedAt: undefined, retryAt: undefined }),
    },
    ready: {
      on: { delete: 'deleting' },
    },
    deleting: deletingRegion('deletingImage', {
      src: 'deleteProviderImage',
      input: ({ context }: { context: ImageUploadContext }) => ({ uploadId: context.uploadId, externalId: context.externalId }),
    }),
    /** src removes the record and the snapshot when an upload reaches this state. */
    removed: { type: 'final' },
  },
});

/** Where an upload actor is, as its builder reads it (it never names the machine's states itself). */
export type UploadPhase = ReturnType<typeof uploadPhaseOf>;

export const uploadPhaseOf = (snapshot: { value: unknown; status: string }) => imagePhaseOf(snapshot, 'uploading');

/** The upload record's state for a machine state (records.ts UploadState). */
export const uploadStateOf = (value: unknown): UploadRowState => imageRecordStateOf(value, 'uploading');

/** When an upload next needs to hear the time: the end of its back-off after a failure, its pause after a failed delete. */
export function uploadWantsTimeAt(snapshot: { value: unknown; context: ImageUploadContext }): number | undefined {
  const top = topStateOf(snapshot.value);
  const { context } = snapshot;
  if (top === 'failed') return context.attempts >= context.maxAttempts ? undefined : (context.retryAt ?? 0);
  if (top === 'deleting') return deletionWantsTimeAt((snapshot.value as Record<string, unknown>).deleting, context);
  return undefined;
}
