/**
 * The label list of the status web server: each label, its min-ready and
 * how many of its nodes are in each state, so an operator sees at a glance
 * which label is short of ready nodes and why (building, held, deleting).
 */
import type { Label } from '../config/types.js';
import { NODE_STATES, type NodeRecord, type NodeState } from '../db/records.js';
import { renderTable } from './table.js';

export const LABEL_COLUMNS = ['Label', 'Min Ready', ...NODE_STATES.map(titleOf)] as const;

function titleOf(state: string): string {
  return state.charAt(0).toUpperCase() + state.slice(1);
}

export interface LabelCounts {
  label: string;
  /** Absent for a label that is no longer configured but still has nodes. */
  minReady: number | undefined;
  counts: Record<NodeState, number>;
}

/** The configured labels in the configuration's order, then labels only nodes still carry, by name. */
export function countLabels(labels: readonly Pick<Label, 'name' | 'minReady'>[], nodes: readonly Pick<NodeRecord, 'label' | 'state'>[]): LabelCounts[] {
  const rows = new Map<string, LabelCounts>();
  const emptyCounts = () => Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const label of labels) rows.set(label.name, { label: label.name, minReady: label.minReady, counts: emptyCounts() });
  const leftovers = [...new Set(nodes.map((n) => n.label).filter((name) => !rows.has(name)))].sort();
  for (const name of leftovers) rows.set(name, { label: name, minReady: undefined, counts: emptyCounts() });
  for (const node of nodes) (rows.get(node.label) as LabelCounts).counts[node.state] += 1;
  return [...rows.values()];
}

export function labelJson(row: LabelCounts) {
  return { label: row.label, min_ready: row.minReady ?? null, ...row.counts };
}

export function labelTable(rows: readonly LabelCounts[]): string {
  return renderTable(LABEL_COLUMNS, rows.map((r) => [r.label, r.minReady, ...NODE_STATES.map((s) => r.counts[s])]));
}
