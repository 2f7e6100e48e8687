/**
 * The actors as the database holds them, for the commands that read them
 * with the daemons stopped or running (`nodepool actor-list`, `actor-show`,
 * `why`) and for the status page: each persisted actor's snapshot, the
 * newest transition for its time in state, its history, and the process
 * that owns it (the lease holder). The roots and the providers have no
 * snapshot; they are known by their history alone.
 */
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX, imageWorkLease, providerOfLease } from '../core/leases.js';
import type { Database, StoredTransition } from '../db/index.js';
import type { ImageBuildRecord, ImageUploadRecord, NodeRecord, SubnodeRecord } from '../db/records.js';
import {
  BUILDER_ACTOR_ID, POOL_ACTOR_ID, compareActorIds, isDaemonLongActor, nodeActorId, parseActorId, providerActorId, providerNameOf,
} from '../../machines/actor-ids.js';
import { statePathOf as statePath } from '../../machines/state-value.js';

import type { ActorMachine } from './why.js';

export type { ActorMachine };

export const ACTOR_MACHINES: readonly ActorMachine[] = ['node', 'subnode', 'build', 'upload', 'provider', 'pool', 'builder'];

/** The snapshot kinds of actor_snapshot and the machines they are (src/nodepoold/node-kinds.ts, src/builder/image-kinds.ts). */
const SNAPSHOT_MACHINES: Readonly<Record<string, ActorMachine>> = { node: 'node', subnode: 'subnode', 'image-build': 'build', 'image-upload': 'upload' };

export interface ActorSummary {
  actorId: string;
  machine: ActorMachine;
  /** The full state path, `building.waitingForServer`. */
  state: string;
  /** Since when it is in that state (ms epoch): its newest transition, or the snapshot's write. */
  since: number;
  /** The process that drives it now, when one holds its lease. */
  owner?: string;
  /** A node's or sub-node's provider, as its snapshot says: the nodepoold driving the provider drives it. */
  provider?: string;
}

export interface ActorDetail extends ActorSummary {
  context: unknown;
  history: StoredTransition[];
  record?: NodeRecord | SubnodeRecord | ImageBuildRecord | ImageUploadRecord;
}


/** Every persisted actor, and every root and provider that has a history; ordered by machine, then id. */
export async function listActors(db: Database, now: number): Promise<ActorSummary[]> {
  const summaries: ActorSummary[] = [];
  for (const [kind, machine] of Object.entries(SNAPSHOT_MACHINES)) {
    for (const saved of await db.snapshots.listByKind(kind)) {
      const snapshot = saved.snapshot as { value?: unknown; context?: { provider?: unknown } };
      const provider = typeof snapshot.context?.provider === 'string' ? snapshot.context.provider : undefined;
      summaries.push({ actorId: saved.actorId, machine, state: statePath(snapshot.value), since: saved.updatedAt, ...(provider !== undefined && { provider }) });
    }
  }
  const latest = await db.transitions.latestOf(summaries.map((s) => s.actorId));
  for (const summary of summaries) {
    const newest = latest.get(summary.actorId);
    if (newest?.to === summary.state) summary.since = newest.at;
  }
  for (const t of await longLivedStates(db)) summaries.push({ actorId: t.actorId, machine: t.machine as ActorMachine, state: t.to, since: t.at });
  await addOwners(db, summaries, now);
  const order = (m: ActorMachine) => ACTOR_MACHINES.indexOf(m);
  return summaries.sort((a, b) => order(a.machine) - order(b.machine) || compareActorIds(a.actorId, b.actorId));
}

/**
 * One actor by its id, or a bare number for a node (`12` -> `node-12`):
 * its snapshot's state and context, its record, its history and owner.
 * Undefined when the database knows nothing of it.
 */
export async function loadActor(db: Database, id: string, now: number): Promise<ActorDetail | undefined> {
  const actorId = /^\d+$/.test(id) ? nodeActorId(Number(id)) : id;
  const [saved, history] = await Promise.all([db.snapshots.get(actorId), db.transitions.listFor(actorId)]);
  const record = await recordOf(db, actorId);
  let detail: ActorDetail;
  if (saved) {
    const machine = SNAPSHOT_MACHINES[saved.kind];
    if (!machine) return undefined;
    const snapshot = saved.snapshot as { value?: unknown; context?: { provider?: unknown } };
    const state = statePath(snapshot.value);
    const newest = history.at(-1);
    const provider = typeof snapshot.context?.provider === 'string' ? snapshot.context.provider : undefined;
    detail = { actorId, machine, state, since: newest?.to === state ? newest.at : saved.updatedAt, context: snapshot.context, history, ...(provider !== undefined && { provider }) };
  } else {
    const newest = history.at(-1);
    // A removed actor, or a root or provider: what its history says.
    if (!newest) return record ? { actorId, machine: machineOfRecord(actorId), state: 'unknown', since: now, context: undefined, history, record } : undefined;
    detail = { actorId, machine: newest.machine as ActorMachine, state: newest.to, since: newest.at, context: undefined, history };
  }
  if (record) detail.record = record;
  await addOwners(db, [detail], now);
  return detail;
}

/** The newest state of each root and provider, from its history. */
async function longLivedStates(db: Database): Promise<StoredTransition[]> {
  const found = await db.transitions.latestMatching([POOL_ACTOR_ID, BUILDER_ACTOR_ID], [providerActorId('')]);
  return found.filter((t) => isDaemonLongActor(t.actorId));
}

async function recordOf(db: Database, actorId: string): Promise<ActorDetail['record']> {
  const parsed = parseActorId(actorId);
  if (!parsed || parsed.kind === 'provider' || parsed.kind === 'orphan') return undefined;
  const id = Number(parsed.id);
  switch (parsed.kind) {
    case 'node':
      return db.nodes.get(id);
    case 'subnode':
      return db.subnodes.get(id);
    case 'build':
      return db.builds.get(id);
    case 'upload':
      return db.uploads.get(id);
  }
}

function machineOfRecord(actorId: string): ActorMachine {
  const kind = parseActorId(actorId)?.kind;
  return kind === 'subnode' || kind === 'build' || kind === 'upload' ? kind : 'node';
}

/**
 * Who drives each actor: the nodepoold holding the provider's lease for a
 * provider and its nodes (docs/scaling.md), the one holding the allocation's
 * for the pool; the builder holding a build's or upload's work lease for it.
 * Expired leases name no one.
 */
async function addOwners(db: Database, actors: ActorSummary[], now: number): Promise<void> {
  const providerOwners = new Map<string, string>();
  for (const lease of await db.leases.heldWithPrefix(PROVIDER_LEASE_PREFIX, now)) providerOwners.set(providerOfLease(lease.name) as string, lease.owner);
  const allocator = (await db.leases.holder(ALLOCATION_LEASE, now))?.owner;
  const nodepooldOf = (actor: ActorSummary): string | undefined => {
    if (actor.machine === 'pool') return allocator;
    const provider = actor.machine === 'provider' ? providerNameOf(actor.actorId) : actor.provider;
    return provider === undefined ? undefined : providerOwners.get(provider);
  };
  const imageLeases = new Map<string, string>();
  if (actors.some((a) => a.machine === 'build' || a.machine === 'upload')) {
    for (const lease of await db.leases.heldWithPrefix(imageWorkLease(''), now)) imageLeases.set(lease.name, lease.owner);
  }
  for (const actor of actors) {
    const owner = actor.machine === 'build' || actor.machine === 'upload' ? imageLeases.get(imageWorkLease(actor.actorId)) : actor.machine === 'builder' ? undefined : nodepooldOf(actor);
    if (owner !== undefined) actor.owner = owner;
  }
}

