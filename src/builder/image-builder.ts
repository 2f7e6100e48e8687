/**
 * A builder's main loop (nodepool-builder, or the builder inside nodepoold):
 * the builder actor with its build and upload actors, the streams that feed
 * it (time, configuration), and the persistence of every image actor.
 */
import { hostname as osHostname } from 'node:os';
import { interval, skip, type Subscription } from 'rxjs';
import { createActor, fromPromise, type Actor, type AnyActorRef, type InspectionEvent } from 'xstate';
import { describeDiff, type NodepoolConfig } from '../config/index.js';
import type { Database } from '../db/index.js';
import type { Logger, Logging } from '../log/index.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { leaseOwner } from '../runtime/node-lease.js';
import { clockScheduler, watchConfig } from '../streams/index.js';
import { builderMachine, isBuildActor, isUploadActor, type SurveyInput, type SurveyResult } from '../../machines/builder.machine.js';
import { buildStateOf } from '../../machines/image-build.machine.js';
import { uploadStateOf } from '../../machines/image-upload.machine.js';
import { imageBuildMachineWithEffects } from './build-effects.js';
import { OwnDrivers, type CloudAccess } from './cloud-access.js';
import { ImagePersistence } from './image-persistence.js';
import { removeStrayBuildFiles } from './stray-files.js';
import { BuilderSurvey, type UploadRetry } from './survey.js';
import { DEFAULT_TUNING, type BuilderTuning } from './tuning.js';
import { imageUploadMachineWithEffects } from './upload-effects.js';

export interface ImageBuilderOptions {
  config: NodepoolConfig;
  /** Re-read while running when given (nodepool-builder and nodepoold both pass it). */
  configFile?: string;
  db: Database;
  logging: Logging;
  clock?: Clock;
  buildWorkers: number;
  uploadWorkers: number;
  /** The clouds; nodepoold passes its providers' drivers and queues. Default: drivers of its own. */
  clouds?: CloudAccess;
  /** Lease owner; default `<program>:<host>:<pid>`. */
  owner?: string;
  program?: string;
  hostname?: string;
  tuning?: Partial<BuilderTuning>;
  /** How often the configuration file is re-read even without a change event. */
  configReadMs?: number;
}

const UPLOAD_RETRY: UploadRetry = {
  // A failed upload is retried until a newer build supersedes it or a person deletes it.
  maxAttempts: Number.MAX_SAFE_INTEGER,
  baseBackoffMs: 30_000,
  maxBackoffMs: 15 * 60_000,
};

type BuilderActor = Actor<typeof builderMachine>;

export class ImageBuilder {
  private config: NodepoolConfig;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly tuning: BuilderTuning;
  private readonly hostname: string;
  private readonly clouds: CloudAccess;
  private readonly ownClouds: boolean;
  private readonly persistence: ImagePersistence;
  private readonly survey: BuilderSurvey;
  private readonly subscriptions: Subscription[] = [];
  private readonly states = new Map<string, string>();
  private surveying: Promise<unknown> = Promise.resolve();
  private surveys = 0;
  /** Builds whose disk-image-create has not yet ended and cleaned up. */
  private readonly runningBuilds = new Set<Promise<unknown>>();
  private actor: BuilderActor | undefined;

  constructor(private readonly options: ImageBuilderOptions) {
    this.config = options.config;
    this.clock = options.clock ?? systemClock;
    this.log = options.logging.get('nodepool.builder');
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.hostname = options.hostname ?? osHostname();
    this.ownClouds = options.clouds === undefined;
    this.clouds = options.clouds ?? new OwnDrivers(this.clock);
    this.persistence = new ImagePersistence(options.db, this.log, (actorId) => {
      this.log.warn({ actor: actorId }, `the record of ${actorId} is gone; the next survey stops its actor`);
    });
    this.survey = new BuilderSurvey({
      db: options.db,
      config: () => this.config,
      clock: this.clock,
      log: this.log,
      owner: options.owner ?? leaseOwner(options.program ?? 'nodepool-builder'),
      hostname: this.hostname,
      leaseTtlMs: this.tuning.leaseTtlMs,
      buildTimeoutMs: this.tuning.buildTimeoutMs,
      buildRetryMs: this.tuning.buildRetryMs,
      uploadRetry: { ...UPLOAD_RETRY, ...this.tuning.uploadRetry },
      flush: () => this.persistence.flush(),
    });
  }

  get builderActor(): BuilderActor | undefined {
    return this.actor;
  }

  /** Surveys finished (or failed) so far: a test waits for a few to see that nothing more happens. */
  get surveysDone(): number {
    return this.surveys;
  }

  async start(): Promise<void> {
    const { db, logging } = this.options;
    if (!this.config.imagesDir) throw new Error('images-dir is not set in the configuration: the builder has nowhere to write images');
    const removed = await removeStrayBuildFiles(this.config.imagesDir, db, this.hostname);
    if (removed.length > 0) this.log.info({ files: removed }, `removed ${removed.length} file(s) of builds that will not finish here`);
    const machine = builderMachine.provide({
      actors: {
        build: imageBuildMachineWithEffects({
          db,
          config: () => this.config,
          logging,
          clock: this.clock,
          buildTimeoutMs: this.tuning.buildTimeoutMs,
          running: this.runningBuilds,
        }),
        upload: imageUploadMachineWithEffects({ db, config: () => this.config, clouds: this.clouds, log: this.log }),
        survey: fromPromise<SurveyResult, SurveyInput>(({ input }) => {
          const run = this.survey.run(input).finally(() => {
            this.surveys += 1;
          });
          this.surveying = run.catch(() => {});
          return run;
        }),
      },
      actions: {
        reportSurveyFailure: (_, { error, failures }) =>
          this.log.error({ err: error, failures }, 'builder survey failed; trying again at the next interval'),
      },
    });
    this.actor = createActor(machine, {
      input: {
        buildWorkers: this.options.buildWorkers,
        uploadWorkers: this.options.uploadWorkers,
        surveyIntervalMs: this.tuning.surveyIntervalMs,
      },
      inspect: (event) => this.inspect(event),
    });
    this.actor.start();
    this.log.info(
      { buildWorkers: this.options.buildWorkers, uploadWorkers: this.options.uploadWorkers, host: this.hostname },
      `builder started with ${this.options.buildWorkers} build and ${this.options.uploadWorkers} upload worker(s)`,
    );
    const scheduler = clockScheduler(this.clock);
    const tick = () => this.actor?.send({ type: 'tick', now: this.clock.now() });
    tick();
    this.subscriptions.push(interval(this.tuning.tickMs, scheduler).subscribe(tick));
    if (this.options.configFile) {
      this.subscriptions.push(
        watchConfig(this.options.configFile, {
          intervalMs: this.options.configReadMs ?? 60_000,
          logger: logging.get('nodepool.config'),
          clock: this.clock,
        })
          .pipe(skip(1))
          .subscribe({
            next: (update) => this.reconfigure(update.config, describeDiff(update.diff)),
            error: (err: unknown) => this.log.error({ err }, 'configuration watch failed; keeping the running configuration'),
          }),
      );
    }
  }

  /** A valid new configuration: the next survey plans with it. */
  reconfigure(config: NodepoolConfig, summary = 'reloaded'): void {
    this.log.info(`builder: configuration changed: ${summary}`);
    this.config = config;
  }

  /**
   * Stops starting work, stops the actors (a running disk-image-create is
   * killed and its partial files removed), writes their last states and
   * gives the leases up, so another builder or the next start redoes what
   * was in flight.
   */
  async stop(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    this.actor?.stop();
    await this.surveying;
    // A cancelled build kills its tool and removes its files; only then may another builder take it.
    await Promise.all([...this.runningBuilds]);
    await this.persistence.flush();
    await this.survey.releaseAll().catch((err: unknown) => this.log.warn({ err }, 'could not release the leases; they lapse on their own'));
    if (this.ownClouds) await this.clouds.close();
  }

  /** Every image actor's snapshot is persisted; state changes are logged once. */
  private inspect(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    const actor = event.actorRef as AnyActorRef;
    if (!isBuildActor(actor.id) && !isUploadActor(actor.id)) return;
    this.persistence.noteSnapshot(actor);
    const snapshot = actor.getSnapshot() as { value: unknown; status: string };
    const state =
      snapshot.status === 'done' ? 'removed' : isBuildActor(actor.id) ? buildStateOf(snapshot.value) : uploadStateOf(snapshot.value);
    if (this.states.get(actor.id) === state) return;
    this.states.set(actor.id, state);
    if (state === 'removed') this.states.delete(actor.id);
    this.log.debug({ actor: actor.id, state }, `${actor.id} is ${state}`);
  }
}
