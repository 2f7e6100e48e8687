/**
 * A Gearman server as the queue, as Zuul and Jenkins' Gearman plugin use it:
 * a run is a background job `build:<job>:<label>` (which nodepoold counts as
 * demand for the label), and the simulator is also the worker that takes
 * it, grabbing a job only when it has a node of the label to run it on. A
 * run that ends completes its job (WORK_COMPLETE) or fails it (WORK_FAIL),
 * as the Jenkins plugin does by the build's result.
 */
import type { CiSimulatorJob } from '../../config/types.js';
import { GearmanClient, GearmanWorker, type GearmanAddress } from '../../gearman/index.js';
import type { RunQueue, TakenRun } from './run-queue.js';

/** The function a run of `job` is queued under. */
export function buildFunction(job: Pick<CiSimulatorJob, 'name' | 'label'>): string {
  return `build:${job.name}:${job.label}`;
}

export class GearmanRunQueue implements RunQueue {
  private readonly client: GearmanClient;
  private readonly worker: GearmanWorker;

  constructor(
    readonly server: GearmanAddress,
    options: { timeoutMs?: number } = {},
    private readonly now: () => number = Date.now,
  ) {
    this.client = new GearmanClient(server);
    this.worker = new GearmanWorker(server, { clientId: 'nodepool-ci-simulator', ...options });
  }

  async enqueue(job: CiSimulatorJob): Promise<void> {
    // The payload says when it was queued, so the wait for a node can be told when it is taken.
    await this.client.submitBackgroundJob(buildFunction(job), JSON.stringify({ job: job.name, label: job.label, queuedAt: this.now() }));
  }

  async take(jobs: readonly CiSimulatorJob[]): Promise<TakenRun | undefined> {
    const byFunction = new Map(jobs.map((j) => [buildFunction(j), j]));
    const grabbed = await this.worker.grabJob([...byFunction.keys()]);
    if (!grabbed) return undefined;
    const job = byFunction.get(grabbed.fn);
    // The server hands out only the functions asked for; anything else is given back at once.
    if (!job) {
      await grabbed.fail();
      return undefined;
    }
    const queuedAt = queuedAtOf(grabbed.payload);
    return {
      job,
      ...(queuedAt !== undefined && { queuedAt }),
      finish: (result) => (result === 'SUCCESS' ? grabbed.complete(JSON.stringify({ result })) : grabbed.fail()),
    };
  }

  close(): Promise<void> {
    this.worker.close();
    return Promise.resolve();
  }
}

/** The time a run's payload says it was queued at, if it says (another CI's payload may not). */
function queuedAtOf(payload: Buffer): number | undefined {
  try {
    const at = (JSON.parse(payload.toString('utf8')) as { queuedAt?: unknown }).queuedAt;
    return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
  } catch {
    return undefined;
  }
}
