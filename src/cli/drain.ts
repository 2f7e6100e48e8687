/**
 * `nodepoold --drain -p PIDFILE`: the running nodepoold of that pid file
 * (or the only one on this host) hands its providers and the allocation to
 * the other daemons, and this command waits until it drives nothing, so it
 * can be stopped and upgraded without its providers pausing for a lease
 * (docs/scaling.md, "Rolling operations"). The daemon keeps running;
 * `nodepool daemon-undrain` takes it back.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX, daemonLabel, parseDaemonName, providerOfLease } from '../core/leases.js';
import type { Database, DaemonRecord } from '../db/index.js';
import { withContext } from './context.js';
import type { NodepooldOptions } from './daemon-programs.js';
import { CommandFailure } from './failure.js';
import type { Output } from './output.js';

export interface DrainTimings {
  /** How long to wait for the daemon to give everything away. Default 120 s. */
  boundMs?: number;
  pollMs?: number;
}

export async function drainRunningDaemon(options: NodepooldOptions, out: Output, timings: DrainTimings = {}): Promise<void> {
  const globals = { config: options.c, ...(options.s && { secure: options.s }), ...(options.l && { logconfig: options.l }) };
  await withContext(globals, ({ db }) => drain(db, options.p, out, timings));
}

async function drain(db: Database, pidFile: string | undefined, out: Output, { boundMs = 120_000, pollMs = 500 }: DrainTimings): Promise<void> {
  const now = Date.now();
  const daemons = await db.daemons.list();
  const daemon = pidFile ? daemonOfPidFile(daemons, pidFile) : onlyDaemonHere(daemons, now);
  const label = daemonLabel(daemon.name);
  const others = daemons.filter((d) => d.name !== daemon.name && now < d.expiresAt && !d.draining);
  if (others.length === 0) {
    throw new CommandFailure(`no other nodepoold is running on this database to take the providers of ${label}; start one first`, { code: 'NP_DAEMON_DRAIN' });
  }
  await db.daemons.setDraining(daemon.name, true);
  out.out(`Daemon ${label} is draining; waiting until ${others.map((d) => daemonLabel(d.name)).join(', ')} drive its providers.`);
  const until = Date.now() + boundMs;
  for (;;) {
    const held = await heldBy(db, daemon.name);
    if (held.length === 0) break;
    if (Date.now() > until) {
      throw new CommandFailure(`daemon ${label} still drives ${held.join(', ')} after ${boundMs / 1000} s (is it running? \`nodepool daemon-list\`)`, { code: 'NP_DAEMON_DRAIN' });
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  out.out(`Daemon ${label} drives nothing now: stop it when you will. \`nodepool daemon-undrain ${label}\` takes it back.`);
}

/** What the daemon still holds: its providers, and the allocation. */
async function heldBy(db: Database, name: string): Promise<string[]> {
  const now = Date.now();
  const leases = await db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX, ALLOCATION_LEASE);
  return leases.filter((l) => l.owner === name && now < l.expiresAt).map((l) => providerOfLease(l.name) ?? 'the allocation');
}

function daemonOfPidFile(daemons: readonly DaemonRecord[], pidFile: string): DaemonRecord {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch (err) {
    throw new CommandFailure(`cannot read the pid file ${pidFile}: ${(err as Error).message}`, { code: 'NP_DAEMON_DRAIN' });
  }
  const daemon = daemons.find((d) => d.host === hostname() && d.pid === pid);
  if (!daemon) throw new CommandFailure(`no nodepoold with pid ${pid} (from ${pidFile}) on this host uses this database`, { code: 'NP_DAEMON_DRAIN' });
  return daemon;
}

function onlyDaemonHere(daemons: readonly DaemonRecord[], now: number): DaemonRecord {
  const here = daemons.filter((d) => parseDaemonName(d.name)?.host === hostname() && now < d.expiresAt);
  if (here.length === 1) return here[0] as DaemonRecord;
  const which = here.length === 0 ? 'no nodepoold of this host uses this database' : `${here.length} nodepoold run on this host (${here.map((d) => daemonLabel(d.name)).join(', ')})`;
  throw new CommandFailure(`${which}: name the one to drain with -p PIDFILE, or use \`nodepool daemon-drain HOST:PID\``, { code: 'NP_DAEMON_DRAIN' });
}
