/**
 * One provider (behaviour.md section 7, design.md "Providers"): spawns and
 * supervises the node actors launched there, and lists the provider's servers
 * in ONE call per interval, handing each node the entry of its own server.
 * Nodes never poll their server one by one.
 *
 * Time comes in as `tick` events carrying `now` (from an RxJS interval in
 * src/), so this machine needs no clock and a test drives it by hand. The
 * driver calls themselves (rate-spaced) are supplied by src as named actors.
 */
import { assign, enqueueActions, fromPromise, setup, stopChild, type AnyActorRef } from 'xstate';
import { nodeMachine, type ListedServer, type NodeEvent, type NodeInput } from './node.machine.js';

/** A server of the provider's list, with the node id its `nodepool` metadata names (if any). */
export interface ProviderServer extends ListedServer {
  nodeId?: number;
}

export interface ProviderInput {
  provider: string;
  listIntervalMs: number;
}

export interface ProviderContext extends ProviderInput {
  servers: ProviderServer[];
  /** When the last list call started (ms epoch); the next one is due an interval later. */
  listStartedAt?: number;
  /** When the last successful list was taken. */
  listedAt?: number;
  /** Consecutive failed list calls, for logs and back-off. */
  listFailures: number;
  /** No new nodes: the provider left the configuration and lets its nodes finish. */
  draining: boolean;
}

export type ProviderEvent =
  | { type: 'tick'; now: number }
  | { type: 'launch'; nodeId: number; input: NodeInput }
  | { type: 'node.command'; nodeId: number; event: NodeEvent }
  | { type: 'configure'; listIntervalMs: number }
  | { type: 'drain' }
  | { type: 'undrain' };

export function nodeActorId(nodeId: number): string {
  return `node-${nodeId}`;
}

function nodeIdOf(actorId: string): number | undefined {
  const match = /^node-(\d+)$/.exec(actorId);
  return match ? Number(match[1]) : undefined;
}

/** The server a node should hear about: by the id it recorded, else by its metadata. */
export function serverForNode(servers: readonly ProviderServer[], nodeId: number, serverId: string | undefined): ProviderServer | null {
  if (serverId !== undefined) return servers.find((s) => s.id === serverId) ?? null;
  return servers.find((s) => s.nodeId === nodeId) ?? null;
}

export const providerMachine = setup({
  types: {
    context: {} as ProviderContext,
    events: {} as ProviderEvent,
    input: {} as ProviderInput,
  },
  actors: {
    node: nodeMachine,
    /** One list of all the provider's servers; `now` is when it was taken. */
    listServers: fromPromise<{ servers: ProviderServer[]; now: number }, { provider: string }>(async () => {
      throw new Error('listServers is not provided');
    }),
  },
  actions: {
    /** Told to src, which logs it (with the error) and counts it. */
    reportListFailure: (_, _params: { error: unknown; failures: number }) => {},
  },
  guards: {
    listDue: ({ context, event }) =>
      event.type === 'tick' &&
      (context.listStartedAt === undefined || event.now - context.listStartedAt >= context.listIntervalMs),
  },
}).createMachine({
  id: 'provider',
  context: ({ input }) => ({ ...input, servers: [], listFailures: 0, draining: false }),
  type: 'parallel',
  on: {
    launch: {
      guard: ({ context }) => !context.draining,
      actions: enqueueActions(({ enqueue, event, self }) => {
        const id = nodeActorId(event.nodeId);
        // A launch of a node that already has an actor (a repeated event) is a no-op.
        if (self.getSnapshot().children[id]) return;
        enqueue.spawnChild('node', { id, systemId: id, input: event.input });
      }),
    },
    'node.command': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const child = self.getSnapshot().children[nodeActorId(event.nodeId)] as AnyActorRef | undefined;
        if (child) enqueue.sendTo(child, event.event);
      }),
    },
    configure: { actions: assign({ listIntervalMs: ({ event }) => event.listIntervalMs }) },
    drain: { actions: assign({ draining: true }) },
    undrain: { actions: assign({ draining: false }) },
    // A node that reached `removed` has nothing left to do: stop it so it leaves `children`.
    'xstate.done.actor.*': {
      actions: enqueueActions(({ enqueue, event }) => {
        const actorId = (event as unknown as { actorId: string }).actorId;
        if (nodeIdOf(actorId) !== undefined) enqueue(stopChild(actorId));
      }),
    },
  },
  states: {
    /** Passes the time on to every node, so each checks its own deadlines. */
    nodes: {
      on: {
        tick: {
          actions: enqueueActions(({ enqueue, self, event }) => {
            for (const child of Object.values(self.getSnapshot().children) as AnyActorRef[]) {
              if (nodeIdOf(child.id) !== undefined) enqueue.sendTo(child, { type: 'tick', now: event.now });
            }
          }),
        },
      },
    },
    listing: {
      initial: 'idle',
      states: {
        idle: {
          on: {
            tick: {
              guard: 'listDue',
              target: 'listing',
              actions: assign({ listStartedAt: ({ event }) => event.now }),
            },
          },
        },
        listing: {
          invoke: {
            src: 'listServers',
            input: ({ context }) => ({ provider: context.provider }),
            onDone: {
              target: 'idle',
              actions: [
                assign({
                  servers: ({ event }) => event.output.servers,
                  listedAt: ({ event }) => event.output.now,
                  listFailures: 0,
                }),
                enqueueActions(({ enqueue, event, self }) => {
                  const { servers, now } = event.output;
                  for (const child of Object.values(self.getSnapshot().children) as AnyActorRef[]) {
                    const nodeId = nodeIdOf(child.id);
                    if (nodeId === undefined) continue;
                    const serverId = (child.getSnapshot() as { context?: { serverId?: string } }).context?.serverId;
                    enqueue.sendTo(child, { type: 'server.listed', now, server: serverForNode(servers, nodeId, serverId) });
                  }
                }),
              ],
            },
            onError: {
              target: 'idle',
              actions: [
                assign({ listFailures: ({ context }) => context.listFailures + 1 }),
                {
                  type: 'reportListFailure',
                  params: ({ context, event }) => ({ error: event.error, failures: context.listFailures }),
                },
              ],
            },
          },
        },
      },
    },
  },
});

/** The node ids a provider actor supervises now. */
export function supervisedNodeIds(children: Record<string, unknown>): number[] {
  return Object.keys(children)
    .map(nodeIdOf)
    .filter((id): id is number => id !== undefined)
    .sort((a, b) => a - b);
}
