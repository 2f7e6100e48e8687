/**
 * Deleting something in a cloud or on disk, the one way every machine does
 * it (docs/behaviour.md, "Deleting"): call the effect; when it fails, wait a
 * pause that starts at the first event carrying the time, and call it
 * again, for as long as it takes. A node then waits until its provider no
 * longer lists the server; a build's files and an upload's image are gone
 * once the call succeeds.
 *
 * The node, image-build and image-upload machines build their `deleting`
 * region from these pieces:
 *
 *   <attempt> ──done──► <onDone>          deleteAttempt(invoke, onDone)
 *       │ error                             counts the attempt, keeps the error
 *       ▼
 *   deleteFailed ──pause over──► <attempt> deleteRetryPause(attempt, extra)
 *
 * and spread `deletionImplementations<Context, Event>()` into their setup()
 * for the named actions and guards the pieces refer to. Pending `after`
 * timers are not persisted, so the pause is an absolute time in the context
 * (`retryDeleteAt`) checked on every event that carries `now`.
 */
import { assign, type EventObject, type ProvidedActor } from 'xstate';

/** What the pieces keep in the context of the machine that uses them. */
export interface DeletionFields {
  /** Calls of the deleting effect so far (failed or not). */
  deleteAttempts: number;
  /** When a failed call may be tried again (ms epoch); undefined until the pause starts. */
  retryDeleteAt?: number;
  /** The last failure's message. */
  deleteError?: string;
  /** The pause before a failed call is tried again; default DELETE_RETRY_MS. */
  deleteRetryMs?: number;
}

export const DELETE_RETRY_MS = 10_000;

/**
 * Failed calls in a row after which a delete that keeps failing is an error
 * for the operator rather than a warning (docs/behaviour.md, "Deleting").
 */
export const DELETE_FAILURES_BEFORE_ERROR = 3;

/** A failed delete call, as the machine tells src (which logs it). */
export interface DeleteFailure {
  /** Calls so far, this one included. */
  attempts: number;
  /** The cloud's (or the file system's) message. */
  error: string;
  /** Whether this many failures in a row is an error rather than a warning. */
  persistent: boolean;
  /** The pause before the next call. */
  retryInMs: number;
}

/** What to report of the failure a context records after a failed call. */
export function deleteFailureOf(context: DeletionFields): DeleteFailure {
  return {
    attempts: context.deleteAttempts,
    error: context.deleteError ?? 'unknown error',
    persistent: context.deleteAttempts >= DELETE_FAILURES_BEFORE_ERROR,
    retryInMs: context.deleteRetryMs ?? DELETE_RETRY_MS,
  };
}

/** The time an event carries (`tick`, `server.listed`, ...), if any. */
export function nowOf(event: EventObject): number | undefined {
  const now = (event as { now?: unknown }).now;
  return typeof now === 'number' ? now : undefined;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/**
 * The named actions and guards of the pieces, typed for one machine:
 * `setup({ actions: { ...deletion.actions }, guards: { ...deletion.guards } })`
 * with `const deletion = deletionImplementations<Context, Event>()`.
 */
export function deletionImplementations<TContext extends DeletionFields, TEvent extends EventObject>() {
  // `never` as the actor type: these actions spawn nothing, so they fit any machine's actors.
  const update = (patch: (context: TContext, event: TEvent) => Partial<DeletionFields>) =>
    assign<TContext, TEvent, undefined, TEvent, ProvidedActor & never>(({ context, event }) => patch(context, event) as Partial<TContext>);
  return {
    actions: {
      countDeleteAttempt: update((context) => ({ deleteAttempts: context.deleteAttempts + 1 })),
      recordDeleteError: update((_, event) => ({ deleteError: errorMessage((event as { error?: unknown }).error) })),
      startDeleteRetryDelay: update((context, event) => {
        const now = nowOf(event);
        return now === undefined ? {} : { retryDeleteAt: now + (context.deleteRetryMs ?? DELETE_RETRY_MS) };
      }),
      clearDeleteRetryDelay: update(() => ({ retryDeleteAt: undefined })),
      /** Told to src, which logs it: a warning, then an error once it keeps failing. */
      reportDeleteFailure: (_: unknown, _params: DeleteFailure) => {},
    },
    guards: {
      deleteRetryDelayUnset: ({ context }: { context: TContext }) => context.retryDeleteAt === undefined,
      deleteRetryDue: ({ context, event }: { context: TContext; event: TEvent }) => {
        const now = nowOf(event);
        return now !== undefined && context.retryDeleteAt !== undefined && now >= context.retryDeleteAt;
      },
    },
  };
}

/**
 * One call of the deleting effect (`invoke` names it and its input): done
 * goes on to `onDone`, a failure to `deleteFailed` with the error kept.
 * Leaving the state counts the attempt.
 */
export function deleteAttempt<const TInvoke extends { src: string }, const TDone extends string>(invoke: TInvoke, onDone: TDone) {
  return {
    invoke: {
      ...invoke,
      onDone: { target: onDone },
      onError: {
        target: 'deleteFailed' as const,
        actions: [
          'recordDeleteError' as const,
          { type: 'reportDeleteFailure' as const, params: ({ context }: { context: DeletionFields }) => deleteFailureOf(context) },
        ],
      },
    },
    exit: 'countDeleteAttempt' as const,
  };
}

const RETRY = [
  { guard: 'deleteRetryDelayUnset' as const, actions: 'startDeleteRetryDelay' as const },
  { guard: 'deleteRetryDue' as const, target: 'attempt' },
];

/**
 * `deleteFailed`: the pause after a failed call, then `attempt` again. The
 * pause starts at the first `tick` (or other event in `extra`, which must
 * carry `now`); `extra` transitions are tried first, e.g. a node's server
 * that the provider no longer lists is gone without another call.
 */
export function deleteRetryPause<const TAttempt extends string, const TExtra extends Record<string, readonly object[]> = Record<never, never>>(
  attempt: TAttempt,
  extra?: TExtra,
) {
  const retry = RETRY.map((t) => ('target' in t ? { ...t, target: attempt } : t));
  const on: Record<string, readonly object[]> = { tick: retry };
  for (const [event, transitions] of Object.entries(extra ?? {})) on[event] = [...transitions, ...retry];
  return {
    on: on as { tick: typeof retry } & { [K in keyof TExtra]: [...TExtra[K], ...typeof retry] },
    exit: 'clearDeleteRetryDelay' as const,
  };
}

/**
 * The whole `deleting` region of a machine whose thing is gone once the
 * delete call succeeds (a build's files, an upload's image): the attempt
 * named `attempt`, the pause after a failure, and then `removed`.
 */
export function deletingRegion<const TAttempt extends string, const TInvoke extends { src: string }>(attempt: TAttempt, invoke: TInvoke) {
  return {
    initial: attempt,
    states: {
      [attempt]: deleteAttempt(invoke, 'gone'),
      /** The pause starts at the first tick after the failure. */
      deleteFailed: deleteRetryPause(attempt),
      gone: { type: 'final' as const },
    } as { [K in TAttempt]: ReturnType<typeof deleteAttempt<TInvoke, 'gone'>> } & {
      deleteFailed: ReturnType<typeof deleteRetryPause<TAttempt>>;
      gone: { type: 'final' };
    },
    onDone: 'removed' as const,
  };
}

/**
 * When a machine in its `deleting` region next needs to hear the time: at
 * once while a pause or a wait has not started (it starts at the first
 * event carrying the time), then when it ends. Undefined when nothing there
 * waits for time (a call is under way).
 */
export function deletionWantsTimeAt(inner: unknown, context: DeletionFields & { goneDeadline?: number }): number | undefined {
  if (inner === 'deleteFailed') return context.retryDeleteAt ?? 0;
  if (inner === 'waitingUntilGone') return context.goneDeadline === undefined ? 0 : context.goneDeadline + 1;
  return undefined;
}
