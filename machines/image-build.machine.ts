/**
 * One diskimage-builder build of one diskimage (docs/behaviour.md, "Images").
 *
 *   queued ─► building ─► ready ─► deleting ─► removed
 *      │          │                   ▲
 *      │          └─► failed ─────────┤
 *      └──────────────────────────────┘ (a queued build that is dropped)
 *
 * Pure: running diskimage-builder and removing the build's files are named
 * actors supplied by src/. Time comes in as events carrying `now`; the build
 * deadline and the pause before a failed delete is retried are absolute times
 * in the context, because pending `after` timers are not persisted.
 *
 * Effects must be safe to repeat: a snapshot restored in `building` runs
 * `runBuild` again from its beginning (into the same output path), and one
 * restored in `deleting` deletes the files again (a file already gone is not
 * an error).
 */
import { assign, fromPromise, setup } from 'xstate';
import { deletingRegion, deletionImplementations, deletionWantsTimeAt, type DeletionFields } from './deletion.js';
import { topStateOf } from './state-value.js';
import { imagePhaseOf, imageRecordStateOf } from './image-phases.js';

export { DELETE_RETRY_MS } from './deletion.js';

/** The build record's state (src/db/records.ts BuildState). */
export type BuildRowState = 'building' | 'ready' | 'failed' | 'deleting';

/**
 * Why a build failed: `exit` disk-image-create exited non-zero, `output` an
 * expected output file is missing, `timeout` the build deadline passed.
 */
export type BuildFailureReason = 'exit' | 'output' | 'timeout' | 'other';

export interface BuildFailure {
  reason: BuildFailureReason;
  message: string;
}

/** An effect's error as src classifies it; anything else counts as `other`. */
export interface BuildEffectError {
  reason?: BuildFailureReason;
  message?: string;
}

export interface ImageBuildInput {
  buildId: number;
  /** How long a build may run once started; past it the build fails with reason `timeout`. */
  buildTimeoutMs: number;
  /** Pause before a failed file deletion is tried again. Default DELETE_RETRY_MS. */
  deleteRetryMs?: number;
}

export interface ImageBuildContext extends ImageBuildInput, DeletionFields {
  /** When the worker started the build (ms epoch): the deadline counts from here. */
  startedAt?: number;
  /** Formats written, e.g. ['qcow2', 'raw'], once ready. */
  formats: string[];
  failure?: BuildFailure;
}

export type ImageBuildEvent =
  /** A build worker and the build's lease are this build's: start now. */
  | { type: 'worker.granted'; now: number }
  | { type: 'tick'; now: number }
  /** Retention, `dib-image-delete`, or the diskimage left the configuration. */
  | { type: 'delete' };

/** What src logs and counts when a build ends. */
export type BuildOutcome =
  | { outcome: 'ready'; buildId: number; formats: string[] }
  | { outcome: 'failed'; buildId: number; failure: BuildFailure };

function failureOf(error: unknown): BuildFailure {
  const e = (error ?? {}) as BuildEffectError;
  const message = e.message ?? (error instanceof Error ? error.message : String(error));
  return { reason: e.reason ?? 'other', message };
}

const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`${name} is not provided`);
  });

const deletion = deletionImplementations<ImageBuildContext, ImageBuildEvent>();

export const imageBuildMachine = setup({
  types: {
    context: {} as ImageBuildContext,
    events: {} as ImageBuildEvent,
    input: {} as ImageBuildInput,
  },
  actors: {
    /**
     * Runs disk-image-create for the build; resolves with the formats written
     * once it exited 0 and every output file is present, rejects with a
     * BuildEffectError otherwise. When the machine leaves `building` (timeout,
     * actor stopped) XState stops this actor and aborts its `signal`: the
     * implementation must then kill disk-image-create and its children.
     */
    runBuild: notProvided('runBuild') as unknown as ReturnType<
      typeof fromPromise<{ formats: string[] }, { buildId: number }>
    >,
    /** Removes the build's output files; files already gone are not an error. */
    deleteBuildFiles: notProvided('deleteBuildFiles') as unknown as ReturnType<
      typeof fromPromise<void, { buildId: number }>
    >,
  },
  actions: {
    /** Told to src so it can log the build's end and count it by outcome. */
    reportBuildResult: (_, _params: BuildOutcome) => {},
    ...deletion.actions,
  },
  guards: {
    buildTimedOut: ({ context, event }) =>
      'now' in event && context.startedAt !== undefined && event.now > context.startedAt + context.buildTimeoutMs,
    ...deletion.guards,
  },
}).createMachine({
  id: 'imageBuild',
  context: ({ input }) => ({ ...input, formats: [], deleteAttempts: 0 }),
  initial: 'queued',
  states: {
    /** Waits for a build worker and the build's lease. */
    queued: {
      on: {
        'worker.granted': { target: 'building', actions: assign({ startedAt: ({ event }) => event.now }) },
        delete: 'deleting',
      },
    },
    /** `delete` is refused here (`dib-image-delete` refuses a build in progress). */
    building: {
      invoke: {
        src: 'runBuild',
        input: ({ context }) => ({ buildId: context.buildId }),
        onDone: { target: 'ready', actions: assign({ formats: ({ event }) => [...event.output.formats] }) },
        onError: { target: 'failed', actions: assign({ failure: ({ event }) => failureOf(event.error) }) },
      },
      on: {
        tick: {
          guard: 'buildTimedOut',
          target: 'failed',
          actions: assign({
            failure: ({ context }) => ({
              reason: 'timeout' as const,
              message: `not built within the build timeout of ${Math.round(context.buildTimeoutMs / 1000)} s`,
            }),
          }),
        },
      },
    },
    ready: {
      entry: {
        type: 'reportBuildResult',
        params: ({ context }) => ({ outcome: 'ready' as const, buildId: context.buildId, formats: context.formats }),
      },
      on: { delete: 'deleting' },
    },
    /** Kept (and never made ready) until retention cleans it up. */
    failed: {
      entry: {
        type: 'reportBuildResult',
        params: ({ context }) => ({
          outcome: 'failed' as const,
          buildId: context.buildId,
          failure: context.failure ?? { reason: 'other' as const, message: 'unknown failure' },
        }),
      },
      on: { delete: 'deleting' },
    },
    deleting: deletingRegion('deletingFiles', {
      src: 'deleteBuildFiles',
      input: ({ context }: { context: ImageBuildContext }) => ({ buildId: context.buildId }),
    }),
    /** src removes the record and the snapshot when a build reaches this state. */
    removed: { type: 'final' },
  },
});

/** Where a build actor is, as its builder reads it (it never names the machine's states itself). */
export type BuildPhase = ReturnType<typeof buildPhaseOf>;

export const buildPhaseOf = (snapshot: { value: unknown; status: string }) => imagePhaseOf(snapshot, 'building');

/** The build record's state for a machine state (records.ts BuildState). */
export const buildStateOf = (value: unknown): BuildRowState => imageRecordStateOf(value, 'building');

/** When a build next needs to hear the time: its deadline while building, its pause after a failed delete. */
export function buildWantsTimeAt(snapshot: { value: unknown; context: ImageBuildContext }): number | undefined {
  const top = topStateOf(snapshot.value);
  const { context } = snapshot;
  if (top === 'building') return context.startedAt === undefined ? 0 : context.startedAt + context.buildTimeoutMs + 1;
  if (top === 'deleting') return deletionWantsTimeAt((snapshot.value as Record<string, unknown>).deleting, context);
  return undefined;
}
