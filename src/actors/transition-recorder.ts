/**
 * The actors' history (docs/inspection.md): from the inspection stream,
 * every change of an actor's full state path becomes a transition (time,
 * actor, machine, the event that made it, from, to, and the reason where the
 * context holds one). Persistence writes them in the transaction of the
 * snapshots of the same moment.
 *
 * Recorded: nodes and sub-nodes (and leaked servers' deletions), builds,
 * uploads, providers, the pool and the builder. A provider's node groups
 * are bookkeeping and are left out.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { Clock } from '../core/clock.js';
import type { ActorTransition } from '../db/index.js';
import { statePathOf } from '../../machines/state-value.js';
import type { SnapshotView } from './persisted-kind.js';

/** Machine ids as they are recorded (the names `nodepool actor-list --machine` takes). */
const MACHINE_NAMES: Readonly<Record<string, string>> = {
  node: 'node',
  provider: 'provider',
  pool: 'pool',
  builder: 'builder',
  imageBuild: 'build',
  imageUpload: 'upload',
};

/** The state an actor that reached its final state is recorded in. */
export const REMOVED_STATE = 'removed';

/** A recorded actor whose full state path changed. */
export interface ActorStateChange {
  actorId: string;
  machine: string;
  /** Undefined for the first state seen. */
  from?: string;
  to: string;
  context: unknown;
  /** The event's type, as XState names it. */
  event: string;
}

/**
 * The recorded actors' state paths, followed from the inspection stream:
 * what the history records and what the inspector page streams.
 */
export class ActorStates {
  private readonly states = new Map<string, string>();

  /** The change a snapshot event makes, or undefined when it changes no recorded actor's state path. */
  change(event: InspectionEvent): ActorStateChange | undefined {
    if (event.type !== '@xstate.snapshot') return undefined;
    const actor = event.actorRef as AnyActorRef;
    const snapshot = event.snapshot as unknown as SnapshotView;
    // An actor stopped with its process, or failed, says nothing of its own states.
    if (snapshot.status !== 'active' && snapshot.status !== 'done') return undefined;
    const machine = machineNameOf(actor, snapshot);
    if (!machine) return undefined;
    const to = snapshot.status === 'done' ? REMOVED_STATE : statePathOf(snapshot.value);
    const from = this.states.get(actor.id);
    if (from === to) return undefined;
    if (snapshot.status === 'done') this.states.delete(actor.id);
    else this.states.set(actor.id, to);
    return { actorId: actor.id, machine, ...(from !== undefined && { from }), to, context: snapshot.context, event: event.event.type };
  }

  /** Starts from states known otherwise (the live actors when a page connects). */
  know(actorId: string, state: string): void {
    this.states.set(actorId, state);
  }

  clear(): void {
    this.states.clear();
  }
}

export class TransitionRecorder {
  private readonly states = new ActorStates();

  constructor(
    private readonly clock: Clock,
    private readonly record: (transition: ActorTransition) => void,
  ) {}

  note(event: InspectionEvent): void {
    const change = this.states.change(event);
    if (!change) return;
    const reason = reasonOf(change.context, change.to);
    this.record({
      actorId: change.actorId,
      machine: change.machine,
      at: this.clock.now(),
      event: eventName(change.event),
      ...(change.from !== undefined && { from: change.from }),
      to: change.to,
      ...(reason !== undefined && { reason }),
    });
  }
}

/**
 * The event as a person reads it: XState names the end of an invoked effect
 * after the invocation's generated id (`xstate.done.actor.0.node.building.creating`);
 * the state it ran in says the same (`done: building.creating`).
 */
export function eventName(type: string): string {
  const ended = /^xstate\.(done|error)\.actor\.(?:\d+\.)?(.+)$/.exec(type);
  if (!ended) return type;
  const [, outcome, id] = ended as unknown as [string, string, string];
  const dot = id.indexOf('.');
  // `<machine id>.<state path>` when XState made the id; an invoke's own id otherwise.
  return `${outcome}: ${dot > 0 ? id.slice(dot + 1) : id}`;
}

/** The recorded machine an actor runs (`node`, `subnode`, `build`, ...), or undefined for one that is not recorded (a node group, an effect). */
export function machineNameOf(actor: AnyActorRef, snapshot: { context?: unknown }): string | undefined {
  const id = (actor as unknown as { logic?: { id?: unknown } }).logic?.id;
  const name = typeof id === 'string' ? MACHINE_NAMES[id] : undefined;
  if (name === 'node' && (snapshot.context as { role?: unknown } | undefined)?.role === 'sub') return 'subnode';
  return name;
}

/** What the context says of why the actor is where it now is. */
function reasonOf(context: unknown, to: string): string | undefined {
  const c = (context ?? {}) as Record<string, unknown>;
  const failure = c.failure as { reason?: string; message?: string } | undefined;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const top = to.split('.')[0];
  if (top === 'hold') return text(c.comment);
  if (top === 'used') return text(c.job) && `job ${String(c.job)}`;
  if (failure?.message && (top === 'failed' || top === 'deleting' || top === 'removed')) return `${failure.reason ?? 'failed'}: ${failure.message}`;
  if (top === 'deleting' || top === 'removed') return text(c.deleteReason) ?? text(c.deleteError);
  return text(c.error) ?? text(c.registerError) ?? text(c.deleteError);
}
