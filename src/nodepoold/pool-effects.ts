/**
 * The pool, provider and node machines with their effects bound: the node
 * effects (src/nodepoold/node-effects.ts), a provider's one list of its
 * servers through its gateway, and the allocation. nodepoold runs the pool;
 * `nodepool delete --now` runs a provider alone.
 */
import { fromPromise } from 'xstate';
import { nodeIdFromMetadata, subnodeIdFromMetadata } from '../core/server-metadata.js';
import { isDatabaseUnreachable } from '../db/index.js';
import type { Server } from '../drivers/driver.js';
import type { ProviderGateway } from '../gateway/index.js';
import type { ActorHost } from '../actors/host.js';
import type { Logger, Logging } from '../log/index.js';
import type { NodeContext } from '../../machines/node.machine.js';
import { poolMachine, type Launch } from '../../machines/pool.machine.js';
import { nodeGroupMachine } from '../../machines/node-group.machine.js';
import { providerMachine } from '../../machines/provider.machine.js';
import type { ProviderServer } from '../../machines/server-list.js';
import { resumable } from '../actors/resumable.js';
import { nodeMachineWithEffects, type NodeEffectDeps } from './node-effects.js';

/** The effects' dependencies as a host provides them; the caller adds how deletes are allowed and leased. */
export function hostEffectDeps(host: ActorHost, log: Logger): Omit<NodeEffectDeps, 'deletesAllowed' | 'deleteLease'> & { logging: Logging } {
  return {
    db: host.db,
    config: () => host.config,
    gateway: (name) => host.gateways.get(name),
    clock: host.clock,
    log,
    logging: host.logging,
  };
}

export interface PoolEffectDeps extends NodeEffectDeps {
  logging: Logging;
  /** Runs the allocation and creates the rows of the nodes to launch. */
  allocate: () => Promise<Launch[]>;
}

/** A server of the list as the provider actor hands it out: with the node its metadata names. */
export function providerServerOf(gateway: ProviderGateway, server: Server): ProviderServer {
  return {
    id: server.id,
    status: server.status,
    publicV4: server.addresses.publicV4,
    publicV6: server.addresses.publicV6,
    privateV4: server.addresses.privateV4,
    fault: server.fault,
    nodeId: nodeIdFromMetadata(server.metadata, gateway.name),
    subnodeId: subnodeIdFromMetadata(server.metadata, gateway.name),
  };
}

/** A launch step of a process that only deletes: it never ends, and the deletion takes the node away from it. */
const neverHere = fromPromise<never, unknown>(() => new Promise<never>(() => {}));

/**
 * The provider machine with its effects; `launches: false` (`delete --now`)
 * leaves out every launch step, so a node resumed mid-launch creates nothing.
 */
export function providerMachineWithEffects(deps: NodeEffectDeps & { logging: Logging }, options: { launches?: boolean } = {}) {
  const withEffects = nodeMachineWithEffects(deps).provide({
    actions: {
      // Operators alert on ERROR lines: a failed launch is one, as in Nodepool 0.4.
      reportLaunchFailure: ({ context }, params) =>
        deps.log.error({ node: (context as NodeContext).nodeId, reason: params.failure.reason }, `launch failed: ${params.failure.message}`),
      reportDeleteFailure: ({ context }, failure) => {
        const { nodeId, serverId, role, provider } = context as NodeContext;
        const what = role === 'sub' ? 'sub-node' : 'node';
        const fields = { node: nodeId, server: serverId, provider, attempts: failure.attempts, error: failure.error };
        const message = `deleting server ${serverId ?? '(unknown)'} of ${what} ${nodeId} failed (attempt ${failure.attempts}): ${failure.error}; trying again in ${failure.retryInMs / 1000} s`;
        if (failure.persistent) deps.log.error(fields, message);
        else deps.log.warn(fields, message);
      },
      // A target that does not take the node keeps it out of ready; the operator hears of each failure.
      reportRegisterFailure: ({ context }, failure) => {
        const { nodeId } = context as NodeContext;
        deps.log.warn(
          { node: nodeId, attempts: failure.attempts, error: failure.error },
          `registering node ${nodeId} with its target failed (attempt ${failure.attempts}): ${failure.error}; trying again in ${failure.retryInMs / 1000} s`,
        );
      },
      reportUnregisterFailure: ({ context }, failure) => {
        const { nodeId } = context as NodeContext;
        const fields = { node: nodeId, attempts: failure.attempts, error: failure.error };
        const message = `removing node ${nodeId} from its target failed (attempt ${failure.attempts}): ${failure.error}; its server waits; trying again in ${failure.retryInMs / 1000} s`;
        if (failure.persistent) deps.log.error(fields, message);
        else deps.log.warn(fields, message);
      },
    },
  });
  const node = resumable(
    options.launches === false
      ? withEffects.provide({ actors: { createServer: neverHere as never, checkSsh: neverHere as never, prepareNode: neverHere as never } })
      : withEffects,
  );
  return providerMachine.provide({
    actors: {
      nodeGroup: nodeGroupMachine.provide({ actors: { node } }),
      listServers: fromPromise(async ({ input }) => {
        const gateway = deps.gateway(input.provider);
        if (!gateway) throw new Error(`provider ${input.provider} has no gateway`);
        const servers = await gateway.listServers();
        return { servers: servers.map((s) => providerServerOf(gateway, s)), now: deps.clock.now() };
      }),
    },
    actions: {
      reportListFailure: ({ context }, params) =>
        deps.logging.get(`nodepool.provider.${context.provider}`).warn({ provider: context.provider, err: params.error, failures: params.failures }, 'listing servers failed'),
    },
  });
}

export function poolMachineWithEffects(deps: PoolEffectDeps) {
  // While the database does not answer, every allocation fails the same way: said once, and once when it works again.
  let waitingForDatabase = false;
  const allocate = async () => {
    const launches = await deps.allocate();
    if (waitingForDatabase) deps.log.info('allocation runs again');
    waitingForDatabase = false;
    return launches;
  };
  return poolMachine.provide({
    actors: { provider: providerMachineWithEffects(deps), allocate: fromPromise(allocate) },
    actions: {
      reportAllocationFailure: (_, params) => {
        const unreachable = isDatabaseUnreachable(params.error);
        if (unreachable && waitingForDatabase) return;
        waitingForDatabase = unreachable;
        deps.log.error({ err: params.error }, unreachable ? 'allocation failed: the database does not answer; it is tried again until it does' : 'allocation failed');
      },
    },
  });
}
