/**
 * nodepoold's node events as the metrics count them (docs/metrics.md): a
 * launch ends when a node leaves `building` (ready, or failed with its
 * reason), a deletion ends when the node is removed, and any change of state
 * moves the node gauges. Read from the host's once-per-change state stream.
 */
import type { StateChange } from '../actors/host.js';
import type { NodepoolConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { PoolMetrics } from '../metrics/index.js';
import type { NodeContext } from '../../machines/node.machine.js';

type NodeMetricsSink = Pick<PoolMetrics, 'launchEnded' | 'nodeDeleted' | 'nodesChanged'>;

/** States a node reaches when its launch went well (a target's test job, then ready; or held at once). */
const LAUNCHED = new Set(['test', 'ready', 'used', 'hold']);

export class NodeMetricsReporter {
  /** When each node entered the delete state, for the deletion's duration. */
  private readonly deleteStartedAt = new Map<string, number>();

  constructor(
    private readonly metrics: NodeMetricsSink,
    private readonly config: () => NodepoolConfig,
    private readonly clock: Clock,
  ) {}

  stateChanged({ actorId, state, previous, snapshot }: StateChange): void {
    this.metrics.nodesChanged();
    const context = snapshot.context as NodeContext;
    // A sub-node is part of its node's launch and deletion.
    if (context.role === 'sub') return;
    const now = this.clock.now();
    if (state === 'delete') this.deleteStartedAt.set(actorId, now);
    const node = this.describe(context);
    if (!node) {
      if (state === 'removed') this.deleteStartedAt.delete(actorId);
      return;
    }
    if (previous === 'building' && LAUNCHED.has(state)) {
      this.metrics.launchEnded({ ...node, result: 'ready', ms: now - context.requestedAt });
    } else if (previous === 'building' && state === 'delete' && context.failure) {
      this.metrics.launchEnded({ ...node, result: context.failure.reason, ms: now - context.requestedAt });
    } else if (state === 'removed') {
      const started = this.deleteStartedAt.get(actorId);
      this.deleteStartedAt.delete(actorId);
      this.metrics.nodeDeleted({ ...node, ...(started !== undefined && { ms: now - started }) });
    }
  }

  /** The node's provider, label, image, target, zone and manager; undefined for a node saved before they were recorded. */
  private describe(context: NodeContext) {
    const { provider, label, target } = context;
    if (provider === undefined || label === undefined || target === undefined) return undefined;
    const image = this.config().labels.find((l) => l.name === label)?.image ?? label;
    return {
      provider, label, target, image,
      ...(context.az !== undefined && { az: context.az }),
      ...(context.manager !== undefined && { manager: context.manager }),
    };
  }
}
