import type { AnyActorRef } from 'xstate';
import { statePathOf } from '../../machines/state-value.js';

export interface ActorLine {
  id: string;
  depth: number;
  state: string;
  status: string;
}

/** The value of a state as a dotted path, e.g. `building.waitingForServer`. */
export const stateName = statePathOf;

/** Every live actor under `root`, depth first, with its state: what SIGUSR2 logs. */
export function dumpActors(root: AnyActorRef, depth = 0, lines: ActorLine[] = []): ActorLine[] {
  const snapshot = root.getSnapshot() as { value?: unknown; status: string; children?: Record<string, AnyActorRef> };
  lines.push({ id: root.id, depth, state: stateName(snapshot.value), status: snapshot.status });
  for (const child of Object.values(snapshot.children ?? {})) dumpActors(child, depth + 1, lines);
  return lines;
}
