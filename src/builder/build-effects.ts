/**
 * The effects of the image-build machine: running disk-image-create for a
 * build and removing its files. Output goes to `<images-dir>/<name>-<id>.*`;
 * the build log is `<name>-<id>.log` next to the image files.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fromPromise } from 'xstate';
import type { NodepoolConfig } from '../config/types.js';
import type { Database } from '../db/index.js';
import {
  dibInvocation, fileExtension, imageTypesFor, removeBuildOutput, runDiskImageCreate, stopLeftoverBuild, type DibFailureReason,
} from '../dib/index.js';
import type { PoolMetrics } from '../metrics/index.js';
import type { Logging } from '../log/index.js';
import type { Clock } from '../core/clock.js';
import { NodepoolError } from '../core/errors.js';
import {
  imageBuildMachine, type BuildEffectError, type BuildFailureReason, type BuildOutcome, type ImageBuildContext,
} from '../../machines/image-build.machine.js';

export interface BuildEffectsOptions {
  db: Database;
  config: () => NodepoolConfig;
  logging: Logging;
  clock: Clock;
  buildTimeoutMs: number;
  /** Every running build is added here until it has ended and cleaned up (a graceful stop waits for them). */
  running?: Set<Promise<unknown>>;
  /** Where ended builds are counted (their duration, and their files' sizes for statsd). */
  metrics?: Pick<PoolMetrics, 'buildEnded'>;
}

/** Where a build's files go: `<images-dir>/<diskimage>-<build id>` plus an extension. */
export function buildOutputBase(config: Pick<NodepoolConfig, 'imagesDir'>, image: string, buildId: number): string {
  if (!config.imagesDir) throw effectError('other', 'images-dir is not set in the configuration; nowhere to build');
  return resolve(config.imagesDir, `${image}-${buildId}`);
}

export const buildLogFile = (outputBase: string) => `${outputBase}.log`;
/** Holds the running disk-image-create's process group id. */
export const buildPidFile = (outputBase: string) => `${outputBase}.pid`;

function effectError(reason: BuildFailureReason, message: string): BuildEffectError & Error {
  return Object.assign(new NodepoolError('NP_BUILD_FAILED', message), { reason });
}

const REASONS: Record<DibFailureReason, BuildFailureReason> = {
  exit: 'exit',
  'missing-output': 'output',
  timeout: 'timeout',
  aborted: 'other',
  spawn: 'other',
};

/** ELEMENTS_PATH may list several directories; relative ones are taken from where the daemon runs. */
function elementsPath(elementsDir: string | undefined): string | undefined {
  return elementsDir
    ?.split(':')
    .filter((d) => d !== '')
    .map((d) => resolve(d))
    .join(':');
}

export function imageBuildMachineWithEffects(options: BuildEffectsOptions) {
  const { db } = options;
  return imageBuildMachine.provide({
    actors: {
      runBuild: fromPromise<{ formats: string[] }, { buildId: number }>(({ input, signal }) => {
        const run = runBuild(input.buildId, signal);
        const settled = run.catch(() => {});
        options.running?.add(settled);
        void settled.finally(() => options.running?.delete(settled));
        return run;
      }),
      deleteBuildFiles: fromPromise<void, { buildId: number }>(async ({ input }) => {
        const build = await db.builds.get(input.buildId);
        if (!build) return;
        const outputBase = build.filename ?? buildOutputBase(options.config(), build.image, build.id);
        await stopLeftoverBuild(buildPidFile(outputBase));
        await removeBuildOutput(outputBase);
      }),
    },
    actions: {
      reportBuildResult: ({ context }, outcome) => {
        const log = options.logging.get('nodepool.builder');
        if (outcome.outcome === 'ready') log.info({ build: outcome.buildId, formats: outcome.formats }, `build ${outcome.buildId} is ready`);
        else log.error({ build: outcome.buildId, reason: outcome.failure.reason }, `build ${outcome.buildId} failed: ${outcome.failure.message}`);
        const { startedAt } = context as ImageBuildContext;
        if (options.metrics) void countBuild(options.metrics, outcome, startedAt === undefined ? undefined : options.clock.now() - startedAt);
      },
      reportDeleteFailure: ({ context }, failure) => {
        const { buildId } = context as { buildId: number };
        const message = `deleting the files of build ${buildId} failed (attempt ${failure.attempts}): ${failure.error}; trying again in ${failure.retryInMs / 1000} s`;
        const log = options.logging.get('nodepool.builder');
        if (failure.persistent) log.error({ build: buildId, attempts: failure.attempts }, message);
        else log.warn({ build: buildId, attempts: failure.attempts }, message);
      },
    },
  });

  /** The build's image, and for a ready one each file's size on disk (blocks, not the sparse length, as 0.4 measured it). */
  async function countBuild(metrics: Pick<PoolMetrics, 'buildEnded'>, outcome: BuildOutcome, ms: number | undefined): Promise<void> {
    try {
      const build = await db.builds.get(outcome.buildId);
      if (!build) return;
      const base = build.filename ?? buildOutputBase(options.config(), build.image, build.id);
      const sizes: Record<string, number> = {};
      if (outcome.outcome === 'ready') {
        for (const format of outcome.formats) {
          const file = await stat(`${base}.${fileExtension(format) ?? format}`).catch(() => undefined);
          if (file) sizes[format] = file.blocks * 512;
        }
      }
      const result = outcome.outcome === 'ready' ? 'ready' : outcome.failure.reason;
      metrics.buildEnded({ image: build.image, result, ...(ms !== undefined && { ms }), ...(outcome.outcome === 'ready' && { sizes }) });
    } catch (err) {
      options.logging.get('nodepool.builder').debug({ err, build: outcome.buildId }, 'the ended build could not be counted');
    }
  }

  async function runBuild(buildId: number, signal: AbortSignal): Promise<{ formats: string[] }> {
    const build = await db.builds.get(buildId);
    if (!build) throw effectError('other', `build ${buildId} no longer exists`);
    const config = options.config();
    const diskimage = config.diskimages.find((d) => d.name === build.image);
    if (!diskimage) throw effectError('other', `diskimage ${build.image} is no longer configured`);
    const outputBase = buildOutputBase(config, build.image, build.id);
    const invocation = dibInvocation({
      diskimage,
      types: imageTypesFor(config, diskimage.name),
      imagesDir: resolve(config.imagesDir ?? '.'),
      elementsDir: elementsPath(config.elementsDir),
      buildId: build.id,
    });
    // Whatever an earlier attempt of this build left (a builder killed mid-build) goes first.
    if (await stopLeftoverBuild(buildPidFile(outputBase))) {
      options.logging.get('nodepool.builder').warn({ build: build.id }, `stopped the disk-image-create an earlier attempt of build ${build.id} left running`);
    }
    await removeBuildOutput(outputBase);
    const logger = options.logging.get(`nodepool.image.build.${diskimage.name}`);
    if (invocation.ignoredEnvVars.length > 0) {
      logger.warn(`env-vars ${invocation.ignoredEnvVars.join(', ')} are set by nodepool; the diskimage's values are ignored`);
    }
    const result = await runDiskImageCreate(invocation, {
      logger,
      logFile: buildLogFile(outputBase),
      timeoutMs: options.buildTimeoutMs,
      signal,
      clock: options.clock,
      pidFile: buildPidFile(outputBase),
    });
    if (!result.ok) throw effectError(REASONS[result.reason ?? 'exit'], result.message ?? 'build failed');
    return { formats: result.formats.map((f) => f.type) };
  }
}
