/**
 * Job events to the nodes they name (docs/ci-loop.md): a started job makes
 * its node `used`; a finished one deletes it, or holds it for a person when
 * the job failed and its `hold-on-failure` count is not reached yet; a
 * finished test job makes a `test` node ready or deletes it. The events
 * reach the node actors as the commands do, through the pool, so what an
 * event changed is in the node's snapshot and survives a restart.
 */
import type { NodepoolConfig } from '../config/types.js';
import { autoHoldComment } from '../core/auto-hold.js';
import type { Database, NodeRecord } from '../db/index.js';
import type { JobEvent } from '../events/index.js';
import type { Logger } from '../log/index.js';
import type { JobSucceeded } from '../metrics/index.js';
import type { NodeEvent } from '../../machines/node.machine.js';


/** A hold decided here stays counted this long at most while its row does not say so yet. */
const PENDING_HOLD_MS = 5 * 60_000;
/**
 * The same event seen again within this time is dropped: with several
 * nodepoold (docs/scaling.md) the owner of a node's provider hears an event
 * from the publisher and once more from each daemon that forwards it.
 */
const REPEAT_WINDOW_MS = 10 * 60_000;

export interface JobEventRouterDeps {
  db: Database;
  config: () => NodepoolConfig;
  log: Logger;
  now: () => number;
  /** Sends an event to a node's actor through its provider. */
  toNode: (node: Pick<NodeRecord, 'id' | 'provider'>, event: NodeEvent) => void;
  /** A job that succeeded on a node in use: 0.4's job runtime metrics. */
  jobSucceeded?: (job: JobSucceeded) => void;
  /** Whether this process drives the provider; default all. */
  drives?: (provider: string) => boolean;
  /** Passes an event for a node of a provider another nodepoold drives to that daemon (the change log). */
  forward?: (node: Pick<NodeRecord, 'id' | 'provider'>, event: JobEvent) => Promise<void>;
}

export class JobEventRouter {
  /** Holds decided but perhaps not yet written, per job: two failures finishing together must not both take the last place. */
  private readonly pendingHolds = new Map<string, Map<number, number>>();
  /** Events handled lately, by what they say, with when. */
  private readonly handled = new Map<string, number>();

  constructor(private readonly deps: JobEventRouterDeps) {}

  /** Handles one event; events are handled one at a time, in the order they came. */
  async handle(event: JobEvent): Promise<void> {
    const node = await this.nodeNamed(event.nodeName);
    if (!node) {
      this.deps.log.debug({ job: event.job, nodeName: event.nodeName }, `job event for ${event.nodeName}, which is not a node of this pool: ignored`);
      return;
    }
    if (this.deps.drives?.(node.provider) === false) {
      if (this.deps.forward) await this.deps.forward(node, event);
      return;
    }
    if (this.seenLately(event)) return;
    const testJob = this.deps.config().targets.find((t) => t.name === node.target)?.jenkins?.testJob;
    if (event.kind === 'started') {
      // The target's acceptance test runs on a node that is not in use yet.
      if (event.job === testJob) return;
      this.deps.log.info({ node: node.id, job: event.job }, `node ${node.id} is used by job ${event.job}`);
      this.deps.toNode(node, { type: 'job.started', job: event.job });
      return;
    }
    const result = event.status ?? 'UNKNOWN';
    if (event.job === testJob && node.state === 'test') {
      this.deps.toNode(node, { type: 'test.finished', success: result === 'SUCCESS' });
      return;
    }
    if (node.state === 'hold') return;
    if (result === 'SUCCESS' && node.state === 'used') {
      const branch = event.parameters.ZUUL_BRANCH;
      this.deps.jobSucceeded?.({ job: event.job, ...(branch && { branch }), label: node.label, provider: node.provider, ms: this.deps.now() - node.stateTime });
    }
    const hold = result !== 'SUCCESS' && (await this.holdsLeft(event.job)) > 0;
    if (hold) {
      this.noteHold(event.job, node.id);
      this.deps.log.info({ node: node.id, job: event.job, result }, `node ${node.id} is held after job ${event.job} failed (${result})`);
    } else {
      this.deps.log.info({ node: node.id, job: event.job, result }, `node ${node.id} is deleted after job ${event.job} (${result})`);
    }
    this.deps.toNode(node, { type: 'job.finished', job: event.job, result, ...(hold && { autoHoldComment: autoHoldComment(event.job) }) });
  }

  private seenLately(event: JobEvent): boolean {
    const now = this.deps.now();
    for (const [key, at] of this.handled) {
      if (now - at <= REPEAT_WINDOW_MS) break;
      this.handled.delete(key);
    }
    const key = JSON.stringify([event.kind, event.job, event.nodeName, event.status ?? null]);
    if (this.handled.has(key)) return true;
    this.handled.set(key, now);
    return false;
  }

  /** The node, or the node of the sub-node, that a job event names. */
  private async nodeNamed(nodeName: string): Promise<NodeRecord | undefined> {
    const { db } = this.deps;
    const node = await db.nodes.findByNodename(nodeName);
    if (node) return node;
    const subnode = await db.subnodes.findByNodename(nodeName);
    return subnode ? db.nodes.get(subnode.nodeId) : undefined;
  }

  /** How many more of the job's failed nodes may be held: its hold-on-failure count less those held already. */
  private async holdsLeft(job: string): Promise<number> {
    const record = await this.deps.db.jobs.getByName(job);
    if (!record || record.holdOnFailure <= 0) return 0;
    const comment = autoHoldComment(job);
    const held = new Set((await this.deps.db.nodes.list({ state: 'hold' })).filter((n) => n.comment === comment).map((n) => n.id));
    const pending = this.pendingHolds.get(job) ?? new Map<number, number>();
    const now = this.deps.now();
    for (const [nodeId, decidedAt] of pending) {
      // Once the row says so, or after a while (the node went), the row's count is the truth.
      if (held.has(nodeId) || now - decidedAt > PENDING_HOLD_MS) pending.delete(nodeId);
      else held.add(nodeId);
    }
    return record.holdOnFailure - held.size;
  }

  private noteHold(job: string, nodeId: number): void {
    const pending = this.pendingHolds.get(job) ?? new Map<number, number>();
    pending.set(nodeId, this.deps.now());
    this.pendingHolds.set(job, pending);
  }
}
