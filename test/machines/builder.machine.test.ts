import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type AnyActorRef } from 'xstate';
import {
  builderMachine,
  freeWorkers,
  heldActors,
  isResting,
  type SurveyInput,
  type SurveyResult,
  type HeldPhase,
} from '../../machines/builder.machine.js';
import { imageBuildMachine } from '../../machines/image-build.machine.js';
import { imageUploadMachine } from '../../machines/image-upload.machine.js';
import { deferred, flush } from '../support/deferred.js';

const T0 = 5_000_000;
const SURVEY_MS = 1000;
const buildInput = (buildId: number) => ({ buildId, buildTimeoutMs: 60_000 });
const uploadInput = (uploadId: number) => ({ uploadId, maxAttempts: 3, baseBackoffMs: 1000, maxBackoffMs: 8000 });
const empty = (): SurveyResult => ({ builds: [], uploads: [], deletes: [], lost: [] });

/** A builder whose survey answers are scripted and whose builds and uploads the test finishes by hand. */
function harness(options: { buildWorkers?: number; uploadWorkers?: number } = {}) {
  const surveys: SurveyInput[] = [];
  const answers: SurveyResult[] = [];
  const builds = new Map<number, ReturnType<typeof deferred<{ formats: string[] }>>>();
  const uploads = new Map<number, ReturnType<typeof deferred<{ externalId: string }>>>();
  const calls: string[] = [];
  const machine = builderMachine.provide({
    actors: {
      survey: fromPromise<SurveyResult, SurveyInput>(async ({ input }) => {
        surveys.push(input);
        return answers.shift() ?? empty();
      }),
      build: imageBuildMachine.provide({
        actors: {
          runBuild: fromPromise(async ({ input }) => {
            calls.push(`runBuild ${input.buildId}`);
            const d = deferred<{ formats: string[] }>();
            builds.set(input.buildId, d);
            return d.promise;
          }),
          deleteBuildFiles: fromPromise(async ({ input }) => {
            calls.push(`deleteBuildFiles ${input.buildId}`);
          }),
        },
      }),
      upload: imageUploadMachine.provide({
        actors: {
          uploadImage: fromPromise(async ({ input }) => {
            calls.push(`uploadImage ${input.uploadId}`);
            const d = deferred<{ externalId: string }>();
            uploads.set(input.uploadId, d);
            return d.promise;
          }),
          deleteProviderImage: fromPromise(async ({ input }) => {
            calls.push(`deleteProviderImage ${input.uploadId}`);
          }),
        },
      }),
    },
  });
  const actor = createActor(machine, {
    input: { buildWorkers: options.buildWorkers ?? 1, uploadWorkers: options.uploadWorkers ?? 2, surveyIntervalMs: SURVEY_MS },
  });
  actor.start();
  const held = () => heldActors(actor.getSnapshot().children as Record<string, AnyActorRef>);
  const tick = async (now: number) => {
    actor.send({ type: 'tick', now });
    await flush();
    await flush();
  };
  return { actor, surveys, answers, builds, uploads, calls, held, tick };
}

describe('builder machine', () => {
  it('surveys once per interval and tells the survey what it holds and how many workers are free', async () => {
    const h = harness({ buildWorkers: 2, uploadWorkers: 4 });
    await h.tick(T0);
    await h.tick(T0 + 500);
    expect(h.surveys).toEqual([{ now: T0, held: {}, freeBuildWorkers: 2, freeUploadWorkers: 4 }]);
    await h.tick(T0 + SURVEY_MS);
    expect(h.surveys).toHaveLength(2);
  });

  it('runs no more builds at once than --build-workers, and starts the next when one ends', async () => {
    const h = harness({ buildWorkers: 1 });
    h.answers.push({ ...empty(), builds: [{ input: buildInput(1), delete: false }, { input: buildInput(2), delete: false }] });
    await h.tick(T0);
    expect(h.calls).toEqual(['runBuild 1']);
    expect(h.held()).toEqual({ 'build-1': 'building', 'build-2': 'queued' });

    // While both are held, the next survey is told there is no room.
    await h.tick(T0 + SURVEY_MS);
    expect(h.surveys.at(-1)?.freeBuildWorkers).toBe(0);

    h.builds.get(1)?.resolve({ formats: ['qcow2'] });
    await flush();
    expect(h.held()['build-1']).toBe('ready');
    // The next tick lets the ready build go and hands its worker to the queued one.
    await h.tick(T0 + SURVEY_MS + 100);
    expect(h.held()).toEqual({ 'build-2': 'building' });
    expect(h.calls).toEqual(['runBuild 1', 'runBuild 2']);
  });

  it('bounds uploads by --upload-workers, and keeps a failed upload that will retry', async () => {
    const h = harness({ uploadWorkers: 2 });
    h.answers.push({ ...empty(), uploads: [1, 2, 3].map((id) => ({ input: uploadInput(id), delete: false })) });
    await h.tick(T0);
    expect(h.calls).toEqual(['uploadImage 1', 'uploadImage 2']);
    h.uploads.get(1)?.reject(new Error('503'));
    await flush();
    await h.tick(T0 + 10);
    expect(h.held()).toEqual({ 'upload-1': 'failed', 'upload-2': 'uploading', 'upload-3': 'uploading' });
    expect(isResting('upload-1', 'failed')).toBe(false);
    expect(isResting('build-1', 'failed')).toBe(true);
  });

  it('claims for deletion spawn an actor that deletes at once, without taking a worker', async () => {
    const h = harness({ buildWorkers: 1 });
    h.answers.push({
      ...empty(),
      builds: [{ input: buildInput(1), delete: false }, { input: buildInput(7), delete: true }],
      uploads: [{ input: { ...uploadInput(8), externalId: 'img-8' }, delete: true }],
    });
    await h.tick(T0);
    await flush();
    expect(h.calls.sort()).toEqual(['deleteBuildFiles 7', 'deleteProviderImage 8', 'runBuild 1']);
    // Both deletions finished: their actors reached `removed` and were let go.
    expect(h.held()).toEqual({ 'build-1': 'building' });
  });

  it('tells a held actor to delete and stops one whose lease was lost', async () => {
    const h = harness({ uploadWorkers: 2 });
    h.answers.push({ ...empty(), uploads: [1, 2].map((id) => ({ input: uploadInput(id), delete: false })) });
    await h.tick(T0);
    h.uploads.get(1)?.reject(new Error('boom'));
    await flush();
    h.answers.push({ ...empty(), deletes: ['upload-1'], lost: ['upload-2'] });
    await h.tick(T0 + SURVEY_MS);
    await flush();
    expect(h.calls).toContain('deleteProviderImage 1');
    expect(h.held()).toEqual({});
  });

  it('a failed survey is reported and tried again at the next interval', async () => {
    const failures: number[] = [];
    let calls = 0;
    const machine = builderMachine.provide({
      actors: {
        survey: fromPromise<SurveyResult, SurveyInput>(async () => {
          calls += 1;
          throw new Error('database gone');
        }),
      },
      actions: { reportSurveyFailure: (_, params) => failures.push(params.failures) },
    });
    const actor = createActor(machine, { input: { buildWorkers: 1, uploadWorkers: 1, surveyIntervalMs: SURVEY_MS } }).start();
    actor.send({ type: 'tick', now: T0 });
    await flush();
    actor.send({ type: 'tick', now: T0 + SURVEY_MS });
    await flush();
    expect(calls).toBe(2);
    expect(failures).toEqual([1, 2]);
  });

  it('freeWorkers counts running and queued actors of each kind', () => {
    const held: Record<string, HeldPhase> = { 'build-1': 'building', 'build-2': 'queued', 'upload-1': 'uploading', 'upload-2': 'failed', 'upload-3': 'deleting' };
    expect(freeWorkers({ buildWorkers: 3, uploadWorkers: 4, surveyIntervalMs: 1 }, held)).toEqual({ builds: 1, uploads: 3 });
  });
});
