/**
 * Resuming an actor from its persisted snapshot (docs/architecture.md,
 * "Restore"). A parent spawns every child by name; when the child was saved
 * before a restart, the parent passes the saved snapshot along with the
 * child's input, and the child's logic (src/actors/resumable.ts) restores
 * it instead of starting afresh. So restoring a node, a build or an upload
 * is the same step as launching one, and the machines stay pure: they only
 * carry the snapshot, they never read it.
 */

/** The input key that carries the snapshot; src strips it before the machine sees the input. */
export const RESUME_KEY = '@resumeFrom';

/** `input`, carrying `snapshot` when there is one. */
export function withResume<TInput>(input: TInput, snapshot: unknown): TInput {
  return snapshot === undefined ? input : ({ ...input, [RESUME_KEY]: snapshot } as TInput);
}

/** The snapshot an input carries, and the input without it. */
export function splitResume(input: unknown): { snapshot: unknown; input: unknown } {
  if (typeof input !== 'object' || input === null || !(RESUME_KEY in input)) return { snapshot: undefined, input };
  const { [RESUME_KEY]: snapshot, ...rest } = input as Record<string, unknown>;
  return { snapshot, input: rest };
}
