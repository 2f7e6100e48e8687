/**
 * The CI simulator (docs/ci-simulator.md) plays the CI system against
 * nodepoold. Each job queues a run every `every` seconds; a run waits in
 * the queue until a ready node of its label is free, takes it (onStarted),
 * lasts `duration` seconds and ends (onFinalized) with SUCCESS, or with
 * FAILURE drawn with the job's failure-rate. Time is the injected clock and
 * the draws the injected random, so a test plays an hour in a moment.
 *
 * A node is taken by one run only: the simulator remembers the nodes its
 * runs took until they are no longer ready (nodepoold makes a node `used`
 * a moment after onStarted, and deletes or holds it after onFinalized).
 */
import { map, Subject, type Observable } from 'rxjs';
import type { CiSimulatorJob } from '../../config/types.js';
import type { Clock } from '../../core/clock.js';
import { DuplicateJob, type JobRepository } from '../../db/index.js';
import type { JenkinsBuild, JobEvent } from '../../events/index.js';
import type { Logger } from '../../log/index.js';
import type { NodeSource, SimulatedNode } from './node-source.js';
import type { RunQueue, RunResult, TakenRun } from './run-queue.js';
import type { NodeWork } from './ssh-work.js';

/** A run started on its node, or ended with its result. */
export interface BuildEvent {
  phase: 'started' | 'finalized';
  build: JenkinsBuild;
  status?: RunResult;
}

export interface CiSimulatorOptions {
  jobs: readonly CiSimulatorJob[];
  queue: RunQueue;
  nodes: NodeSource;
  clock: Clock;
  log: Logger;
  /** Draws in [0, 1) for the failures; default Math.random (tests pass a seeded one). */
  random?: () => number;
  /** What a run does on its node besides lasting its duration (SSH `true`); a rejection fails the run. */
  work?: NodeWork;
  /** Whether a run may take a node now (the standalone program: while someone listens to its events). */
  mayStart?: () => boolean;
  /** The jobs' rows, made when missing with the job's hold-on-failure. */
  jobRows?: Pick<JobRepository, 'getByName' | 'create'>;
  /** How often waiting runs look for ready nodes. Default 250 ms: a CI system takes a node about as soon as it is ready. */
  dispatchIntervalMs?: number;
  /** How long a stop waits for nodepoold to end the aborted runs' nodes. Default 3 s. */
  stopWaitMs?: number;
}

export const DISPATCH_INTERVAL_MS = 250;
export const STOP_WAIT_MS = 3_000;
/** A job whose runs find no node stops queueing more at this many, rather than queue for ever. */
export const MAX_QUEUED_RUNS_PER_JOB = 20;
const STOP_POLL_MS = 100;

/** What the simulator remembers of a node one of its runs took. */
interface TakenNode {
  label: string;
  running: boolean;
}

interface Run {
  job: CiSimulatorJob;
  node: SimulatedNode;
  build: JenkinsBuild;
  queued: TakenRun;
  mark: TakenNode;
  timer: unknown;
  timeUp: boolean;
  workDone: boolean;
  workError: unknown;
  ended: boolean;
}

/** A node and not a later one with the same id. */
const keyOf = (node: SimulatedNode) => `${node.id}@${node.createdAt}`;

export class CiSimulator {
  private jobs: Map<string, CiSimulatorJob>;
  private readonly schedules = new Map<string, unknown>();
  /** Runs queued here and not taken yet, per job. */
  private readonly queued = new Map<string, number>();
  private readonly runs = new Set<Run>();
  private readonly taken = new Map<string, TakenNode>();
  private readonly buildNumbers = new Map<string, number>();
  private readonly events = new Subject<BuildEvent>();
  private readonly finishing = new Set<Promise<void>>();
  /** What is failing now (the queue, the database), each logged once until it answers again. */
  private readonly outages = new Set<string>();
  private readonly capped = new Set<string>();
  private dispatchTimer: unknown;
  private dispatching: Promise<void> | undefined;
  private dispatchAgain = false;
  private phase: 'new' | 'running' | 'stopped' = 'new';

  constructor(private readonly options: CiSimulatorOptions) {
    this.jobs = new Map(options.jobs.map((j) => [j.name, j]));
  }

  /** Every run's start and end, in order. */
  get builds(): Observable<BuildEvent> {
    return this.events;
  }

  /** The same as the job events nodepoold hears from Jenkins (src/events). */
  get jobEvents(): Observable<JobEvent> {
    return this.events.pipe(map(toJobEvent));
  }

  /** The runs under way. */
  running(): { job: string; number: number; nodeId: number; nodeName: string }[] {
    return [...this.runs].map((r) => ({ job: r.job.name, number: r.build.number, nodeId: r.node.id, nodeName: r.node.nodename }));
  }

  /** Makes the missing job rows, queues a first run of every job, and looks for nodes from then on. */
  async start(): Promise<void> {
    if (this.phase !== 'new') return;
    this.phase = 'running';
    const jobs = [...this.jobs.values()];
    await this.ensureJobRows(jobs);
    for (const job of jobs) this.schedule(job, true);
    this.keepDispatching();
    this.options.log.info({ jobs: jobs.map((j) => j.name) }, `CI simulator started with ${jobs.length} job(s): ${describeJobs(jobs)}`);
  }

  /**
   * The jobs of a new configuration: a new job queues its first run at once,
   * a removed one queues no more (its waiting runs are dropped where the
   * queue can), a changed period or label restarts the job's period; runs
   * under way go on as they started.
   */
  reconfigure(jobs: readonly CiSimulatorJob[]): void {
    const next = new Map(jobs.map((j) => [j.name, j]));
    const added: CiSimulatorJob[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const name of this.jobs.keys()) {
      if (next.has(name)) continue;
      removed.push(name);
      this.unschedule(name);
      this.options.queue.forget?.(name);
      this.queued.delete(name);
    }
    const newPeriods: CiSimulatorJob[] = [];
    for (const [name, job] of next) {
      const before = this.jobs.get(name);
      if (!before) added.push(job);
      else if (JSON.stringify(before) !== JSON.stringify(job)) changed.push(name);
      if (before && (before.everyS !== job.everyS || before.label !== job.label)) newPeriods.push(job);
    }
    this.jobs = next;
    if (this.phase === 'running') for (const job of newPeriods) this.schedule(job, false);
    if (added.length + removed.length + changed.length === 0) return;
    this.options.log.info({ added: added.map((j) => j.name), removed, changed }, `CI simulator jobs: ${describeJobs([...next.values()]) || 'none'}`);
    if (this.phase !== 'running') return;
    void this.ensureJobRows(added).then(() => {
      for (const job of added) if (this.jobs.get(job.name) === job && this.phase === 'running') this.schedule(job, true);
    });
  }

  /**
   * Queues nothing more and takes no more nodes; the runs under way end as
   * ABORTED (as Jenkins aborts the builds it is running when it stops), and
   * the stop waits a moment for nodepoold to end their nodes, so none is
   * left `used` with nobody to finish it.
   */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    for (const name of [...this.schedules.keys()]) this.unschedule(name);
    if (this.dispatchTimer !== undefined) this.options.clock.clearTimeout(this.dispatchTimer);
    await this.dispatching;
    const aborted = [...this.runs];
    for (const run of aborted) this.end(run, 'ABORTED');
    await Promise.all([...this.finishing]);
    if (aborted.length > 0) await this.waitForNodesToLeaveUse(aborted.map((r) => r.node.id));
    await this.options.queue.close();
    this.events.complete();
    this.options.log.info({ aborted: aborted.length }, `CI simulator stopped${aborted.length > 0 ? `; ${aborted.length} run(s) aborted` : ''}`);
  }

  /** Queues a run now (when asked) and then every `every` seconds, for as long as the job is configured. */
  private schedule(job: CiSimulatorJob, now: boolean): void {
    this.unschedule(job.name);
    const { clock } = this.options;
    const next = () => {
      const current = this.jobs.get(job.name);
      if (!current || this.phase !== 'running') return;
      this.schedules.set(job.name, clock.setTimeout(() => {
        void this.enqueue(current);
        next();
      }, current.everyS * 1000));
    };
    if (now) void this.enqueue(job);
    next();
  }

  private unschedule(name: string): void {
    const handle = this.schedules.get(name);
    if (handle !== undefined) this.options.clock.clearTimeout(handle);
    this.schedules.delete(name);
  }

  private async enqueue(job: CiSimulatorJob): Promise<void> {
    const { log } = this.options;
    const queued = this.queued.get(job.name) ?? 0;
    if (queued >= MAX_QUEUED_RUNS_PER_JOB) {
      if (!this.capped.has(job.name)) log.warn({ job: job.name, label: job.label }, `${queued} runs of ${job.name} wait for a ${job.label} node: no more are queued until one starts`);
      this.capped.add(job.name);
      return;
    }
    this.capped.delete(job.name);
    this.queued.set(job.name, queued + 1);
    try {
      await this.options.queue.enqueue(job);
      this.answered('queue', 'the queue answers again');
    } catch (err) {
      this.queued.set(job.name, Math.max(0, (this.queued.get(job.name) ?? 1) - 1));
      this.failing('queue', err, `cannot queue a run of ${job.name}: ${(err as Error).message}; runs are skipped until the queue answers`);
      return;
    }
    log.debug({ job: job.name, label: job.label }, `queued a run of ${job.name}`);
    this.dispatchSoon();
  }

  private keepDispatching(): void {
    this.dispatchTimer = this.options.clock.setTimeout(() => {
      this.dispatchSoon();
      if (this.phase === 'running') this.keepDispatching();
    }, this.options.dispatchIntervalMs ?? DISPATCH_INTERVAL_MS);
  }

  /** One pass over the labels at a time; a pass asked for during one follows it. */
  private dispatchSoon(): void {
    if (this.phase !== 'running') return;
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = this.dispatchAll().finally(() => {
      this.dispatching = undefined;
      if (!this.dispatchAgain) return;
      this.dispatchAgain = false;
      this.dispatchSoon();
    });
  }

  private async dispatchAll(): Promise<void> {
    for (const [label, jobs] of this.jobsByLabel()) {
      if (!this.mayStart()) return;
      if (this.options.queue.hasQueued?.(jobs) === false) continue;
      await this.dispatchLabel(label, jobs);
    }
  }

  /** Each free ready node of the label takes a waiting run, oldest node first, while runs wait. */
  private async dispatchLabel(label: string, jobs: CiSimulatorJob[]): Promise<void> {
    let ready: SimulatedNode[];
    try {
      ready = await this.options.nodes.readyNodes(label);
      this.answered('nodes', 'the database answers again');
    } catch (err) {
      this.failing('nodes', err, `cannot read the ready nodes: ${(err as Error).message}; runs wait until the database answers`);
      return;
    }
    this.forgetNodesGone(label, ready);
    for (const node of ready) {
      if (this.taken.has(keyOf(node))) continue;
      if (!this.mayStart()) return;
      let run: TakenRun | undefined;
      try {
        run = await this.options.queue.take(jobs);
        this.answered('queue', 'the queue answers again');
      } catch (err) {
        this.failing('queue', err, `cannot take a run off the queue: ${(err as Error).message}; runs wait until the queue answers`);
        return;
      }
      if (!run) return;
      // Stopped meanwhile: the run is not answered, so a shared queue gives it to another worker.
      if (this.phase !== 'running') return;
      this.startRun(run, node);
    }
  }

  private startRun(queued: TakenRun, node: SimulatedNode): void {
    const job = this.jobs.get(queued.job.name) ?? queued.job;
    this.queued.set(job.name, Math.max(0, (this.queued.get(job.name) ?? 0) - 1));
    const number = (this.buildNumbers.get(job.name) ?? 0) + 1;
    this.buildNumbers.set(job.name, number);
    const mark: TakenNode = { label: node.label, running: true };
    this.taken.set(keyOf(node), mark);
    const run: Run = {
      job, node, queued, mark,
      build: { job: job.name, number, nodeName: node.nodename },
      timer: undefined, timeUp: false, workDone: false, workError: undefined, ended: false,
    };
    this.runs.add(run);
    this.events.next({ phase: 'started', build: run.build });
    // How long the run waited for a node: what a CI user feels of the pool.
    const waitedMs = queued.queuedAt === undefined ? undefined : Math.max(0, this.options.clock.now() - queued.queuedAt);
    this.options.log.info(
      { job: job.name, build: number, node: node.id, nodeName: node.nodename, ...(waitedMs !== undefined && { waitedMs }) },
      `run ${number} of ${job.name} started on node ${node.id} (${node.nodename})${waitedMs !== undefined ? ` after waiting ${(waitedMs / 1000).toFixed(1)} s` : ''}`,
    );
    const work = this.options.work?.(node);
    if (work) {
      work.then(
        () => this.workEnded(run, undefined),
        (err: unknown) => this.workEnded(run, err ?? new Error('the work on the node failed')),
      );
    } else {
      run.workDone = true;
    }
    run.timer = this.options.clock.setTimeout(() => {
      run.timeUp = true;
      this.endWhenDone(run);
    }, job.durationS * 1000);
  }

  private workEnded(run: Run, err: unknown): void {
    run.workDone = true;
    run.workError = err;
    if (err !== undefined && !run.ended) {
      this.options.log.warn({ err, job: run.job.name, build: run.build.number, node: run.node.id }, `run ${run.build.number} of ${run.job.name} could not reach node ${run.node.id}: ${(err as Error).message}`);
    }
    this.endWhenDone(run);
  }

  private endWhenDone(run: Run): void {
    if (!run.timeUp || !run.workDone) return;
    const failureRate = this.jobs.get(run.job.name)?.failureRate ?? run.job.failureRate;
    const random = this.options.random ?? Math.random;
    this.end(run, run.workError !== undefined || random() < failureRate ? 'FAILURE' : 'SUCCESS');
  }

  private end(run: Run, result: RunResult): void {
    if (run.ended) return;
    run.ended = true;
    if (run.timer !== undefined) this.options.clock.clearTimeout(run.timer);
    this.runs.delete(run);
    run.mark.running = false;
    this.events.next({ phase: 'finalized', build: run.build, status: result });
    const { job, build, node } = run;
    this.options.log.info({ job: job.name, build: build.number, node: node.id, nodeName: node.nodename, result }, `run ${build.number} of ${job.name} on node ${node.id} ended: ${result}`);
    const finished = run.queued.finish(result).catch((err: unknown) => {
      this.options.log.warn({ err, job: job.name, build: build.number }, `the queue did not take the end of run ${build.number} of ${job.name}: ${(err as Error).message}`);
    });
    this.finishing.add(finished);
    void finished.then(() => this.finishing.delete(finished));
  }

  /** A node this simulator took and whose run ended is forgotten once it is no longer ready. */
  private forgetNodesGone(label: string, ready: readonly SimulatedNode[]): void {
    const stillReady = new Set(ready.map(keyOf));
    for (const [key, mark] of this.taken) {
      if (mark.label === label && !mark.running && !stillReady.has(key)) this.taken.delete(key);
    }
  }

  private async waitForNodesToLeaveUse(ids: number[]): Promise<void> {
    const { clock, nodes, log } = this.options;
    const deadline = clock.now() + (this.options.stopWaitMs ?? STOP_WAIT_MS);
    for (;;) {
      const left = await nodes.stillUsed(ids).catch(() => ids);
      if (left.length === 0) return;
      if (clock.now() >= deadline) {
        log.warn({ nodes: left }, `node(s) ${left.join(', ')} of aborted runs are still used; nodepoold did not hear their end`);
        return;
      }
      await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), STOP_POLL_MS));
    }
  }

  private async ensureJobRows(jobs: readonly CiSimulatorJob[]): Promise<void> {
    const { jobRows, log } = this.options;
    if (!jobRows) return;
    for (const job of jobs) {
      try {
        if (await jobRows.getByName(job.name)) continue;
        await jobRows.create(job.name, job.holdOnFailure);
        log.info({ job: job.name, holdOnFailure: job.holdOnFailure }, `created job ${job.name} with hold-on-failure ${job.holdOnFailure}`);
      } catch (err) {
        if (err instanceof DuplicateJob) continue;
        log.warn({ err, job: job.name }, `cannot create the row of job ${job.name}: ${(err as Error).message}`);
      }
    }
  }

  private jobsByLabel(): Map<string, CiSimulatorJob[]> {
    const byLabel = new Map<string, CiSimulatorJob[]>();
    for (const job of this.jobs.values()) byLabel.set(job.label, [...(byLabel.get(job.label) ?? []), job]);
    return byLabel;
  }

  private mayStart(): boolean {
    return this.phase === 'running' && (this.options.mayStart?.() ?? true);
  }

  private failing(what: string, err: unknown, message: string): void {
    if (this.outages.has(what)) {
      this.options.log.debug({ err }, message);
      return;
    }
    this.outages.add(what);
    this.options.log.warn({ err }, message);
  }

  private answered(what: string, message: string): void {
    if (this.outages.delete(what)) this.options.log.info(message);
  }
}

function toJobEvent(event: BuildEvent): JobEvent {
  return {
    kind: event.phase,
    job: event.build.job,
    nodeName: event.build.nodeName,
    ...(event.status !== undefined && { status: event.status }),
    parameters: {},
  };
}

/** `gate (debian-small, every 10 s, 15 s), ...` for the log. */
function describeJobs(jobs: readonly CiSimulatorJob[]): string {
  return jobs.map((j) => `${j.name} (${j.label}, every ${j.everyS} s, ${j.durationS} s${j.failureRate > 0 ? `, fails ${Math.round(j.failureRate * 100)}%` : ''})`).join(', ');
}
