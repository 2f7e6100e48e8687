/**
 * nodepoold's timings that the environment can change (docs/commands.md),
 * as the builder's are: the defaults suit production; a test shortens them.
 */
import { NodepoolError } from '../core/errors.js';

/** The pool's tick: a list or an allocation waits at most this long past its time. */
export const POOL_TICK_MS = 250;

export interface NodepooldTuning {
  /** How often the allocation runs at least (it also runs at once when a node leaves). */
  allocateIntervalMs?: number;
}

/** Tuning from NODEPOOL_ALLOCATE_SECONDS; an unusable value is an error naming it. */
export function nodepooldTuningFromEnv(env: NodeJS.ProcessEnv = process.env): NodepooldTuning {
  const raw = env.NODEPOOL_ALLOCATE_SECONDS;
  if (raw === undefined || raw === '') return {};
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new NodepoolError('NP_CONFIG_ENV', `NODEPOOL_ALLOCATE_SECONDS=${raw}: must be a positive number of seconds`);
  return { allocateIntervalMs: Math.round(seconds * 1000) };
}
