/**
 * `nodepool provider-list`, `daemon-list`, `daemon-drain` and
 * `daemon-undrain`: the nodepoold sharing the database and the providers
 * each drives (its `provider:<name>` leases). They read and write the
 * database only, so they work from any host that reaches it; a daemon sees
 * a drain at its next beat and hands its providers over to the others.
 */
import type { NodepoolConfig } from '../../config/types.js';
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX, daemonLabel } from '../../core/leases.js';
import type { Database } from '../../db/index.js';
import type { DaemonRecord } from '../../db/records.js';
import { jsonRows } from '../../listings/json.js';
import { daemonJson, daemonRows, daemonTable, providerJson, providerRows, providerTable } from '../../listings/provider-rows.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import type { ListingOptions } from './nodes.js';

export async function listProviders(db: Database, config: Pick<NodepoolConfig, 'providers'>, out: Output, options: ListingOptions, now = Date.now()): Promise<void> {
  const [leases, counts] = await Promise.all([db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX), db.nodes.countBy()]);
  const rows = providerRows(config.providers, leases, counts, now);
  out.out(options.json ? jsonRows(rows.map(providerJson)) : providerTable(rows));
}

export async function listDaemons(db: Database, out: Output, options: ListingOptions, now = Date.now()): Promise<void> {
  const [daemons, leases, allocator] = await Promise.all([
    db.daemons.list(),
    db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX),
    db.leases.holder(ALLOCATION_LEASE, now),
  ]);
  const rows = daemonRows(daemons, leases, allocator?.owner, now);
  out.out(options.json ? jsonRows(rows.map((r) => daemonJson(r, now))) : daemonTable(rows, now));
}

/** The daemon a person named: by its full name (`nodepoold:host:pid`) or as the listings show it (`host:pid`). */
export function findDaemon(daemons: readonly DaemonRecord[], given: string): DaemonRecord | undefined {
  return daemons.find((d) => d.name === given) ?? daemons.find((d) => daemonLabel(d.name) === given);
}

/** `daemon-drain NAME` (draining true) and `daemon-undrain NAME` (false). */
export async function setDaemonDraining(db: Database, out: Output, given: string, draining: boolean): Promise<void> {
  const daemons = await db.daemons.list();
  const daemon = findDaemon(daemons, given);
  if (!daemon) {
    const known = daemons.map((d) => daemonLabel(d.name));
    throw new CommandFailure(
      `No daemon ${given}; ${known.length > 0 ? `known daemons: ${known.join(', ')}` : 'no nodepoold has written its row to this database'}.`,
    );
  }
  const label = daemonLabel(daemon.name);
  if (!(await db.daemons.setDraining(daemon.name, draining))) {
    // Its row went between the read and the write: it stopped meanwhile.
    throw new CommandFailure(`Daemon ${label} is gone (it stopped meanwhile); nothing was changed.`);
  }
  const dead = Date.now() >= daemon.expiresAt ? ' It has not been seen since its row expired: it acts on this only if it comes back.' : '';
  out.out(
    draining
      ? `Daemon ${label} is draining: at its next beat it hands its providers over to the other daemons.${dead}`
      : `Daemon ${label} is no longer draining: it takes providers again at its next beat.${dead}`,
  );
}
