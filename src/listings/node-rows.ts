import type { NodeRecord } from '../db/records.js';
import { formatAge, renderTable } from './table.js';

export const NODE_COLUMNS = [
  'ID', 'Provider', 'AZ', 'Label', 'Target', 'Manager', 'Hostname', 'NodeName',
  // Job comes last, after 0.4's columns, so that a script counting columns still finds them.
  'Server ID', 'IP', 'State', 'Age', 'Comment', 'Job',
] as const;

/**
 * Who manages a node: the Gearman manager that took it, when one did;
 * otherwise the nodepoold driving its provider now (`host:pid`, from the
 * provider leases held: `owners`), blank when nobody holds the provider.
 */
export function nodeManager(node: Pick<NodeRecord, 'manager' | 'provider'>, owners?: ReadonlyMap<string, string>): string | null {
  return node.manager ?? owners?.get(node.provider) ?? null;
}

/** A node as upstream's JSON listings spelled it (node-list.json, `list --json`). */
export function nodeJson(node: NodeRecord, now: number, owners?: ReadonlyMap<string, string>) {
  return {
    id: node.id,
    provider: node.provider,
    AZ: node.az,
    label: node.label,
    target: node.target,
    manager: nodeManager(node, owners),
    hostname: node.hostname,
    node_name: node.nodename,
    server_id: node.externalId,
    ip: node.ip,
    state: node.state,
    age: formatAge(node.stateTime, now),
    comment: node.comment,
    job: node.job,
  };
}

export function nodeTable(nodes: readonly NodeRecord[], now: number, owners?: ReadonlyMap<string, string>): string {
  return renderTable(
    NODE_COLUMNS,
    nodes.map((n) => [
      n.id, n.provider, n.az, n.label, n.target, nodeManager(n, owners), n.hostname, n.nodename,
      n.externalId, n.ip, n.state, formatAge(n.stateTime, now), n.comment, n.job,
    ]),
  );
}
