/**
 * One builder process: supervises the image-build and image-upload actors it
 * holds (docs/behaviour.md, "Images", and docs/builder.md).
 *
 * Two regions run side by side:
 *   supervision  every tick: pass the time on, let go of actors that reached a
 *                resting state, and start queued work within --build-workers
 *                and --upload-workers;
 *   survey       every surveyIntervalMs: the `survey` effect (src/builder)
 *                plans with the database, renews this process's leases and
 *                claims the work it has room for; the result spawns actors,
 *                tells held ones to delete, and stops ones whose lease was lost.
 *
 * Several builders share the work through leases in the database, so this
 * machine never decides alone what to build: it only runs what it claimed.
 * Pure: the survey and the build/upload effects are supplied by src/.
 */
import { type AnyActorRef, assign, enqueueActions, fromPromise, setup, stopChild } from 'xstate';
import { buildActorId, isBuildActor, isUploadActor, uploadActorId } from './actor-ids.js';
import { buildPhaseOf, buildWantsTimeAt, imageBuildMachine, type BuildPhase, type ImageBuildContext, type ImageBuildInput } from './image-build.machine.js';
import { imageUploadMachine, uploadPhaseOf, uploadWantsTimeAt, type ImageUploadContext, type ImageUploadInput, type UploadPhase } from './image-upload.machine.js';
import { withResume } from './resume.js';

export interface BuilderInput {
  buildWorkers: number;
  uploadWorkers: number;
  surveyIntervalMs: number;
}

export interface BuilderContext extends BuilderInput {
  /** When the last survey started (ms epoch); undefined before the first. */
  lastSurveyAt?: number;
  surveyFailures: number;
}

/**
 * Work a survey claimed for this process: an actor, resumed from its saved
 * snapshot when there is one (`resumeFrom`: another builder, or this one
 * before a restart, left it there), and told to delete at once when `delete`.
 */
export interface BuildClaim {
  input: ImageBuildInput;
  delete: boolean;
  resumeFrom?: unknown;
}
export interface UploadClaim {
  input: ImageUploadInput;
  delete: boolean;
  resumeFrom?: unknown;
}

export type HeldPhase = BuildPhase | UploadPhase;

/** What the survey is told: the actors held and how much room there is. */
export interface SurveyInput {
  now: number;
  /** Actor id -> where it is, e.g. { 'build-3': 'building', 'upload-9': 'failed' }. */
  held: Record<string, HeldPhase>;
  freeBuildWorkers: number;
  freeUploadWorkers: number;
}

export interface SurveyResult {
  builds: BuildClaim[];
  uploads: UploadClaim[];
  /** Held actors whose record a person or retention marked for deletion. */
  deletes: string[];
  /** Held actors whose lease another process now holds (or whose record is gone): stopped. */
  lost: string[];
}

export type BuilderEvent =
  | { type: 'tick'; now: number }
  /** Internal: start queued work within the worker bounds. */
  | { type: 'workers.assign'; now: number }
  | { type: 'configure'; buildWorkers: number; uploadWorkers: number };

/** Each held image actor with where it is. */
export function heldActors(children: Record<string, unknown>): Record<string, HeldPhase> {
  const held: Record<string, HeldPhase> = {};
  for (const [id, ref] of Object.entries(children)) {
    const snapshot = () => (ref as AnyActorRef).getSnapshot() as { value: unknown; status: string };
    if (isBuildActor(id)) held[id] = buildPhaseOf(snapshot());
    else if (isUploadActor(id)) held[id] = uploadPhaseOf(snapshot());
  }
  return held;
}

/** States in which an actor waits for nothing: it is let go, and its lease released. */
export function isResting(actorId: string, state: HeldPhase): boolean {
  if (state === 'removed') return true;
  if (isBuildActor(actorId)) return state === 'ready' || state === 'failed';
  // A failed upload stays: it retries after its back-off.
  return state === 'ready';
}

/** Actors that occupy (or wait for) a worker of their kind. */
function workerUse(held: Record<string, HeldPhase>, kind: (id: string) => boolean, busy: HeldPhase) {
  const ids = Object.keys(held).filter(kind);
  return {
    busy: ids.filter((id) => held[id] === busy).length,
    queued: ids.filter((id) => held[id] === 'queued'),
  };
}

export function freeWorkers(context: BuilderInput, held: Record<string, HeldPhase>) {
  const builds = workerUse(held, isBuildActor, 'building');
  const uploads = workerUse(held, isUploadActor, 'uploading');
  return {
    builds: Math.max(0, context.buildWorkers - builds.busy - builds.queued.length),
    uploads: Math.max(0, context.uploadWorkers - uploads.busy - uploads.queued.length),
  };
}

/** Whether something is due for a build or upload actor at `now` (its deadline, its back-off, a pause). */
function wantsTime(actorId: string, child: AnyActorRef, now: number): boolean {
  const snapshot = child.getSnapshot() as { value: unknown; context: ImageBuildContext & ImageUploadContext };
  const due = isBuildActor(actorId) ? buildWantsTimeAt(snapshot) : uploadWantsTimeAt(snapshot);
  return due !== undefined && due <= now;
}

const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`${name} is not provided`);
  });

export const builderMachine = setup({
  types: {
    context: {} as BuilderContext,
    events: {} as BuilderEvent,
    input: {} as BuilderInput,
  },
  actors: {
    build: imageBuildMachine,
    upload: imageUploadMachine,
    survey: notProvided('survey') as unknown as ReturnType<typeof fromPromise<SurveyResult, SurveyInput>>,
  },
  actions: {
    /** Told to src, which logs it; the next survey is tried at the next interval. */
    reportSurveyFailure: (_, _params: { error: unknown; failures: number }) => {},
  },
  guards: {
    surveyDue: ({ context, event }) =>
      'now' in event && (context.lastSurveyAt === undefined || event.now - context.lastSurveyAt >= context.surveyIntervalMs),
  },
}).createMachine({
  id: 'builder',
  context: ({ input }) => ({ ...input, surveyFailures: 0 }),
  type: 'parallel',
  on: {
    configure: {
      actions: [
        assign({ buildWorkers: ({ event }) => event.buildWorkers, uploadWorkers: ({ event }) => event.uploadWorkers }),
      ],
    },
    // A build or upload that reached `removed` has nothing left to do.
    'xstate.done.actor.*': {
      actions: enqueueActions(({ enqueue, event }) => {
        const actorId = (event as unknown as { actorId: string }).actorId;
        if (isBuildActor(actorId) || isUploadActor(actorId)) enqueue(stopChild(actorId));
      }),
    },
  },
  states: {
    supervision: {
      on: {
        tick: {
          actions: enqueueActions(({ enqueue, self, event }) => {
            const children = self.getSnapshot().children as Record<string, AnyActorRef>;
            const held = heldActors(children);
            for (const [id, state] of Object.entries(held)) {
              const child = children[id];
              if (!child) continue;
              if (isResting(id, state)) enqueue(stopChild(child));
              else if (wantsTime(id, child, event.now)) enqueue.sendTo(child, { type: 'tick', now: event.now });
            }
            enqueue.raise({ type: 'workers.assign', now: event.now });
          }),
        },
        'workers.assign': {
          actions: enqueueActions(({ enqueue, self, context, event }) => {
            const children = self.getSnapshot().children as Record<string, AnyActorRef>;
            const held = heldActors(children);
            const grant = (kind: (id: string) => boolean, busyState: HeldPhase, workers: number) => {
              const { busy, queued } = workerUse(held, kind, busyState);
              for (const id of queued.slice(0, Math.max(0, workers - busy))) {
                const child = children[id];
                if (child) enqueue.sendTo(child, { type: 'worker.granted', now: event.now });
              }
            };
            grant(isBuildActor, 'building', context.buildWorkers);
            grant(isUploadActor, 'uploading', context.uploadWorkers);
          }),
        },
      },
    },
    survey: {
      initial: 'waiting',
      states: {
        waiting: {
          on: {
            tick: { guard: 'surveyDue', target: 'surveying', actions: assign({ lastSurveyAt: ({ event }) => event.now }) },
          },
        },
        surveying: {
          invoke: {
            src: 'survey',
            input: ({ context, self }) => {
              const held = heldActors(self.getSnapshot().children);
              const free = freeWorkers(context, held);
              return { now: context.lastSurveyAt ?? 0, held, freeBuildWorkers: free.builds, freeUploadWorkers: free.uploads };
            },
            onDone: {
              target: 'waiting',
              actions: [
                assign({ surveyFailures: 0 }),
                enqueueActions(({ enqueue, event, self, context }) => {
                  const result = event.output;
                  const children = self.getSnapshot().children as Record<string, AnyActorRef>;
                  const now = context.lastSurveyAt ?? 0;
                  for (const id of result.lost) if (children[id]) enqueue(stopChild(id));
                  for (const id of result.deletes) if (children[id]) enqueue.sendTo(id, { type: 'delete' });
                  // Actors spawned here are not in the snapshot until this step ends, so
                  // the room left is counted from the held ones and granted right away.
                  const free = freeWorkers(context, heldActors(children));
                  const start = (id: string, claim: { delete: boolean }, kind: 'builds' | 'uploads') => {
                    if (claim.delete) enqueue.sendTo(id, { type: 'delete' });
                    else if (free[kind] > 0) {
                      free[kind] -= 1;
                      enqueue.sendTo(id, { type: 'worker.granted', now });
                    }
                  };
                  for (const claim of result.builds) {
                    const id = buildActorId(claim.input.buildId);
                    if (children[id]) continue;
                    enqueue.spawnChild('build', { id, systemId: id, input: withResume(claim.input, claim.resumeFrom) });
                    start(id, claim, 'builds');
                  }
                  for (const claim of result.uploads) {
                    const id = uploadActorId(claim.input.uploadId);
                    if (children[id]) continue;
                    enqueue.spawnChild('upload', { id, systemId: id, input: withResume(claim.input, claim.resumeFrom) });
                    start(id, claim, 'uploads');
                  }
                }),
              ],
            },
            onError: {
              target: 'waiting',
              actions: [
                assign({ surveyFailures: ({ context }) => context.surveyFailures + 1 }),
                {
                  type: 'reportSurveyFailure',
                  params: ({ context, event }) => ({ error: event.error, failures: context.surveyFailures }),
                },
              ],
            },
          },
        },
      },
    },
  },
});
