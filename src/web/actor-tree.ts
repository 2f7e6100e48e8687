/**
 * The live actors of a daemon as the inspector page lists them: the roots,
 * the providers, their nodes and sub-nodes, the builds and uploads, each
 * with its parent, read from the running actors (their current snapshots,
 * no database). A provider's node groups are bookkeeping: their nodes are
 * listed under the provider. Effects (invoked promises) are not actors a
 * person inspects and are left out.
 */
import type { AnyActorRef } from 'xstate';
import { machineNameOf } from '../actors/transition-recorder.js';
import { compareActorIds } from '../../machines/actor-ids.js';
import { statePathOf } from '../../machines/state-value.js';

export interface LiveActor {
  id: string;
  machine: string;
  state: string;
  parent: string | null;
  actor: AnyActorRef;
}

interface SnapshotLike {
  value?: unknown;
  context?: unknown;
  status?: string;
  children?: Record<string, AnyActorRef | undefined>;
}

const ORDER = ['pool', 'provider', 'node', 'subnode', 'builder', 'build', 'upload'];

/** Every recorded actor under the roots, pool and providers first, then by kind and id. */
export function liveActors(roots: readonly AnyActorRef[]): LiveActor[] {
  const found: LiveActor[] = [];
  const walk = (actor: AnyActorRef, parent: string | null) => {
    const snapshot = actor.getSnapshot() as SnapshotLike;
    if (snapshot.status !== 'active') return;
    const machine = machineNameOf(actor, snapshot);
    const own = machine ? actor.id : parent;
    if (machine) found.push({ id: actor.id, machine, state: statePathOf(snapshot.value), parent, actor });
    for (const child of Object.values(snapshot.children ?? {})) if (child) walk(child, own);
  };
  for (const root of roots) walk(root, null);
  const rank = (m: string) => ORDER.indexOf(m);
  return found.sort((a, b) => rank(a.machine) - rank(b.machine) || compareActorIds(a.id, b.id));
}

/** One live actor by id, or undefined when none runs under the roots. */
export function liveActor(roots: readonly AnyActorRef[], id: string): LiveActor | undefined {
  return liveActors(roots).find((a) => a.id === id);
}
