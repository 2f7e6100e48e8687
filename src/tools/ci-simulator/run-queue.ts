/**
 * The CI system's queue of runs waiting for a node: the simulator's own, or
 * a Gearman server's (./local-queue.ts, ./gearman-queue.ts).
 */
import type { CiSimulatorJob } from '../../config/types.js';

/** How a run ended, as Jenkins reports a build's result. */
export type RunResult = 'SUCCESS' | 'FAILURE' | 'ABORTED';

/** A run taken off the queue to start on a node. */
export interface TakenRun {
  job: CiSimulatorJob;
  /** When the run was queued (ms epoch), when the queue knows: the wait for a node is measured from it. */
  queuedAt?: number;
  /** Tells the queue the run ended (a Gearman job is answered). */
  finish(result: RunResult): Promise<void>;
}

export interface RunQueue {
  /** Queues one run of `job`. */
  enqueue(job: CiSimulatorJob): Promise<void>;
  /** A queued run of one of `jobs` (all of one label), oldest first; undefined when none is queued. */
  take(jobs: readonly CiSimulatorJob[]): Promise<TakenRun | undefined>;
  /** Whether a run of one of `jobs` may be queued; undefined when only asking the queue would tell. */
  hasQueued?(jobs: readonly CiSimulatorJob[]): boolean;
  /** The runs of a job that left the configuration are not run; a queue that can drops them. */
  forget?(jobName: string): void;
  /** Gives up the queue's connections; runs taken and not finished go back to a shared queue. */
  close(): Promise<void>;
}
