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
 * Time comes in as `tick` events carrying `now` (from the actor host in
 * src/), so this machine needs no clock and a test drives it by hand. The
 * driver calls themselves (rate-spaced) are supplied by src as named actors.
 */
import { assign, enqueueActions, fromPromise, setup, stopChild, type AnyActorRef } from 'xstate';
import { isNodeActor, isServerActor, nodeActorId, orphanActorId, parseActorId, subnodeActorId } from './actor-ids.js';
import {
  nodeMachine,
  nodeStandingOf,
  nodeWantsTimeAt,
  orphanInput,
  type ListedServer,
  type NodeContext,
  type NodeEvent,
  type NodeInput,
  type NodeRole,
} from './node.machine.js';
import { withResume } from './resume.js';

/** A server of the provider's list, with the node (and sub-node) its `nodepool` metadata names. */
export interface ProviderServer extends ListedServer {
  nodeId?: number;
  subnodeId?: number;
}

export interface ProviderInput {
  provider: string;
  /** Between lists while some node is building or deleting (it waits for its server's status). */
  listIntervalMs: number;
  /** Between lists while every node is settled (a server that vanished is still noticed). Default 30 s. */
  idleListIntervalMs?: number;
}

export const IDLE_LIST_INTERVAL_MS = 30_000;

export interface ProviderContext extends ProviderInput {
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
  /** Raised on a tick when a list is due. */
  | { type: 'list.due'; now: number }
  /**
   * A node to run here. `adopted`: a node that existed before this process
   * started, resumed from its saved snapshot (`resumeFrom`) or, without
   * one, started afresh from its row.
   */
  | { type: 'launch'; nodeId: number; input: NodeInput; adopted?: boolean; resumeFrom?: unknown }
  | { type: 'node.command'; nodeId: number; event: NodeEvent }
  /** Delete a server whose metadata names node `nodeId`, which has no row (a leaked instance). */
  | { type: 'orphan.delete'; serverId: string; nodeId: number; now: number; reason: string }
  | { type: 'configure'; listIntervalMs: number }
  | { type: 'drain' }
  | { type: 'undrain' };

/** The actor id of a node or a sub-node. */
export function actorIdOf(input: NodeInput): string {
  return input.role === 'sub' ? subnodeActorId(input.nodeId) : nodeActorId(input.nodeId);
}

/** A list of servers indexed once, so that each of ten thousand nodes finds its own without a search. */
export interface ServerIndex {
  byId: Map<string, ProviderServer>;
  byNode: Map<number, ProviderServer>;
  bySubnode: Map<number, ProviderServer>;
}

export function indexServers(servers: readonly ProviderServer[]): ServerIndex {
  const index: ServerIndex = { byId: new Map(), byNode: new Map(), bySubnode: new Map() };
  for (const server of servers) {
    index.byId.set(server.id, server);
    // The first server naming a node wins, as a search from the start of the list would find it.
    if (server.subnodeId !== undefined) {
      if (!index.bySubnode.has(server.subnodeId)) index.bySubnode.set(server.subnodeId, server);
    } else if (server.nodeId !== undefined && !index.byNode.has(server.nodeId)) {
      index.byNode.set(server.nodeId, server);
    }
  }
  return index;
}

/**
 * The server a node should hear about: by the id it recorded, else by its
 * metadata (a node's server names the node; a sub-node's names its sub-node).
 */
export function serverForNode(
  servers: readonly ProviderServer[] | ServerIndex,
  nodeId: number,
  serverId: string | undefined,
  role: NodeRole = 'primary',
): ProviderServer | null {
  const index = 'byId' in servers ? servers : indexServers(servers);
  if (serverId !== undefined) return index.byId.get(serverId) ?? null;
  return (role === 'sub' ? index.bySubnode.get(nodeId) : index.byNode.get(nodeId)) ?? null;
}

interface ChildView {
  ref: AnyActorRef;
  id: string;
  value: unknown;
  context: NodeContext;
}

/** Every actor running the node machine here: nodes, sub-nodes and orphans. */
function serverActorViews(children: Record<string, unknown>): ChildView[] {
  return Object.entries(children)
    .filter(([id]) => isServerActor(id))
    .map(([id, ref]) => {
      const snapshot = (ref as AnyActorRef).getSnapshot() as { value: unknown; context: NodeContext };
      return { ref: ref as AnyActorRef, id, value: snapshot.value, context: snapshot.context };
    });
}

/**
 * A list is due an interval after the last one started: the short interval
 * while some node waits for its server's status, the idle one otherwise.
 */
export function listIsDue(context: ProviderContext, children: Record<string, unknown>, now: number): boolean {
  if (context.listStartedAt === undefined) return true;
  const busy = serverActorViews(children).some((v) => nodeStandingOf(v.value).waitsForServer);
  const interval = busy ? context.listIntervalMs : (context.idleListIntervalMs ?? IDLE_LIST_INTERVAL_MS);
  return now - context.listStartedAt >= interval;
}

/**
 * What supervising sub-nodes means (docs/behaviour.md, launch step 8 and
 * "Deleting"): a primary waiting for its sub-nodes hears when all are ready;
 * a primary being deleted has its sub-nodes deleted first and hears when
 * they are gone; a sub-node whose primary is gone is deleted.
 */
export function subnodeSupervision(children: Record<string, unknown>): { to: AnyActorRef; event: NodeEvent }[] {
  const views = serverActorViews(children).filter((v) => isNodeActor(v.id));
  const primaries = new Set(views.filter((v) => v.context.role === 'primary').map((v) => v.context.nodeId));
  const subsByParent = new Map<number, ChildView[]>();
  for (const view of views) {
    if (view.context.role !== 'sub' || view.context.parentId === undefined) continue;
    subsByParent.set(view.context.parentId, [...(subsByParent.get(view.context.parentId) ?? []), view]);
  }
  const out: { to: AnyActorRef; event: NodeEvent }[] = [];
  for (const view of views) {
    const { context } = view;
    const standing = nodeStandingOf(view.value);
    if (context.role === 'sub') {
      if (!primaries.has(context.parentId as number) && !standing.leaving) out.push({ to: view.ref, event: { type: 'delete', reason: 'its primary node is gone' } });
      continue;
    }
    const subs = subsByParent.get(context.nodeId) ?? [];
    if (standing.waitingForSubnodes) {
      if (subs.filter((s) => nodeStandingOf(s.value).ready).length >= context.subnodes) {
        out.push({ to: view.ref, event: { type: 'subnodes.ready' } });
      }
    } else if (standing.deletingSubnodes) {
      if (subs.length === 0) out.push({ to: view.ref, event: { type: 'subnodes.gone' } });
      for (const sub of subs) {
        if (!nodeStandingOf(sub.value).leaving) {
          out.push({ to: sub.ref, event: { type: 'delete', reason: `its primary node ${context.nodeId} is being deleted` } });
        }
      }
    }
  }
  return out;
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
  guards: {},
}).createMachine({
  id: 'provider',
  context: ({ input }) => ({ ...input, listFailures: 0, draining: false }),
  type: 'parallel',
  on: {
    launch: {
      // A node adopted after a restart is taken even while draining: it only finishes here.
      guard: ({ context, event }) => !context.draining || event.adopted === true,
      actions: enqueueActions(({ enqueue, event, self }) => {
        const id = actorIdOf(event.input);
        // A launch of a node that already has an actor (a repeated event) is a no-op.
        if (self.getSnapshot().children[id]) return;
        enqueue.spawnChild('node', { id, systemId: id, input: withResume(event.input, event.resumeFrom) });
      }),
    },
    'node.command': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const child = self.getSnapshot().children[nodeActorId(event.nodeId)] as AnyActorRef | undefined;
        if (child) enqueue.sendTo(child, event.event);
      }),
    },
    'orphan.delete': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const id = orphanActorId(event.serverId);
        if (self.getSnapshot().children[id]) return;
        enqueue.spawnChild('node', { id, input: orphanInput(event.nodeId, event.serverId, event.now) });
        enqueue.sendTo(id, { type: 'delete', reason: event.reason });
      }),
    },
    configure: { actions: assign({ listIntervalMs: ({ event }) => event.listIntervalMs }) },
    drain: { actions: assign({ draining: true }) },
    undrain: { actions: assign({ draining: false }) },
    // A node that reached `removed` has nothing left to do: stop it so it leaves `children`.
    'xstate.done.actor.*': {
      actions: enqueueActions(({ enqueue, event }) => {
        const actorId = (event as unknown as { actorId: string }).actorId;
        if (isServerActor(actorId)) enqueue(stopChild(actorId));
      }),
    },
  },
  states: {
    /**
     * Passes the time on to the nodes something is due for (a deadline
     * passed, a pause ended): an idle node hears nothing, so ten thousand
     * ready nodes cost nothing a second. Supervises sub-nodes.
     */
    nodes: {
      on: {
        tick: {
          actions: enqueueActions(({ enqueue, self, event, context }) => {
            const children = self.getSnapshot().children as Record<string, AnyActorRef>;
            for (const child of Object.values(children)) {
              if (!isServerActor(child.id)) continue;
              const due = nodeWantsTimeAt(child.getSnapshot() as { value: unknown; context: NodeContext });
              if (due !== undefined && due <= event.now) enqueue.sendTo(child, { type: 'tick', now: event.now });
            }
            for (const { to, event: command } of subnodeSupervision(children)) enqueue.sendTo(to, command);
            if (listIsDue(context, children, event.now)) enqueue.raise({ type: 'list.due', now: event.now });
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
                // The list itself is not kept: each node takes its own server's entry from it now.
                assign({ listedAt: ({ event }) => event.output.now, listFailures: 0 }),
                enqueueActions(({ enqueue, event, self }) => {
                  const { servers, now } = event.output;
                  const index = indexServers(servers);
                  for (const view of serverActorViews(self.getSnapshot().children)) {
                    const { nodeId, serverId, role } = view.context;
                    const server = serverForNode(index, nodeId, serverId, role);
                    // A settled node only cares that its server is gone: the others' entries are news to no one.
                    if (server !== null && !nodeStandingOf(view.value).waitsForServer) continue;
                    enqueue.sendTo(view.ref, { type: 'server.listed', now, server });
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

/** The (primary) node ids a provider actor supervises now. */
export function supervisedNodeIds(children: Record<string, unknown>): number[] {
  return Object.keys(children)
    .map((id) => parseActorId(id))
    .filter((parsed) => parsed?.kind === 'node')
    .map((parsed) => Number(parsed?.id))
    .sort((a, b) => a - b);
}

/** Whether any node, sub-node or orphan is still supervised (a draining provider ends when none is). */
export function hasNodeActors(children: Record<string, unknown>): boolean {
  return Object.keys(children).some(isServerActor);
}

/** A provider left the configuration and its last node is gone: its pool stops it. */
export function providerIsDrained(snapshot: { context: ProviderContext; children: Record<string, unknown> }): boolean {
  return snapshot.context.draining && !hasNodeActors(snapshot.children);
}
