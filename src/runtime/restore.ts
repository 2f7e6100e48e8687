import { createActor, type AnyStateMachine } from 'xstate';
import type { ActorSnapshotRecord } from '../db/index.js';
import { providerActorId, type PoolInput, type ProviderSettings } from '../../machines/pool.machine.js';

interface PersistedChild {
  snapshot: { context?: Record<string, unknown>; children?: Record<string, PersistedChild> } & Record<string, unknown>;
  src: string;
  systemId: string;
}

type PersistedPool = { children: Record<string, PersistedChild> } & Record<string, unknown>;

/** A node or sub-node row: its actor id (`node-12`, `subnode-3`) and its provider. */
export interface ActorRow {
  actorId: string;
  provider: string;
}

export interface RestorePlan<R extends ActorRow> {
  /** The pool's persisted snapshot with every saved node actor under its provider. */
  snapshot: unknown;
  /** Rows with no saved actor (a crash between the row and its first snapshot). */
  orphans: R[];
}

/**
 * Puts the pool back together after a restart: a fresh pool for the
 * configuration, and under each provider the node actors as they were last
 * saved. XState then resumes each node where it stopped (an invoked effect
 * in flight starts again; every effect is safe to repeat). Nodes of a
 * provider that left the configuration come back under a draining provider.
 */
export function planRestore<R extends ActorRow>(
  poolMachine: AnyStateMachine,
  providerMachine: AnyStateMachine,
  input: PoolInput,
  rows: readonly R[],
  snapshots: readonly ActorSnapshotRecord[],
  listIntervalMs: number,
): RestorePlan<R> {
  const fresh = createActor(poolMachine, { input }).getPersistedSnapshot() as unknown as PersistedPool;
  const composed: PersistedPool = { ...fresh, children: { ...fresh.children } };
  const saved = new Map(snapshots.map((s) => [s.actorId, s.snapshot]));
  const orphans: R[] = [];

  for (const row of rows) {
    const { actorId } = row;
    const snapshot = saved.get(actorId);
    if (!snapshot) {
      orphans.push(row);
      continue;
    }
    const provider = providerEntry(composed, providerMachine, row.provider, input.providers, listIntervalMs);
    provider.snapshot.children = {
      ...provider.snapshot.children,
      [actorId]: { snapshot: snapshot as PersistedChild['snapshot'], src: 'node', systemId: actorId },
    };
  }
  return { snapshot: composed, orphans };
}

function providerEntry(
  pool: PersistedPool,
  providerMachine: AnyStateMachine,
  name: string,
  configured: readonly ProviderSettings[],
  listIntervalMs: number,
): PersistedChild {
  const id = providerActorId(name);
  const existing = pool.children[id];
  if (existing) return existing;
  const fresh = createActor(providerMachine, { input: { provider: name, listIntervalMs } }).getPersistedSnapshot() as unknown as PersistedChild['snapshot'];
  const draining = !configured.some((p) => p.name === name);
  const entry: PersistedChild = {
    snapshot: { ...fresh, context: { ...fresh.context, draining }, children: {} },
    src: 'provider',
    systemId: id,
  };
  pool.children[id] = entry;
  return entry;
}
