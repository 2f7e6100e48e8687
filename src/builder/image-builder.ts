/**
 * A builder's workload in the actor host (nodepool-builder, or the builder
 * inside nodepoold): the builder actor with its build and upload actors and
 * the survey that plans and claims their work with the database. A claimed
 * build or upload that was saved before (by this builder before a restart,
 * or by one that died) resumes from its saved snapshot.
 */
import { hostname as osHostname } from 'node:os';
import { fromPromise, type AnyActorRef } from 'xstate';
import type { ActorHost, StateChange, Workload, WorkloadStart } from '../actors/host.js';
import { resumable } from '../actors/resumable.js';
import { loadSavedActor } from '../actors/saved-actors.js';
import { NodepoolError } from '../core/errors.js';
import { leaseOwner } from '../core/leases.js';
import type { Logger } from '../log/index.js';
import type { PoolMetrics } from '../metrics/index.js';
import { BUILDER_ACTOR_ID } from '../../machines/actor-ids.js';
import { builderMachine, type SurveyInput, type SurveyResult } from '../../machines/builder.machine.js';
import { imageBuildMachineWithEffects } from './build-effects.js';
import { IMAGE_KINDS } from './image-kinds.js';
import { removeStrayBuildFiles } from './stray-files.js';
import { BuilderSurvey, type UploadRetry } from './survey.js';
import { DEFAULT_TUNING, type BuilderTuning } from './tuning.js';
import { imageUploadMachineWithEffects } from './upload-effects.js';

export interface ImageBuilderOptions {
  buildWorkers: number;
  uploadWorkers: number;
  /** Lease owner; default `<program>:<host>:<pid>`. */
  owner?: string;
  program?: string;
  hostname?: string;
  tuning?: Partial<BuilderTuning>;
  /** Where builds and uploads are counted (/metrics, statsd). */
  metrics?: PoolMetrics;
}

const UPLOAD_RETRY: UploadRetry = {
  // A failed upload is retried until a newer build supersedes it or a person deletes it.
  maxAttempts: Number.MAX_SAFE_INTEGER,
  baseBackoffMs: 30_000,
  maxBackoffMs: 15 * 60_000,
};

export class ImageBuilder implements Workload {
  readonly name = 'builder';
  readonly kinds = IMAGE_KINDS;
  private readonly log: Logger;
  private readonly tuning: BuilderTuning;
  private readonly hostname: string;
  private readonly survey: BuilderSurvey;
  private surveying: Promise<unknown> = Promise.resolve();
  private surveys = 0;
  /** Builds whose disk-image-create has not yet ended and cleaned up. */
  private readonly runningBuilds = new Set<Promise<unknown>>();
  private actor: AnyActorRef | undefined;

  constructor(
    private readonly host: ActorHost,
    private readonly options: ImageBuilderOptions,
  ) {
    this.log = host.logging.get('nodepool.builder');
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.hostname = options.hostname ?? osHostname();
    this.survey = new BuilderSurvey({
      db: host.db,
      config: () => host.config,
      clock: host.clock,
      log: this.log,
      owner: options.owner ?? leaseOwner(options.program ?? 'nodepool-builder'),
      hostname: this.hostname,
      leaseTtlMs: this.tuning.leaseTtlMs,
      buildTimeoutMs: this.tuning.buildTimeoutMs,
      buildRetryMs: this.tuning.buildRetryMs,
      uploadRetry: { ...UPLOAD_RETRY, ...this.tuning.uploadRetry },
      flush: () => host.flush(),
      savedSnapshot: (actorId) => loadSavedActor(host.db, IMAGE_KINDS, actorId, this.log),
    });
    options.metrics?.watchImages({
      builds: async () => tallied(await host.db.builds.list(), (b) => ({ image: b.image, state: b.state })),
      uploads: async () => tallied(await host.db.uploads.list(), (u) => ({ image: u.image, provider: u.provider, state: u.state })),
    });
  }

  get builderActor(): AnyActorRef | undefined {
    return this.actor;
  }

  /** Surveys finished (or failed) so far: a test waits for a few to see that nothing more happens. */
  get surveysDone(): number {
    return this.surveys;
  }

  /** Stray files of builds that will not finish here go before anything is built. */
  async prepare(): Promise<void> {
    const { imagesDir } = this.host.config;
    if (!imagesDir) throw new NodepoolError('NP_BUILDER_NO_IMAGES_DIR', 'images-dir is not set in the configuration: the builder has nowhere to write images');
    const removed = await removeStrayBuildFiles(imagesDir, this.host.db, this.hostname);
    if (removed.length > 0) this.log.info({ files: removed }, `removed ${removed.length} file(s) of builds that will not finish here`);
  }

  root() {
    const { host } = this;
    const logic = builderMachine.provide({
      actors: {
        build: resumable(
          imageBuildMachineWithEffects({
            db: host.db,
            config: () => host.config,
            logging: host.logging,
            clock: host.clock,
            buildTimeoutMs: this.tuning.buildTimeoutMs,
            running: this.runningBuilds,
            ...(this.options.metrics && { metrics: this.options.metrics }),
          }),
        ),
        upload: resumable(
          imageUploadMachineWithEffects({
            db: host.db, config: () => host.config, gateways: host.gateways, log: this.log, clock: host.clock,
            ...(this.options.metrics && { metrics: this.options.metrics }),
          }),
        ),
        survey: fromPromise<SurveyResult, SurveyInput>(({ input }) => {
          const run = this.survey.run(input).finally(() => {
            this.surveys += 1;
          });
          this.surveying = run.catch(() => {});
          return run;
        }),
      },
      actions: {
        reportSurveyFailure: (_, { error, failures }) => this.log.error({ err: error, failures }, 'builder survey failed; trying again at the next interval'),
      },
    });
    const input = { buildWorkers: this.options.buildWorkers, uploadWorkers: this.options.uploadWorkers, surveyIntervalMs: this.tuning.surveyIntervalMs };
    return { id: BUILDER_ACTOR_ID, logic, input, tickMs: this.tuning.tickMs };
  }

  /** Saved builds and uploads are not taken at start: each resumes when a survey claims its lease. */
  async start({ root }: WorkloadStart): Promise<void> {
    this.actor = root;
    this.log.info(
      { buildWorkers: this.options.buildWorkers, uploadWorkers: this.options.uploadWorkers, host: this.hostname },
      `builder started with ${this.options.buildWorkers} build and ${this.options.uploadWorkers} upload worker(s)`,
    );
  }

  reconfigure(): void {
    this.log.info('builder: the next survey plans with the new configuration');
  }

  recordGone(actorId: string): void {
    this.log.warn({ actor: actorId }, `the record of ${actorId} is gone; the next survey stops its actor`);
  }

  stateChanged({ actorId, state }: StateChange): void {
    this.log.debug({ actor: actorId, state }, `${actorId} is ${state}`);
  }

  /** The actor is stopped: a cancelled build kills its tool and removes its files; only then may another builder take it. */
  async drain(): Promise<void> {
    await this.surveying;
    await Promise.all([...this.runningBuilds]);
  }

  /** Every state is written: the leases go, so another builder (or the next start) takes the work over at once. */
  async stopped(): Promise<void> {
    await this.survey.releaseAll().catch((err: unknown) => this.log.warn({ err }, 'could not release the leases; they lapse on their own'));
  }
}

/** Records counted by the fields `key` picks out of each. */
function tallied<R, K extends Record<string, string>>(records: readonly R[], key: (record: R) => K): (K & { count: number })[] {
  const counts = new Map<string, K & { count: number }>();
  for (const record of records) {
    const fields = key(record);
    const id = JSON.stringify(fields);
    const entry = counts.get(id);
    if (entry) entry.count += 1;
    else counts.set(id, { ...fields, count: 1 });
  }
  return [...counts.values()];
}
