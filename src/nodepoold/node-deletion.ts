/**
 * `nodepool delete --now`'s work, in the command's own process: the node
 * and its sub-nodes run the node machine's deletion (docs/behaviour.md,
 * "Deleting") under a provider actor, resumed from their saved snapshots
 * (or afresh from their rows), exactly as nodepoold would delete them. The
 * actor host persists them as nodepoold does, so their rows and snapshots
 * go when their servers are gone, and a command that gives up leaves them
 * where nodepoold takes over.
 */
import type { AnyActorRef } from 'xstate';
import type { RootSpec, Workload, WorkloadStart, ActorHost } from '../actors/host.js';
import type { NodeRecord, SubnodeRecord } from '../db/index.js';
import type { TargetRegistry } from '../targets/index.js';
import { listIntervalMs } from '../gateway/index.js';
import type { Logger } from '../log/index.js';
import { isNodeActor, nodeActorId, providerActorId, subnodeActorId } from '../../machines/actor-ids.js';
import type { NodeContext } from '../../machines/node.machine.js';
import { hasNodeActors, nodeActorsOf } from '../../machines/provider.machine.js';
import type { DeleteLease } from './delete-lease.js';
import { nodeInputOf, subnodeInputOf } from './launcher.js';
import { NODE_KINDS } from './node-kinds.js';
import { hostEffectDeps, providerMachineWithEffects } from './pool-effects.js';
import { POOL_TICK_MS } from './tuning.js';

export interface NodeDeletionOptions {
  node: NodeRecord;
  subnodes: readonly SubnodeRecord[];
  deleteLease: DeleteLease;
  /** The targets, so that a registered node's agent is removed before its server. */
  targets?: TargetRegistry;
}

export class NodeDeletion implements Workload {
  readonly name = 'delete-now';
  readonly kinds = NODE_KINDS;
  private readonly log: Logger;
  private root_: AnyActorRef | undefined;
  private finished: Promise<void> | undefined;

  constructor(
    private readonly host: ActorHost,
    private readonly options: NodeDeletionOptions,
  ) {
    this.log = host.logging.get('nodepool.delete');
  }

  /** Resolves once the node and its sub-nodes are gone (their servers no longer listed, their rows removed). */
  get done(): Promise<void> {
    if (!this.finished) throw new Error('the deletion has not started');
    return this.finished;
  }

  /** What still holds the command up: each actor left and its last delete error. */
  remaining(): { actorId: string; serverId?: string; deleteError?: string }[] {
    const children = (this.root_?.getSnapshot() as { children: Record<string, AnyActorRef> } | undefined)?.children ?? {};
    return nodeActorsOf(children)
      .filter(([id]) => isNodeActor(id))
      .map(([actorId, ref]) => {
        const context = (ref.getSnapshot() as { context: NodeContext }).context;
        return { actorId, ...(context.serverId && { serverId: context.serverId }), ...(context.deleteError && { deleteError: context.deleteError }) };
      });
  }

  root(): RootSpec {
    const { host } = this;
    const provider = host.config.providers.find((p) => p.name === this.options.node.provider);
    if (!provider) throw new Error(`provider ${this.options.node.provider} is not configured`);
    const logic = providerMachineWithEffects(
      { ...hostEffectDeps(host, this.log), deletesAllowed: () => true, deleteLease: this.options.deleteLease, ...(this.options.targets && { targets: this.options.targets }) },
      { launches: false },
    );
    return { id: providerActorId(provider.name), logic, input: { provider: provider.name, listIntervalMs: listIntervalMs(provider) }, tickMs: POOL_TICK_MS };
  }

  async start({ root, saved }: WorkloadStart): Promise<void> {
    this.root_ = root;
    const { node, subnodes } = this.options;
    const config = this.host.config;
    this.finished = new Promise((resolve) => {
      const subscription = root.subscribe((snapshot) => {
        if (hasNodeActors((snapshot as { children: Record<string, unknown> }).children)) return;
        subscription.unsubscribe();
        resolve();
      });
    });
    for (const subnode of subnodes) {
      root.send({
        type: 'launch',
        nodeId: subnode.id,
        input: subnodeInputOf(subnode, node, config),
        adopted: true,
        resumeFrom: saved.get(subnodeActorId(subnode.id)),
      });
    }
    root.send({ type: 'launch', nodeId: node.id, input: nodeInputOf(node, config), adopted: true, resumeFrom: saved.get(nodeActorId(node.id)) });
    // Sub-nodes go first: the primary, being deleted, has its provider delete them before its own server.
    root.send({ type: 'node.command', nodeId: node.id, event: { type: 'delete', reason: 'deleted by delete --now' } });
  }
}
