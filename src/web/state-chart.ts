/**
 * A machine's definition as the inspector page draws it (docs/inspection.md):
 * each state with its kind, its initial child, its children, and its
 * transitions as event and target paths. Read from XState's own state
 * nodes, so the drawing is of the machine that runs, not of a copy.
 */
import type { AnyStateMachine } from 'xstate';
import { eventName } from '../actors/transition-recorder.js';

export interface ChartTransition {
  event: string;
  /** Dotted paths from the machine's root; empty for a transition that stays (an action only). */
  targets: string[];
}

export interface ChartState {
  key: string;
  /** Dotted path from the root; '' for the root. */
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** The key of the initial child, for a compound state. */
  initial: string | null;
  transitions: ChartTransition[];
  children: ChartState[];
}

export interface StateChart {
  id: string;
  root: ChartState;
}

/** The parts of XState's StateNode the chart reads. */
interface StateNodeView {
  key: string;
  path: string[];
  type: ChartState['type'];
  states: Record<string, StateNodeView>;
  initial?: { target?: readonly StateNodeView[] };
  transitions: Map<string, readonly { eventType: string; target?: readonly StateNodeView[] }[]>;
}

export function stateChart(machine: AnyStateMachine): StateChart {
  return { id: machine.id, root: chartOf(machine.root as unknown as StateNodeView) };
}

function chartOf(node: StateNodeView): ChartState {
  const transitions: ChartTransition[] = [];
  for (const [, candidates] of node.transitions) {
    for (const candidate of candidates) {
      transitions.push({ event: eventName(candidate.eventType), targets: (candidate.target ?? []).map((t) => t.path.join('.')) });
    }
  }
  return {
    key: node.key,
    path: node.path.join('.'),
    type: node.type,
    initial: node.initial?.target?.[0]?.key ?? null,
    transitions,
    children: Object.values(node.states).map(chartOf),
  };
}
