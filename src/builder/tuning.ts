/**
 * The builder's timings. The defaults suit production; the environment can
 * change them (docs/builder.md), which is how tests make leases lapse in
 * seconds rather than a minute.
 */
import { NodepoolError } from '../core/errors.js';
import type { UploadRetry } from './survey.js';

export interface BuilderTuning {
  /** How often time is passed to the actors. */
  tickMs: number;
  /** How often the builder plans and claims work with the database. */
  surveyIntervalMs: number;
  /** How long a claim lasts unless renewed; another builder takes the work over after it. */
  leaseTtlMs: number;
  /** The longest a build may run before it is killed and marked failed. */
  buildTimeoutMs: number;
  /** After a failed build, the pause before the next attempt (a person's image-build does not wait). */
  buildRetryMs: number;
  uploadRetry?: Partial<UploadRetry>;
}

export const DEFAULT_TUNING: BuilderTuning = {
  tickMs: 1000,
  surveyIntervalMs: 2000,
  leaseTtlMs: 60_000,
  buildTimeoutMs: 6 * 3_600_000,
  buildRetryMs: 10 * 60_000,
};

const VARIABLES: Record<string, keyof Omit<BuilderTuning, 'uploadRetry'>> = {
  NODEPOOL_BUILDER_TICK_SECONDS: 'tickMs',
  NODEPOOL_BUILDER_SURVEY_SECONDS: 'surveyIntervalMs',
  NODEPOOL_BUILDER_LEASE_SECONDS: 'leaseTtlMs',
  NODEPOOL_BUILD_TIMEOUT_SECONDS: 'buildTimeoutMs',
  NODEPOOL_BUILD_RETRY_SECONDS: 'buildRetryMs',
};

/** Tuning from NODEPOOL_BUILDER_* variables (seconds); an unusable value is an error naming it. */
export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<BuilderTuning> {
  const tuning: Partial<BuilderTuning> = {};
  for (const [name, key] of Object.entries(VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const seconds = Number(raw);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new NodepoolError('NP_CONFIG_ENV', `${name}=${raw}: must be a positive number of seconds`);
    tuning[key] = Math.round(seconds * 1000);
  }
  const retry = env.NODEPOOL_UPLOAD_RETRY_SECONDS;
  if (retry !== undefined && retry !== '') {
    const seconds = Number(retry);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new NodepoolError('NP_CONFIG_ENV', `NODEPOOL_UPLOAD_RETRY_SECONDS=${retry}: must be a positive number of seconds`);
    tuning.uploadRetry = { baseBackoffMs: Math.round(seconds * 1000) };
  }
  if (tuning.leaseTtlMs !== undefined && tuning.leaseTtlMs < 3 * (tuning.surveyIntervalMs ?? DEFAULT_TUNING.surveyIntervalMs)) {
    throw new NodepoolError('NP_CONFIG_ENV', 'NODEPOOL_BUILDER_LEASE_SECONDS must be at least three survey intervals, or leases lapse while held');
  }
  return tuning;
}
