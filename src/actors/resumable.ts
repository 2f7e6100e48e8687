/**
 * The logic that lets a parent resume a child from its saved snapshot by
 * spawning it by name (machines/resume.ts): given an input that carries a
 * snapshot, the child's first snapshot is the saved one, restored, instead
 * of the machine's initial state. XState then starts the effects that were
 * in flight again, which every effect is written to allow.
 */
import type { AnyStateMachine } from 'xstate';
import { splitResume } from '../../machines/resume.js';

export function resumable<TMachine extends AnyStateMachine>(machine: TMachine): TMachine {
  const logic = Object.create(machine) as TMachine;
  logic.getInitialSnapshot = ((scope: Parameters<TMachine['getInitialSnapshot']>[0], input: unknown) => {
    const { snapshot, input: rest } = splitResume(input);
    return snapshot === undefined ? machine.getInitialSnapshot(scope, rest) : machine.restoreSnapshot(snapshot as never, scope);
  }) as TMachine['getInitialSnapshot'];
  return logic;
}
