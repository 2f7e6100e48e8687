/**
 * A group of a provider's node actors (docs/architecture.md, "The actors of
 * nodepoold"). XState copies a parent's children at every spawn and every
 * stop, so a provider with ten thousand nodes as its direct children would
 * copy them fifty million times to start them and again to stop them; the
 * provider keeps its nodes in groups of a few hundred instead. A node's
 * sub-nodes are in its group, so the group supervises them.
 *
 * The group passes the time on to the nodes something is due for, hands
 * each node its server from the provider's list, routes commands, and stops
 * a node that reached its end. Pure: the node actors' effects are supplied
 * by src, through the provider.
 */
import { assign, enqueueActions, sendParent, setup, stopChild, type AnyActorRef } from 'xstate';
import { isNodeActor, isServerActor, nodeActorId, orphanActorId, subnodeActorId } from './actor-ids.js';
import { nodeMachine, nodeStandingOf, nodeWantsTimeAt, orphanInput, type NodeContext, type NodeEvent, type NodeInput } from './node.machine.js';
import { withResume } from './resume.js';
import { serverForNode, type ServerIndex } from './server-list.js';

/** Nodes per group: a spawn or a stop copies at most this many children. */
export const NODE_GROUP_SIZE = 250;

/** One node to run, as a launch carries it. */
export interface NodeLaunch {
  nodeId: number;
  input: NodeInput;
  /** A node that existed before this process started (resumed after a restart). */
  adopted?: boolean;
  resumeFrom?: unknown;
}

export type NodeGroupEvent =
  | { type: 'tick'; now: number }
  | { type: 'launch.many'; launches: NodeLaunch[] }
  | { type: 'node.command'; nodeId: number; event: NodeEvent }
  | { type: 'orphan.delete'; serverId: string; nodeId: number; now: number; reason: string }
  /** The provider's latest list, indexed: each node hears what concerns it. */
  | { type: 'servers.listed'; index: ServerIndex; now: number };

/** The actor id of a node or a sub-node. */
export function actorIdOf(input: NodeInput): string {
  return input.role === 'sub' ? subnodeActorId(input.nodeId) : nodeActorId(input.nodeId);
}

/** Which group a node belongs to: by its id, a sub-node by its primary's, so a node and its sub-nodes share one. */
export function groupKeyOf(input: Pick<NodeInput, 'nodeId' | 'role' | 'parentId'>): string {
  const primary = input.role === 'sub' ? (input.parentId ?? input.nodeId) : input.nodeId;
  return String(Math.floor(primary / NODE_GROUP_SIZE));
}

/** Leaked servers being deleted have a group of their own. */
export const ORPHAN_GROUP = 'orphans';

interface ChildView {
  ref: AnyActorRef;
  id: string;
  value: unknown;
  context: NodeContext;
}

/** Every actor running the node machine in a group: nodes, sub-nodes and orphans. */
function serverActorViews(children: Record<string, unknown>): ChildView[] {
  return Object.entries(children)
    .filter(([id]) => isServerActor(id))
    .map(([id, ref]) => {
      const snapshot = (ref as AnyActorRef).getSnapshot() as { value: unknown; context: NodeContext };
      return { ref: ref as AnyActorRef, id, value: snapshot.value, context: snapshot.context };
    });
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

export interface NodeGroupContext {
  /** Node actors that wait for news of their server (building or deleting), as of the last tick. */
  waiting: number;
  /**
   * Until when a tick has nothing to do: every node was still at the last
   * pass (no effect running, nothing sent to it) and the earliest deadline
   * is this far. Any event that reaches a node clears it. Absent: the next
   * tick makes a pass over the nodes.
   */
  quietUntil?: number;
}

/** quietUntil of a group whose nodes want no time at all: only an event wakes it. */
export const QUIET_UNTIL_WOKEN = Number.MAX_SAFE_INTEGER;

/** Something reached a node and may have changed it: the next tick looks at every node. */
const AWAKE = { quietUntil: undefined };

/** A node whose state only an event can change: no effect of its is running. */
function isStill(snapshot: { children: Record<string, unknown> }): boolean {
  for (const _ in snapshot.children) return false;
  return true;
}

export const nodeGroupMachine = setup({
  types: {
    context: {} as NodeGroupContext,
    events: {} as NodeGroupEvent,
  },
  actors: { node: nodeMachine },
  actions: {
    /** Every launch in one step: one copy of the children, however many nodes start. */
    spawnNodes: assign(({ context, spawn, self }, params: { launches: readonly NodeLaunch[] }) => {
      const children = self.getSnapshot().children as Record<string, unknown>;
      for (const launch of params.launches) {
        const id = actorIdOf(launch.input);
        // A launch of a node that already has an actor (a repeated event) is a no-op.
        if (children[id]) continue;
        spawn('node', { id, systemId: id, input: withResume(launch.input, launch.resumeFrom) });
      }
      // Launched nodes are building: they wait for their servers from now on.
      return { ...AWAKE, waiting: context.waiting + params.launches.length };
    }),
  },
}).createMachine({
  id: 'nodeGroup',
  context: { waiting: 0 },
  on: {
    'launch.many': { actions: { type: 'spawnNodes', params: ({ event }) => ({ launches: event.launches }) } },
    'node.command': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const child = self.getSnapshot().children[nodeActorId(event.nodeId)] as AnyActorRef | undefined;
        if (!child) return;
        enqueue.sendTo(child, event.event);
        enqueue.assign(AWAKE);
      }),
    },
    'orphan.delete': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        const id = orphanActorId(event.serverId);
        if (self.getSnapshot().children[id]) return;
        enqueue.spawnChild('node', { id, input: orphanInput(event.nodeId, event.serverId, event.now) });
        enqueue.sendTo(id, { type: 'delete', reason: event.reason });
        enqueue.assign(AWAKE);
      }),
    },
    /**
     * One pass over the nodes: time for those something is due for (an idle
     * node hears nothing), the count of those waiting for their server (the
     * provider lists often while there are some), and sub-node supervision
     * where there is something to supervise. A group whose nodes are all
     * still skips the pass until its earliest deadline: an idle pool of ten
     * thousand nodes is not walked every second.
     */
    tick: [
      { guard: ({ context, event }) => context.quietUntil !== undefined && event.now < context.quietUntil },
      {
        actions: enqueueActions(({ enqueue, self, event, context }) => {
          const children = self.getSnapshot().children as Record<string, AnyActorRef>;
          let waiting = 0;
          let supervising = false;
          let still = true;
          let sent = false;
          let earliest = QUIET_UNTIL_WOKEN;
          for (const [id, child] of Object.entries(children)) {
            if (!isServerActor(id)) continue;
            const snapshot = child.getSnapshot() as { value: unknown; context: NodeContext; children: Record<string, unknown> };
            const due = nodeWantsTimeAt(snapshot);
            if (due !== undefined && due <= event.now) {
              enqueue.sendTo(child, { type: 'tick', now: event.now });
              sent = true;
            } else if (due !== undefined && due < earliest) earliest = due;
            if (still && !isStill(snapshot)) still = false;
            const standing = nodeStandingOf(snapshot.value);
            if (standing.waitsForServer) waiting += 1;
            if (snapshot.context.role === 'sub' || standing.waitingForSubnodes || standing.deletingSubnodes) supervising = true;
          }
          if (supervising) {
            for (const { to, event: command } of subnodeSupervision(children)) {
              enqueue.sendTo(to, command);
              sent = true;
            }
          }
          const quietUntil = still && !sent ? earliest : undefined;
          if (waiting !== context.waiting || quietUntil !== context.quietUntil) enqueue.assign({ waiting, quietUntil });
        }),
      },
    ],
    'servers.listed': {
      actions: enqueueActions(({ enqueue, event, self }) => {
        let woken = false;
        for (const view of serverActorViews(self.getSnapshot().children)) {
          const { nodeId, serverId, role } = view.context;
          const server = serverForNode(event.index, nodeId, serverId, role);
          // A settled node only cares that its server is gone: the others' entries are news to no one.
          if (server !== null && !nodeStandingOf(view.value).waitsForServer) continue;
          enqueue.sendTo(view.ref, { type: 'server.listed', now: event.now, server });
          woken = true;
        }
        if (woken) enqueue.assign(AWAKE);
      }),
    },
    // A node that reached `removed` has nothing left to do: stop it so it
    // leaves `children`, and tell the provider (a drained provider, or
    // `delete --now`, is waiting for its last node).
    'xstate.done.actor.*': {
      actions: enqueueActions(({ enqueue, event }) => {
        const actorId = (event as unknown as { actorId: string }).actorId;
        if (!isServerActor(actorId)) return;
        enqueue(stopChild(actorId));
        enqueue(sendParent({ type: 'node.gone', actorId }));
        enqueue.assign(AWAKE);
      }),
    },
  },
});

/** The node actors of a group: nodes, sub-nodes and orphans. */
export function groupMembers(snapshot: { children: Record<string, unknown> }): [string, AnyActorRef][] {
  return Object.entries(snapshot.children).filter(([id]) => isServerActor(id)) as [string, AnyActorRef][];
}

/** Whether a group has a node actor left; asked of every group every second, so it stops at the first. */
export function groupHasMembers(snapshot: { children: Record<string, unknown> }): boolean {
  for (const id in snapshot.children) if (isServerActor(id)) return true;
  return false;
}
