/**
 * The saved snapshots actors resume from (docs/architecture.md, "Restore"),
 * checked against today's machines: a snapshot that no longer fits (the
 * machine changed shape between versions) is left out with a warning, and
 * the daemon starts that actor afresh from its record instead.
 */
import { createActor } from 'xstate';
import type { Database } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { PersistedKind } from './persisted-kind.js';
import { asRunning } from './persistence.js';

/** Saved snapshots by actor id, each one known to restore into its machine. */
export type SavedActors = ReadonlyMap<string, unknown>;

/** Every saved snapshot of `kinds` that can be resumed (nodepoold resumes all its nodes at start). */
export async function loadSavedActors(db: Database, kinds: readonly PersistedKind[], log: Logger): Promise<Map<string, unknown>> {
  const saved = new Map<string, unknown>();
  for (const kind of kinds) {
    for (const record of await db.snapshots.listByKind(kind.kind)) {
      const snapshot = resumableSnapshot(kind, record.actorId, record.snapshot, log);
      if (snapshot !== undefined) saved.set(record.actorId, snapshot);
    }
  }
  return saved;
}

/** The saved snapshots of these actors that can be resumed (the nodes of a provider this nodepoold takes over). */
export async function loadSavedActorsOf(db: Database, kinds: readonly PersistedKind[], actorIds: readonly string[], log: Logger): Promise<Map<string, unknown>> {
  const saved = new Map<string, unknown>();
  for (const record of await db.snapshots.getMany(actorIds)) {
    const kind = kinds.find((k) => k.owns(record.actorId));
    const snapshot = kind && resumableSnapshot(kind, record.actorId, record.snapshot, log);
    if (snapshot !== undefined) saved.set(record.actorId, snapshot);
  }
  return saved;
}

/** One actor's saved snapshot, if it has one that can be resumed (a builder resumes what it claims). */
export async function loadSavedActor(db: Database, kinds: readonly PersistedKind[], actorId: string, log: Logger): Promise<unknown> {
  const kind = kinds.find((k) => k.owns(actorId));
  const record = kind && (await db.snapshots.get(actorId));
  return kind && record ? resumableSnapshot(kind, actorId, record.snapshot, log) : undefined;
}

function resumableSnapshot(kind: PersistedKind, actorId: string, raw: unknown, log: Logger): unknown {
  const snapshot = asRunning(raw);
  const problem = restoreProblem(kind, snapshot);
  if (problem === undefined) return snapshot;
  log.warn({ actor: actorId, problem }, `the saved state of ${actorId} cannot be resumed (${problem}); it starts afresh from its record`);
  return undefined;
}

/** Why `snapshot` cannot be resumed by the kind's machine, or undefined when it can. */
export function restoreProblem(kind: PersistedKind, snapshot: unknown): string | undefined {
  try {
    const trial = createActor(kind.machine, { snapshot: snapshot as never }).getSnapshot() as { status: string; error?: unknown; context?: unknown };
    if (trial.status === 'error') return trial.error instanceof Error ? trial.error.message : String(trial.error);
    if (typeof trial.context !== 'object' || trial.context === null) return 'it has no context';
    if (trial.status !== 'active') return `its status is ${trial.status}`;
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
