/**
 * One nodepoold per database (docs/architecture.md, "One nodepoold per
 * database"): two would drive the same node actors against each other. A
 * nodepoold takes the `nodepoold` lease before its pool starts and renews it
 * while it runs (a heartbeat); a second one is refused with the holder's
 * host and pid. The lease is taken over when its holder is dead: at once
 * when the holder was on this host and its pid no longer runs nodepoold (a
 * restart after a crash does not wait), otherwise once the holder has not
 * renewed it for the lease's time. nodepool-builder takes no part: builders
 * share the database by design.
 */
import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import { NodepoolError } from '../core/errors.js';
import { DATABASE_LEASE, leaseOwner } from '../core/leases.js';
import { runsProgram } from '../core/processes.js';
import type { LeaseRepository } from '../db/leases.js';
import type { Logger } from '../log/index.js';

/** A holder that has not renewed the lease for this long is taken to be dead. */
export const DATABASE_LEASE_TTL_MS = 30_000;
/** How often the holder renews it: three chances before it lapses. */
export const DATABASE_LEASE_RENEW_MS = 10_000;

/** A lease owner as nodepoold writes it, `nodepoold:<host>:<pid>`. */
export function parseDaemonOwner(owner: string): { host: string; pid: number } | undefined {
  const match = /^nodepoold:(.+):(\d+)$/.exec(owner);
  return match ? { host: match[1] as string, pid: Number(match[2]) } : undefined;
}

export interface DatabaseLeaseOptions {
  leases: LeaseRepository;
  clock: Clock;
  log: Logger;
  /** This process as the owner; default `nodepoold:<host>:<pid>`. */
  owner?: string;
  /** Whether a pid on this host still runs nodepoold; replaceable in tests. */
  holderAlive?: (pid: number) => boolean;
  ttlMs?: number;
  renewMs?: number;
  /** Another nodepoold took the lease (this one was taken for dead): it must stop. */
  onLost?: (holder: string) => void;
}

export class DatabaseLease {
  private readonly owner: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private timer: unknown;
  private failing = false;
  private held = false;

  constructor(private readonly options: DatabaseLeaseOptions) {
    this.owner = options.owner ?? leaseOwner('nodepoold');
    this.ttlMs = options.ttlMs ?? DATABASE_LEASE_TTL_MS;
    this.renewMs = options.renewMs ?? DATABASE_LEASE_RENEW_MS;
  }

  /** Takes the lease and starts the heartbeat, or throws NP_DAEMON_DATABASE_IN_USE naming the holder. */
  async take(): Promise<void> {
    const { leases, clock } = this.options;
    if (!(await leases.tryAcquire(DATABASE_LEASE, this.owner, this.ttlMs, clock.now()))) {
      const holder = await leases.holder(DATABASE_LEASE, clock.now());
      if (holder && !this.deadOnThisHost(holder.owner)) throw this.inUse(holder.owner, holder.expiresAt);
      // The holder was a nodepoold of this host that is gone: its lease is ours at once.
      await leases.release(DATABASE_LEASE, holder?.owner ?? '');
      if (!(await leases.tryAcquire(DATABASE_LEASE, this.owner, this.ttlMs, clock.now()))) {
        const now = await leases.holder(DATABASE_LEASE, clock.now());
        throw this.inUse(now?.owner ?? 'another nodepoold', now?.expiresAt ?? clock.now());
      }
      this.options.log.info({ previous: holder?.owner }, `took over the database from ${holder?.owner ?? 'a nodepoold'}, which is no longer running`);
    }
    this.held = true;
    this.schedule();
  }

  /** Throws as `take` would, without taking the lease (a start that is about to detach checks first). */
  async check(): Promise<void> {
    const { leases, clock } = this.options;
    const holder = await leases.holder(DATABASE_LEASE, clock.now());
    if (holder && holder.owner !== this.owner && !this.deadOnThisHost(holder.owner)) throw this.inUse(holder.owner, holder.expiresAt);
  }

  /** Stops the heartbeat and gives the lease up, so the next nodepoold starts at once. */
  async release(): Promise<void> {
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    await this.options.leases.release(DATABASE_LEASE, this.owner);
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimeout(() => void this.renew(), this.renewMs);
  }

  private async renew(): Promise<void> {
    const { leases, clock, log } = this.options;
    try {
      const renewed = await leases.renew(DATABASE_LEASE, this.owner, this.ttlMs, clock.now());
      if (this.failing) log.info('the database lease is renewed again');
      this.failing = false;
      if (!renewed) {
        // Not ours any more: taken over while we could not renew it, or removed by hand.
        const holder = await leases.holder(DATABASE_LEASE, clock.now());
        if (!holder || holder.owner === this.owner) {
          if (await leases.tryAcquire(DATABASE_LEASE, this.owner, this.ttlMs, clock.now())) return this.scheduleIfHeld();
        }
        this.held = false;
        const other = holder?.owner ?? 'another nodepoold';
        log.error({ holder: other }, `the database lease was taken over by ${describeOwner(other)}; this nodepoold stops`);
        this.options.onLost?.(other);
        return;
      }
    } catch (err) {
      // The database did not answer: try again at the next beat; the lease lasts three of them.
      if (!this.failing) log.warn({ err }, 'cannot renew the database lease; trying again');
      this.failing = true;
    }
    this.scheduleIfHeld();
  }

  private scheduleIfHeld(): void {
    if (this.held) this.schedule();
  }

  private deadOnThisHost(owner: string): boolean {
    const holder = parseDaemonOwner(owner);
    if (!holder || holder.host !== hostname()) return false;
    const alive = this.options.holderAlive ?? ((pid: number) => runsProgram(pid, 'nodepoold'));
    return holder.pid !== process.pid && !alive(holder.pid);
  }

  private inUse(owner: string, expiresAt: number): NodepoolError {
    const lapse = Math.max(0, Math.ceil((expiresAt - this.options.clock.now()) / 1000));
    return new NodepoolError(
      'NP_DAEMON_DATABASE_IN_USE',
      `another nodepoold uses this database: ${describeOwner(owner)}. Only one nodepoold may run per database; ` +
        `stop that one first (if it is dead, its lease lapses in ${lapse} s and the next start takes over)`,
    );
  }
}

function describeOwner(owner: string): string {
  const holder = parseDaemonOwner(owner);
  return holder ? `nodepoold on host ${holder.host} with pid ${holder.pid}` : owner;
}
