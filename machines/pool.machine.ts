/**
 * The root of nodepoold: one provider actor per configured provider, the
 * allocation run on every relevant change and at least every few seconds,
 * and the routing of commands (hold, delete, job events) to the node they
 * name. What to launch is decided by the `allocate` effect (src/ runs the
 * pure allocation over the database's counts and creates the node rows);
 * this machine only decides when, and hands each launch to its provider.
 */
import { assign, enqueueActions, fromPromise, setup, stopChild, type AnyActorRef } from 'xstate';
import { providerActorId, providerNameOf } from './actor-ids.js';
import type { NodeEvent, NodeInput } from './node.machine.js';
import { providerIsDrained, providerMachine, type ProviderContext } from './provider.machine.js';

export interface ProviderSettings {
  name: string;
  listIntervalMs: number;
}

export interface Launch {
  provider: string;
  nodeId: number;
  input: NodeInput;
}

/** A node that existed before this process started: resumed from its saved snapshot, or afresh from its row. */
export interface Adoption extends Launch {
  resumeFrom?: unknown;
}

/** How often a provider left over from an earlier configuration lists its servers while its nodes finish. */
const DRAINING_LIST_INTERVAL_MS = 1000;

export interface PoolInput {
  providers: ProviderSettings[];
  allocateIntervalMs: number;
}

export interface PoolContext {
  /** Providers in the configuration now (others may still drain). */
  providers: ProviderSettings[];
  allocateIntervalMs: number;
  allocationStartedAt?: number;
  /** Something changed since the last allocation: run it at the next tick. */
  allocationWanted: boolean;
  stopping: boolean;
}

export type PoolEvent =
  | { type: 'tick'; now: number }
  | { type: 'providers.changed'; providers: ProviderSettings[] }
  | { type: 'node.command'; provider: string; nodeId: number; event: NodeEvent }
  /**
   * Nodes that existed before this process started (docs/architecture.md,
   * "Restore"): each goes to its provider, which is started draining when
   * the provider is no longer configured, so its nodes can finish.
   */
  | { type: 'adopt'; adoptions: Adoption[] }
  /** A server no row owns (a leaked instance): its provider deletes it. */
  | { type: 'orphan.delete'; provider: string; serverId: string; nodeId: number; now: number; reason: string }
  /** Launches the allocation made before it ended (a large burst is handed out as its rows are written). */
  | { type: 'launches'; launches: Launch[] }
  /** A change that may change what to launch (a node left, config changed, demand moved). */
  | { type: 'allocation.wanted' }
  /**
   * Another nodepoold drives the provider from now on (docs/scaling.md): its
   * actor and its nodes' stop here, as they would with the process, and
   * resume there from their saved snapshots.
   */
  | { type: 'provider.release'; provider: string }
  | { type: 'stop' };

/** Launches grouped by their provider, each group without the provider's name. */
function byProvider<T extends Launch>(launches: readonly T[]): Map<string, Omit<T, 'provider'>[]> {
  const groups = new Map<string, Omit<T, 'provider'>[]>();
  for (const { provider, ...launch } of launches) {
    let group = groups.get(provider);
    if (!group) groups.set(provider, (group = []));
    group.push(launch);
  }
  return groups;
}

export const poolMachine = setup({
  types: {
    context: {} as PoolContext,
    events: {} as PoolEvent,
    input: {} as PoolInput,
  },
  actors: {
    provider: providerMachine,
    /** Runs the allocation and creates the rows of the nodes to launch. */
    allocate: fromPromise<Launch[], Record<string, never>>(async () => {
      throw new Error('allocate is not provided');
    }),
  },
  actions: {
    reportAllocationFailure: (_, _params: { error: unknown }) => {},
    /** Each launch goes to the provider actor it names. */
    dispatchLaunches: enqueueActions(({ enqueue, self }, params: { launches: Launch[] }) => {
      const children = self.getSnapshot().children as Record<string, AnyActorRef>;
      for (const [provider, launches] of byProvider(params.launches)) {
        const child = children[providerActorId(provider)];
        if (child) enqueue.sendTo(child, { type: 'launch.many', launches });
      }
    }),
  },
  guards: {
    allocationDue: ({ context, event }) =>
      event.type === 'tick' &&
      !context.stopping &&
      (context.allocationWanted ||
        context.allocationStartedAt === undefined ||
        event.now - context.allocationStartedAt >= context.allocateIntervalMs),
  },
}).createMachine({
  id: 'pool',
  context: ({ input }) => ({ ...input, allocationWanted: true, stopping: false }),
  type: 'parallel',
  entry: enqueueActions(({ enqueue, context }) => {
    for (const provider of context.providers) {
      const id = providerActorId(provider.name);
      enqueue.spawnChild('provider', { id, systemId: id, input: { provider: provider.name, listIntervalMs: provider.listIntervalMs } });
    }
  }),
  on: {
    'providers.changed': {
      actions: [
        enqueueActions(({ enqueue, event, self }) => {
          const children = self.getSnapshot().children as Record<string, AnyActorRef>;
          const wanted = new Set(event.providers.map((p) => providerActorId(p.name)));
          for (const provider of event.providers) {
            const id = providerActorId(provider.name);
            const child = children[id];
            if (!child) {
              enqueue.spawnChild('provider', { id, systemId: id, input: { provider: provider.name, listIntervalMs: provider.listIntervalMs } });
            } else {
              enqueue.sendTo(child, { type: 'undrain' });
              enqueue.sendTo(child, { type: 'configure', listIntervalMs: provider.listIntervalMs });
            }
          }
          // A provider that left the configuration lets its nodes finish (docs/behaviour.md, "Providers").
          for (const [id, child] of Object.entries(children)) {
            if (providerNameOf(id) !== undefined && !wanted.has(id)) enqueue.sendTo(child, { type: 'drain' });
          }
        }),
        assign({ providers: ({ event }) => event.providers, allocationWanted: true }),
      ],
    },
    'node.command': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const child = self.getSnapshot().children[providerActorId(event.provider)] as AnyActorRef | undefined;
        if (child) enqueue.sendTo(child, { type: 'node.command', nodeId: event.nodeId, event: event.event });
      }),
    },
    adopt: {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const children = self.getSnapshot().children as Record<string, AnyActorRef>;
        for (const [provider, adoptions] of byProvider(event.adoptions)) {
          const id = providerActorId(provider);
          if (!children[id]) {
            // Not configured (any more): it lists and deletes, but launches nothing new.
            enqueue.spawnChild('provider', { id, systemId: id, input: { provider, listIntervalMs: DRAINING_LIST_INTERVAL_MS } });
            enqueue.sendTo(id, { type: 'drain' });
          }
          enqueue.sendTo(id, { type: 'launch.many', launches: adoptions.map((a) => ({ ...a, adopted: true })) });
        }
      }),
    },
    'orphan.delete': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const child = self.getSnapshot().children[providerActorId(event.provider)] as AnyActorRef | undefined;
        const { provider: _provider, ...orphan } = event;
        if (child) enqueue.sendTo(child, orphan);
      }),
    },
    launches: { actions: { type: 'dispatchLaunches', params: ({ event }) => ({ launches: event.launches }) } },
    'allocation.wanted': { actions: assign({ allocationWanted: true }) },
    'provider.release': {
      actions: [
        enqueueActions(({ enqueue, event, self }) => {
          const id = providerActorId(event.provider);
          if (self.getSnapshot().children[id]) enqueue(stopChild(id));
        }),
        assign({ providers: ({ context, event }) => context.providers.filter((p) => p.name !== event.provider) }),
      ],
    },
    stop: { actions: assign({ stopping: true }) },
  },
  states: {
    /** Time for the providers, and the end of drained ones. */
    providers: {
      on: {
        tick: {
          actions: enqueueActions(({ enqueue, event, self, context }) => {
            const configured = new Set(context.providers.map((p) => providerActorId(p.name)));
            for (const [id, child] of Object.entries(self.getSnapshot().children) as [string, AnyActorRef][]) {
              if (providerNameOf(id) === undefined) continue;
              const snapshot = child.getSnapshot() as { context: ProviderContext; children: Record<string, unknown> };
              if (!configured.has(id) && providerIsDrained(snapshot)) {
                enqueue(stopChild(id));
              } else {
                enqueue.sendTo(child, { type: 'tick', now: event.now });
              }
            }
          }),
        },
      },
    },
    allocation: {
      initial: 'idle',
      states: {
        idle: {
          on: {
            tick: {
              guard: 'allocationDue',
              target: 'allocating',
              actions: assign({ allocationStartedAt: ({ event }) => event.now, allocationWanted: false }),
            },
          },
        },
        allocating: {
          invoke: {
            src: 'allocate',
            input: () => ({}),
            onDone: {
              target: 'idle',
              actions: { type: 'dispatchLaunches', params: ({ event }) => ({ launches: event.output }) },
            },
            onError: {
              target: 'idle',
              actions: { type: 'reportAllocationFailure', params: ({ event }) => ({ error: event.error }) },
            },
          },
        },
      },
    },
  },
});
