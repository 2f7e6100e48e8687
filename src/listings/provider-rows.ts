/**
 * Who drives what when several nodepoold share one database
 * (`nodepool provider-list`, `daemon-list`, their pages on the status web
 * server): each provider with the daemon holding its `provider:<name>`
 * lease, and each daemon with the providers it holds. Pure: the command or
 * the web server reads the rows, these functions draw them.
 */
import type { DaemonRecord, LeaseRecord } from '../db/records.js';
import { daemonLabel, providerOfLease } from '../core/leases.js';
import { formatAge, renderTable } from './table.js';

export const PROVIDER_COLUMNS = ['Provider', 'Manager', 'Lease', 'Expires', 'Nodes', 'Max Servers'] as const;

export const DAEMON_COLUMNS = ['Name', 'Host', 'PID', 'Started', 'Last Seen', 'State', 'Providers', 'Allocates', 'Web'] as const;

/** A lease is held while now < expiresAt (src/db/leases.ts). */
export function leaseHeld(lease: Pick<LeaseRecord, 'expiresAt'>, now: number): boolean {
  return now < lease.expiresAt;
}

/**
 * Each provider whose lease is held now, to its owner as people read it
 * (`host:pid`): the Manager of a node no Gearman manager took.
 */
export function providerOwners(leases: readonly LeaseRecord[], now: number): Map<string, string> {
  const owners = new Map<string, string>();
  for (const lease of leases) {
    const provider = providerOfLease(lease.name);
    if (provider !== undefined && leaseHeld(lease, now)) owners.set(provider, daemonLabel(lease.owner));
  }
  return owners;
}

export interface ProviderRow {
  provider: string;
  /** The holder of its lease, `host:pid`; absent when nobody holds it (none, or lapsed). */
  manager: string | undefined;
  /** The full owner name of the lease row, even a lapsed one. */
  owner: string | undefined;
  lease: 'held' | 'lapsed' | 'none';
  /** Seconds until the lease lapses (held), or since it lapsed (negative); absent without a lease row. */
  expiresIn: number | undefined;
  nodes: number;
  /** Absent when the provider is not in the configuration. */
  maxServers: number | undefined;
}

/**
 * The configured providers in the configuration's order, then any other
 * provider a lease or a node row still names, by name.
 */
export function providerRows(
  configured: readonly { name: string; maxServers: number }[],
  leases: readonly LeaseRecord[],
  nodeCounts: readonly { provider: string; count: number }[],
  now: number,
): ProviderRow[] {
  const leaseOf = new Map<string, LeaseRecord>();
  for (const lease of leases) {
    const provider = providerOfLease(lease.name);
    if (provider !== undefined) leaseOf.set(provider, lease);
  }
  const nodesOf = new Map<string, number>();
  for (const c of nodeCounts) nodesOf.set(c.provider, (nodesOf.get(c.provider) ?? 0) + c.count);
  const maxOf = new Map(configured.map((p) => [p.name, p.maxServers]));
  const others = [...new Set([...leaseOf.keys(), ...nodesOf.keys()])].filter((name) => !maxOf.has(name)).sort();
  return [...configured.map((p) => p.name), ...others].map((provider) => {
    const lease = leaseOf.get(provider);
    const held = lease !== undefined && leaseHeld(lease, now);
    return {
      provider,
      manager: held ? daemonLabel(lease.owner) : undefined,
      owner: lease?.owner,
      lease: lease === undefined ? 'none' : held ? 'held' : 'lapsed',
      expiresIn: lease === undefined ? undefined : held ? Math.ceil((lease.expiresAt - now) / 1000) : -Math.floor((now - lease.expiresAt) / 1000),
      nodes: nodesOf.get(provider) ?? 0,
      maxServers: maxOf.get(provider),
    };
  });
}

function leaseText(row: ProviderRow): string {
  if (row.lease !== 'lapsed') return row.lease;
  return `lapsed ${-(row.expiresIn ?? 0)}s ago`;
}

export function providerTable(rows: readonly ProviderRow[]): string {
  return renderTable(
    PROVIDER_COLUMNS,
    rows.map((r) => [r.provider, r.manager, leaseText(r), r.lease === 'held' ? r.expiresIn : undefined, r.nodes, r.maxServers]),
  );
}

/** `provider-list --json`, `/provider-list.json`: stable keys, null where the table is blank. */
export function providerJson(row: ProviderRow) {
  return {
    provider: row.provider,
    manager: row.manager ?? null,
    owner: row.owner ?? null,
    lease: row.lease,
    expires_in: row.expiresIn ?? null,
    nodes: row.nodes,
    max_servers: row.maxServers ?? null,
  };
}

export type DaemonState = 'alive' | 'draining' | 'dead';

export interface DaemonRow {
  /** Its full name, `nodepoold:<host>:<pid>`. */
  name: string;
  /** As people read it, `host:pid`. */
  label: string;
  host: string;
  pid: number;
  startedAt: number;
  renewedAt: number;
  state: DaemonState;
  /** The providers whose lease it holds now, by name. */
  providers: string[];
  /** Whether it holds the allocation lease now. */
  allocates: boolean;
  web: string | null;
}

/** Dead once its row is not renewed by its expiry, whatever it said of itself; draining otherwise when it said so. */
export function daemonState(daemon: Pick<DaemonRecord, 'expiresAt' | 'draining'>, now: number): DaemonState {
  if (now >= daemon.expiresAt) return 'dead';
  return daemon.draining ? 'draining' : 'alive';
}

/**
 * The daemon table's rows, each with the provider leases it holds now;
 * `allocator` is the holder of the allocation lease, if anyone holds it.
 */
export function daemonRows(daemons: readonly DaemonRecord[], providerLeases: readonly LeaseRecord[], allocator: string | undefined, now: number): DaemonRow[] {
  const held = new Map<string, string[]>();
  for (const lease of providerLeases) {
    const provider = providerOfLease(lease.name);
    if (provider === undefined || !leaseHeld(lease, now)) continue;
    held.set(lease.owner, [...(held.get(lease.owner) ?? []), provider]);
  }
  return daemons.map((d) => ({
    name: d.name,
    label: daemonLabel(d.name),
    host: d.host,
    pid: d.pid,
    startedAt: d.startedAt,
    renewedAt: d.renewedAt,
    state: daemonState(d, now),
    providers: (held.get(d.name) ?? []).sort(),
    allocates: allocator !== undefined && allocator === d.name,
    web: d.web,
  }));
}

export function daemonTable(rows: readonly DaemonRow[], now: number): string {
  return renderTable(
    DAEMON_COLUMNS,
    rows.map((r) => [
      r.label, r.host, r.pid, formatAge(r.startedAt, now), formatAge(r.renewedAt, now), r.state, r.providers.join(','), r.allocates ? 'yes' : 'no', r.web,
    ]),
  );
}

/** `daemon-list --json`, `/daemon-list.json`. */
export function daemonJson(row: DaemonRow, now: number) {
  return {
    name: row.label,
    daemon: row.name,
    host: row.host,
    pid: row.pid,
    started: formatAge(row.startedAt, now),
    started_at: row.startedAt,
    last_seen: formatAge(row.renewedAt, now),
    renewed_at: row.renewedAt,
    state: row.state,
    providers: row.providers,
    allocates: row.allocates,
    web: row.web,
  };
}
