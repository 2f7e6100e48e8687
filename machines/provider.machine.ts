/**
 * One provider (docs/behaviour.md, "Providers"): spawns and supervises the
 * node actors launched there, and lists the provider's servers in ONE call
 * per interval, handing each node the entry of its own server. Nodes never
 * poll their server one by one.
 *
 * A server that no row owns (a leaked instance, found by the periodic
 * cleanup) is handed here too: an orphan actor runs the node machine's
 * deletion for it, so every server is deleted the same way.
 *
 * The node actors are not the provider's own children but its groups'
 * (machines/node-group.machine.ts), a few hundred to a group: the provider
 * routes each launch, command and list to the group concerned.
 *
 * Time comes in as `tick` events carrying `now` (from the actor host in
 * src/), so this machine needs no clock and a test drives it by hand. The
 * driver calls themselves (rate-spaced) are supplied by src as named actors.
 */
import { assign, enqueueActions, fromPromise, setup, stopChild, type AnyActorRef } from 'xstate';
import { isNodeGroupActor, nodeGroupActorId, parseActorId } from './actor-ids.js';
import { groupHasMembers, groupKeyOf, groupMembers, nodeGroupMachine, ORPHAN_GROUP, type NodeGroupContext, type NodeLaunch } from './node-group.machine.js';
import type { NodeEvent, NodeInput } from './node.machine.js';
import { indexServers, type ProviderServer } from './server-list.js';

export interface ProviderInput {
  provider: string;
  /** Between lists while some node is building or deleting (it waits for its server's status). */
  listIntervalMs: number;
  /** Between lists while every node is settled (a server that vanished is still noticed). Default 30 s. */
  idleListIntervalMs?: number;
}

export const IDLE_LIST_INTERVAL_MS = 30_000;

/**
 * How often the nodes hear the time (their deadlines are in seconds). The
 * provider itself hears it more often, so that its lists are not held to
 * whole seconds.
 */
export const NODE_TICK_MS = 1000;

export interface ProviderContext extends ProviderInput {
  /** When the last list call started (ms epoch); the next one is due an interval later. */
  listStartedAt?: number;
  /** When the last successful list was taken. */
  listedAt?: number;
  /** Consecutive failed list calls, for logs and back-off. */
  listFailures: number;
  /** No new nodes: the provider left the configuration and lets its nodes finish. */
  draining: boolean;
  /** Since when some node has waited for news of its server (unset while none does). */
  busySince?: number;
  /** A launch, a command or an orphan since the groups last counted may have set a node waiting. */
  newWaits: boolean;
  /** A launch, a command or an orphan since the last tick: the tick stamps `latestWaitAt`. */
  waitsToStamp?: boolean;
  /** When the latest launch, command or orphan arrived (as of the tick after it). */
  latestWaitAt?: number;
  /** When the nodes last heard the time. */
  nodesTickedAt?: number;
}

export type ProviderEvent =
  | { type: 'tick'; now: number }
  /** Raised on a tick when a list is due. */
  | { type: 'list.due'; now: number }
  /**
   * A node to run here. `adopted`: a node that existed before this process
   * started, resumed from its saved snapshot (`resumeFrom`) or, without
   * one, started afresh from its row.
   */
  | { type: 'launch'; nodeId: number; input: NodeInput; adopted?: boolean; resumeFrom?: unknown }
  /** Many launches at once: each group spawns its share in one step. */
  | { type: 'launch.many'; launches: NodeLaunch[] }
  | { type: 'node.command'; nodeId: number; event: NodeEvent }
  /** Delete a server whose metadata names node `nodeId`, which has no row (a leaked instance). */
  | { type: 'orphan.delete'; serverId: string; nodeId: number; now: number; reason: string }
  /** From a group: one of its node actors reached its end. */
  | { type: 'node.gone'; actorId: string }
  | { type: 'configure'; listIntervalMs: number }
  | { type: 'drain' }
  | { type: 'undrain' };

/** The provider's groups, by actor id. */
function groupsOf(children: Record<string, unknown>): [string, AnyActorRef][] {
  return Object.entries(children).filter(([id]) => isNodeGroupActor(id)) as [string, AnyActorRef][];
}

/** Whether some node of the provider waits for news of its server, as its groups last counted. */
function someNodeWaits(children: Record<string, unknown>): boolean {
  return groupsOf(children).some(([, group]) => (group.getSnapshot() as { context: NodeGroupContext }).context.waiting > 0);
}

/** Every node, sub-node and orphan actor of the provider, through its groups. */
export function nodeActorsOf(children: Record<string, unknown>): [string, AnyActorRef][] {
  return groupsOf(children).flatMap(([, group]) => groupMembers(group.getSnapshot() as { children: Record<string, unknown> }));
}

/** Something may have set a node waiting for its server. */
const NEW_WAITS = { newWaits: true, waitsToStamp: true };

/**
 * When the next list is due (docs/behaviour.md, "Providers"). While no node
 * waits for its server, an idle interval after the last one. While some
 * do, at most an interval after the last one, and sooner after new waits: a
 * list taken before a node waited tells it nothing, and a server often
 * boots in less than an interval, so the lists after the latest launch (or
 * command) come a quarter and a half interval after it, then a whole one.
 * A steady stream of launches still gets a list every interval. The first
 * list of all is due at once.
 */
export function listDueAt(
  context: Pick<ProviderContext, 'listStartedAt' | 'listIntervalMs' | 'idleListIntervalMs' | 'busySince' | 'latestWaitAt'>,
): number {
  const last = context.listStartedAt;
  if (last === undefined) return -Infinity;
  const start = context.busySince;
  if (start === undefined) return last + (context.idleListIntervalMs ?? IDLE_LIST_INTERVAL_MS);
  const interval = context.listIntervalMs;
  if (last < start) return start + interval / 4;
  const since = Math.max(start, context.latestWaitAt ?? start);
  if (last < since) return Math.min(last + interval, since + interval / 4);
  return last + Math.min(interval, Math.max(interval / 4, last - since));
}

export const providerMachine = setup({
  types: {
    context: {} as ProviderContext,
    events: {} as ProviderEvent,
    input: {} as ProviderInput,
  },
  actors: {
    nodeGroup: nodeGroupMachine,
    /** One list of all the provider's servers; `now` is when it was taken. */
    listServers: fromPromise<{ servers: ProviderServer[]; now: number }, { provider: string }>(async () => {
      throw new Error('listServers is not provided');
    }),
  },
  actions: {
    /** Told to src, which logs it (with the error) and counts it. */
    reportListFailure: (_, _params: { error: unknown; failures: number }) => {},
    /**
     * Each launch to its group, a group started for it when there is none.
     * A node adopted after a restart is taken even while draining (it only
     * finishes here); a new one is not.
     */
    launchNodes: enqueueActions(({ enqueue, context, self }, params: { launches: readonly NodeLaunch[] }) => {
      const children = self.getSnapshot().children as Record<string, unknown>;
      const byGroup = new Map<string, NodeLaunch[]>();
      for (const launch of params.launches) {
        if (context.draining && launch.adopted !== true) continue;
        const id = nodeGroupActorId(groupKeyOf(launch.input));
        let group = byGroup.get(id);
        if (!group) byGroup.set(id, (group = []));
        group.push(launch);
      }
      for (const [id, launches] of byGroup) {
        if (!children[id]) enqueue.spawnChild('nodeGroup', { id });
        enqueue.sendTo(id, { type: 'launch.many', launches });
      }
      if (byGroup.size > 0) enqueue.assign(NEW_WAITS);
    }),
  },
}).createMachine({
  id: 'provider',
  context: ({ input }) => ({ ...input, listFailures: 0, draining: false, newWaits: false }),
  type: 'parallel',
  on: {
    launch: { actions: { type: 'launchNodes', params: ({ event }) => ({ launches: [event] }) } },
    'launch.many': { actions: { type: 'launchNodes', params: ({ event }) => ({ launches: event.launches }) } },
    'node.command': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const id = nodeGroupActorId(groupKeyOf({ nodeId: event.nodeId, role: 'primary' }));
        if (!self.getSnapshot().children[id]) return;
        enqueue.sendTo(id, event);
        enqueue.assign(NEW_WAITS);
      }),
    },
    'orphan.delete': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const id = nodeGroupActorId(ORPHAN_GROUP);
        if (!self.getSnapshot().children[id]) enqueue.spawnChild('nodeGroup', { id });
        enqueue.sendTo(id, event);
        enqueue.assign(NEW_WAITS);
      }),
    },
    // Nothing to do but to be an event: whoever watches the provider (a
    // drained provider's pool, `delete --now`) looks at what is left now.
    'node.gone': {},
    configure: { actions: assign({ listIntervalMs: ({ event }) => event.listIntervalMs }) },
    drain: { actions: assign({ draining: true }) },
    undrain: { actions: assign({ draining: false }) },
  },
  states: {
    /**
     * Passes the time on to the groups once a second, which pass it to the
     * nodes something is due for; a group left empty is stopped (new node
     * ids go to new groups, so old ones empty for good). Nothing else is in
     * flight on a tick, so no launch can be on its way to a group being
     * stopped. On every tick: whether a list is due.
     */
    nodes: {
      on: {
        tick: {
          actions: enqueueActions(({ enqueue, self, event, context }) => {
            const { now } = event;
            const children = self.getSnapshot().children as Record<string, unknown>;
            const busy = context.newWaits || someNodeWaits(children);
            const busySince = busy ? (context.busySince ?? now) : undefined;
            const latestWaitAt = context.waitsToStamp ? now : context.latestWaitAt;
            if (busySince !== context.busySince || context.waitsToStamp) enqueue.assign({ busySince, latestWaitAt, waitsToStamp: false });
            if (now >= listDueAt({ ...context, busySince, latestWaitAt })) enqueue.raise({ type: 'list.due', now });
            if (context.nodesTickedAt === undefined || now - context.nodesTickedAt >= NODE_TICK_MS) {
              for (const [id, group] of groupsOf(children)) {
                if (!groupHasMembers(group.getSnapshot() as { children: Record<string, unknown> })) enqueue(stopChild(id));
                else enqueue.sendTo(group, { type: 'tick', now });
              }
              // The groups count their waiting nodes now: from the next tick on, their counts say it.
              enqueue.assign({ nodesTickedAt: now, newWaits: false });
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
            'list.due': {
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
                // The list itself is not kept: indexed once, each node takes its own server's entry from it now.
                assign({ listedAt: ({ event }) => event.output.now, listFailures: 0 }),
                enqueueActions(({ enqueue, event, self }) => {
                  const index = indexServers(event.output.servers);
                  for (const [, group] of groupsOf(self.getSnapshot().children)) {
                    enqueue.sendTo(group, { type: 'servers.listed', index, now: event.output.now });
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

/** The (primary) node ids a provider actor supervises now, through its groups. */
export function supervisedNodeIds(children: Record<string, unknown>): number[] {
  return nodeActorsOf(children)
    .map(([id]) => parseActorId(id))
    .filter((parsed) => parsed?.kind === 'node')
    .map((parsed) => Number(parsed?.id))
    .sort((a, b) => a - b);
}

/** A node, sub-node or orphan actor of the provider by its actor id, whatever its group. */
export function nodeActorOf(children: Record<string, unknown>, actorId: string): AnyActorRef | undefined {
  for (const [, group] of groupsOf(children)) {
    const ref = (group.getSnapshot() as { children: Record<string, unknown> }).children[actorId];
    if (ref) return ref as AnyActorRef;
  }
  return undefined;
}

/** Whether any node, sub-node or orphan is still supervised (a draining provider ends when none is). */
export function hasNodeActors(children: Record<string, unknown>): boolean {
  return groupsOf(children).some(([, group]) => groupHasMembers(group.getSnapshot() as { children: Record<string, unknown> }));
}

/** A provider left the configuration and its last node is gone: its pool stops it. */
export function providerIsDrained(snapshot: { context: ProviderContext; children: Record<string, unknown> }): boolean {
  return snapshot.context.draining && !hasNodeActors(snapshot.children);
}
