/**
 * The simulator's own queue, for a pool without Gearman: runs wait here in
 * the order they were queued, and `demand` tells nodepoold in the same
 * process how much work each label has, as Gearman's status would: the runs
 * queued and the runs running (a running run sits on a `used` node, which
 * the allocation counts against the demand).
 */
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import type { CiSimulatorJob } from '../../config/types.js';
import type { RunQueue, TakenRun } from './run-queue.js';

export class LocalRunQueue implements RunQueue {
  private readonly waiting: CiSimulatorJob[] = [];
  /** When each waiting run was queued, in the same order. */
  private readonly queuedAt: number[] = [];
  /** Runs taken and not finished, per label. */
  private readonly running = new Map<string, number>();
  private readonly work = new BehaviorSubject<Record<string, number>>({});

  constructor(private readonly now: () => number = Date.now) {}

  /** Queued and running runs per label (labels with none left out), on every change. */
  get demand(): Observable<Record<string, number>> {
    return this.work.pipe(distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)));
  }

  enqueue(job: CiSimulatorJob): Promise<void> {
    this.waiting.push(job);
    this.queuedAt.push(this.now());
    this.changed();
    return Promise.resolve();
  }

  take(jobs: readonly CiSimulatorJob[]): Promise<TakenRun | undefined> {
    const names = new Set(jobs.map((j) => j.name));
    const at = this.waiting.findIndex((j) => names.has(j.name));
    if (at < 0) return Promise.resolve(undefined);
    const [job] = this.waiting.splice(at, 1) as [CiSimulatorJob];
    const [queuedAt] = this.queuedAt.splice(at, 1);
    this.count(job.label, +1);
    let finished = false;
    return Promise.resolve({
      job,
      ...(queuedAt !== undefined && { queuedAt }),
      finish: () => {
        if (!finished) this.count(job.label, -1);
        finished = true;
        return Promise.resolve();
      },
    });
  }

  hasQueued(jobs: readonly CiSimulatorJob[]): boolean {
    const names = new Set(jobs.map((j) => j.name));
    return this.waiting.some((j) => names.has(j.name));
  }

  forget(jobName: string): void {
    const before = this.waiting.length;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i]?.name !== jobName) continue;
      this.waiting.splice(i, 1);
      this.queuedAt.splice(i, 1);
    }
    if (this.waiting.length !== before) this.changed();
  }

  close(): Promise<void> {
    this.work.complete();
    return Promise.resolve();
  }

  private count(label: string, delta: number): void {
    this.running.set(label, Math.max(0, (this.running.get(label) ?? 0) + delta));
    this.changed();
  }

  private changed(): void {
    const demand: Record<string, number> = {};
    for (const job of this.waiting) demand[job.label] = (demand[job.label] ?? 0) + 1;
    for (const [label, count] of this.running) if (count > 0) demand[label] = (demand[label] ?? 0) + count;
    this.work.next(demand);
  }
}
