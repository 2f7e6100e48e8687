/**
 * Which nodepoold drives which provider, when several share a database
 * (docs/scaling.md). Each nodepoold keeps a row in the daemon table alive
 * (a heartbeat) and, at every beat, works out from the live daemons who
 * should own each provider (rendezvous hashing: even spread, and a daemon
 * that joins or leaves moves only its share). A provider is driven by the
 * holder of its `provider:<name>` lease, and only by it:
 *
 * - the daemon the hashing names takes a free, lapsed or dead daemon's
 *   lease, and then restores the provider's actors (`onTake`);
 * - a holder that is no longer the one named (a daemon joined, or it is
 *   draining) persists and stops the provider's actors first (`onRelease`)
 *   and then passes the lease to the one named, in one conditional update,
 *   so the provider never has two owners nor, in a handover, none;
 * - a holder that loses its lease (it could not renew it while other
 *   daemons were alive, or found another owner in it) stops the provider's
 *   actors at once and calls its cloud no more;
 * - a graceful stop passes every lease on at once, with no wait for a TTL.
 *
 * The allocation over the whole pool is one more duty handed out the same
 * way (the `nodepoold-allocation` lease), so it runs in one daemon.
 */
import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX, daemonName, parseDaemonName, providerLease, providerOfLease } from '../core/leases.js';
import { runsProgram } from '../core/processes.js';
import { rendezvousOwner } from '../core/rendezvous.js';
import type { DaemonRecord, Database, LeaseRecord } from '../db/index.js';
import type { Logger } from '../log/index.js';

/** A daemon that has not renewed its row or its leases for this long is taken for dead; its providers move. */
export const OWNERSHIP_TTL_MS = 20_000;
/** How often a daemon renews its row and leases and looks at who should own what. */
export const OWNERSHIP_BEAT_MS = 5_000;
/** The rows of daemons dead for longer than this are removed (they say, meanwhile, when a daemon was last seen). */
const FORGET_DEAD_AFTER_MS = 3_600_000;
/** Every this many beats: the dead daemons' rows are cleared, and the providers driven here are looked over for rows without actors. */
const SWEEP_EVERY_BEATS = 12;

export type ReleaseReason = 'handover' | 'lost' | 'stop';

export interface ProviderOwnershipOptions {
  db: Database;
  clock: Clock;
  log: Logger;
  /** This daemon's name, `nodepoold:<host>:<pid>` by default. */
  name?: string;
  ttlMs?: number;
  beatMs?: number;
  /** The providers to share out: those configured and any that still has nodes. */
  providers: () => Promise<readonly string[]>;
  /** This daemon now holds the provider's lease: restore its actors. */
  onTake: (provider: string) => Promise<void>;
  /** This daemon gives the provider up (or lost it): persist and stop its actors, and wait for its cloud calls under way. */
  onRelease: (provider: string, reason: ReleaseReason) => Promise<void>;
  /** Resolves when an allocation under way has written its rows (the allocation is handed over after it). */
  allocationSettled?: () => Promise<void>;
  /**
   * Now and then, while other daemons run: the provider's rows that have no
   * actor here are adopted (a `launch` change missed by the change log's
   * poll would otherwise leave a node nobody starts).
   */
  sweep?: (provider: string) => void;
  /** Whether a pid on this host still runs nodepoold; replaceable in tests. */
  holderAlive?: (pid: number) => boolean;
  /** This daemon's status web server, shown by `nodepool daemon-list`. */
  web?: () => string | null;
}

export class ProviderOwnership {
  readonly name: string;
  readonly startedAt: number;
  private readonly ttlMs: number;
  private readonly beatMs: number;
  /** The leases held, with when each lapses as this daemon last wrote it. */
  private readonly held = new Map<string, number>();
  private daemons: DaemonRecord[] = [];
  /** The daemons alive when the table was last read: worked out once per read (a pid check reads /proc). */
  private live: DaemonRecord[] = [];
  private leases: LeaseRecord[] = [];
  private draining = false;
  private timer: unknown;
  private beating: Promise<void> | undefined;
  private failing = false;
  private beats = 0;
  /** No other daemon was alive at the last beat: nobody could take a lease that lapses. */
  private alone = true;
  private phase: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(private readonly options: ProviderOwnershipOptions) {
    this.name = options.name ?? daemonName();
    this.startedAt = options.clock.now();
    this.ttlMs = options.ttlMs ?? OWNERSHIP_TTL_MS;
    this.beatMs = options.beatMs ?? OWNERSHIP_BEAT_MS;
  }

  /**
   * Whether this daemon drives the provider now: it holds the lease, and,
   * while other daemons run, the lease has not lapsed by this host's clock
   * (a process that was stalled past its lease calls no cloud until its
   * next beat has renewed it, or found it gone).
   */
  owns(provider: string): boolean {
    const expiresAt = this.held.get(providerLease(provider));
    return expiresAt !== undefined && (this.alone || this.options.clock.now() < expiresAt);
  }

  /** Whether this daemon runs the allocation over the whole pool now. */
  allocates(): boolean {
    return this.held.has(ALLOCATION_LEASE);
  }

  /** The providers this daemon drives now. */
  ownedProviders(): string[] {
    return [...this.held.keys()].map(providerOfLease).filter((p): p is string => p !== undefined);
  }

  /**
   * The providers that a live daemon drives, as of the last beat: the
   * allocation launches only there (a dead daemon's providers wait for their
   * new owner rather than get nodes nobody starts).
   */
  drivenProviders(): Set<string> {
    const now = this.options.clock.now();
    const alive = new Set(this.live.map((d) => d.name));
    const driven = new Set(this.ownedProviders());
    for (const lease of this.leases) {
      const provider = providerOfLease(lease.name);
      if (provider !== undefined && now < lease.expiresAt && alive.has(lease.owner)) driven.add(provider);
    }
    return driven;
  }

  /** A fresh read of the daemon table, and who in it is alive. */
  private see(daemons: DaemonRecord[], now: number): void {
    this.daemons = daemons;
    this.live = daemons.filter((d) => d.name === this.name || this.isAlive(d, now));
  }

  /** Registers this daemon and takes its share; then beats until stopped. */
  async start(): Promise<void> {
    if (this.phase !== 'new') return;
    this.phase = 'running';
    await this.beat();
    this.schedule();
  }

  /** One beat now (tests, and a change that should not wait for the next one); nothing once stopped. */
  beat(): Promise<void> {
    if (this.phase !== 'running') return Promise.resolve();
    this.beating ??= this.beatOnce().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  /** The daemon is stopping: no more beats, so nothing is taken while its actors stop. */
  async stopBeating(): Promise<void> {
    if (this.phase !== 'running') return;
    this.phase = 'stopping';
    this.options.clock.clearTimeout(this.timer);
    await this.beating?.catch(() => {});
  }

  /**
   * The graceful end: every lease passes to the daemon that should have it
   * without this one (the actors are already stopped and their states
   * written), and this daemon's row goes.
   */
  async stop(): Promise<void> {
    if (this.phase !== 'running' && this.phase !== 'stopping') return;
    await this.stopBeating();
    this.phase = 'stopped';
    const { db, clock, log } = this.options;
    // Read afresh: a daemon that stopped since the last beat must not be handed anything.
    this.see(await db.daemons.list().catch(() => this.daemons), clock.now());
    const others = this.candidates().filter((name) => name !== this.name);
    // What is held here, and what another daemon handed here since the last beat (not taken yet, but in this daemon's name).
    const handedHere = (await db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX, ALLOCATION_LEASE).catch(() => [])).filter((l) => l.owner === this.name).map((l) => l.name);
    for (const lease of new Set([...this.held.keys(), ...handedHere])) {
      this.held.delete(lease);
      const next = rendezvousOwner(lease, others);
      try {
        if (next !== undefined && (await db.leases.transfer(lease, this.name, next, this.ttlMs, clock.now()))) {
          log.info({ lease, to: next }, `handed ${describeLease(lease)} to ${next}`);
        } else {
          await db.leases.release(lease, this.name);
        }
      } catch (err) {
        log.warn({ err, lease }, `could not hand ${describeLease(lease)} over; it lapses in ${this.ttlMs / 1000} s`);
      }
    }
    await db.daemons.remove(this.name).catch((err: unknown) => log.warn({ err }, 'could not remove this daemon from the daemon table'));
  }

  private schedule(): void {
    if (this.phase !== 'running') return;
    this.timer = this.options.clock.setTimeout(() => {
      void this.beat().finally(() => this.schedule());
    }, this.beatMs);
  }

  private async beatOnce(): Promise<void> {
    const { db, clock, log } = this.options;
    try {
      // Five statements at a quiet beat: the row, the daemons, the leases, the providers with nodes, the renewal.
      const now = clock.now();
      const self = parseDaemonName(this.name) ?? { host: hostname(), pid: process.pid };
      await db.daemons.heartbeat({ name: this.name, host: self.host, pid: self.pid, startedAt: this.startedAt, web: this.options.web?.() ?? null }, this.ttlMs, now);
      this.see(await db.daemons.list(), now);
      // A command (`nodepool daemon-drain`) sets the flag in this daemon's row.
      this.draining = this.daemons.find((d) => d.name === this.name)?.draining ?? false;
      this.alone = this.live.length === 1;
      this.leases = await db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX, ALLOCATION_LEASE);
      const duties = [...(await this.options.providers()).map(providerLease), ALLOCATION_LEASE];
      await this.renewHeld(now);
      for (const lease of duties) {
        if (this.phase !== 'running') return;
        await this.settle(lease, now);
      }
      // A provider that is neither configured nor has nodes any more needs no owner.
      for (const lease of [...this.held.keys()].filter((l) => !duties.includes(l))) {
        await this.release(lease, 'handover');
        await db.leases.release(lease, this.name);
      }
      this.beats += 1;
      if (this.beats % SWEEP_EVERY_BEATS === 0) {
        await db.daemons.removeExpiredBefore(now - FORGET_DEAD_AFTER_MS);
        if (!this.alone) for (const provider of this.ownedProviders()) this.options.sweep?.(provider);
      }
      if (this.failing) log.info('the daemon table and the provider leases are renewed again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) log.warn({ err }, 'cannot renew this daemon\'s row and leases; trying again');
      this.failing = true;
      await this.fenceLapsing();
    }
  }

  /**
   * The leases held here that the rows still give to this daemon, renewed
   * in one statement; when one of them was not, each is renewed alone, and
   * one that cannot be is lost.
   */
  private async renewHeld(now: number): Promise<void> {
    const { db } = this.options;
    const mine = [...this.held.keys()].filter((lease) => this.leases.find((l) => l.name === lease)?.owner === this.name);
    if (await db.leases.renewAll(mine, this.name, this.ttlMs, now)) {
      for (const lease of mine) this.held.set(lease, now + this.ttlMs);
      return;
    }
    for (const lease of mine) {
      if (await db.leases.renew(lease, this.name, this.ttlMs, now)) this.held.set(lease, now + this.ttlMs);
      else await this.lose(lease, undefined);
    }
  }

  /** One lease: handed over, taken, lost, or left alone (renewed already). */
  private async settle(lease: string, now: number): Promise<void> {
    const { db, log } = this.options;
    const row = this.leases.find((l) => l.name === lease);
    const wanted = rendezvousOwner(lease, this.candidates());
    if (this.held.has(lease)) {
      if (row?.owner !== this.name) return this.lose(lease, row?.owner);
      if (wanted !== undefined && wanted !== this.name) {
        await this.release(lease, 'handover');
        if (await db.leases.transfer(lease, this.name, wanted, this.ttlMs, this.options.clock.now())) {
          log.info({ lease, to: wanted }, `handed ${describeLease(lease)} to ${wanted}`);
        }
      }
      return;
    }
    // Handed to this daemon by its previous owner: it is ours, whoever the hashing names now (the next beat moves it on if need be).
    const handedHere = row?.owner === this.name && now < row.expiresAt;
    if (!handedHere && wanted !== this.name) return;
    let taken: boolean;
    if (handedHere) taken = await db.leases.renew(lease, this.name, this.ttlMs, now);
    else if (!row || now >= row.expiresAt) taken = await db.leases.tryAcquire(lease, this.name, this.ttlMs, now);
    else if (!this.daemonAlive(row.owner)) taken = await db.leases.transfer(lease, row.owner, this.name, this.ttlMs, now);
    else return;
    if (!taken) return;
    this.held.set(lease, now + this.ttlMs);
    const previous = handedHere ? 'its previous owner' : row ? row.owner : 'nobody';
    log.info({ lease, from: row?.owner }, `took ${describeLease(lease)} (from ${previous})`);
    const provider = providerOfLease(lease);
    if (provider === undefined) return;
    try {
      await this.options.onTake(provider);
    } catch (err) {
      // Its actors could not be restored (the database went): give it back, the next beat tries again.
      log.error({ err, provider }, `could not take provider ${provider} over; giving it back`);
      this.held.delete(lease);
      await this.options.onRelease(provider, 'lost').catch(() => {});
      await db.leases.release(lease, this.name);
    }
  }

  /** Someone else holds the lease now (it lapsed while we could not renew it, or it was changed by hand). */
  private async lose(lease: string, owner: string | undefined): Promise<void> {
    this.options.log.error({ lease, owner }, `lost ${describeLease(lease)}${owner ? ` to ${owner}` : ''}; its actors stop here`);
    await this.release(lease, 'lost');
  }

  private async release(lease: string, reason: ReleaseReason): Promise<void> {
    this.held.delete(lease);
    const provider = providerOfLease(lease);
    if (provider !== undefined) await this.options.onRelease(provider, reason);
    else await this.options.allocationSettled?.();
  }

  /**
   * The database does not answer: a lease that lapses before we can renew
   * it may be taken by another live daemon, so its provider stops here a
   * beat before it lapses. Alone (no other daemon was alive at the last
   * beat), nobody can take it: the actors go on through the outage, as a
   * single nodepoold's always did.
   */
  private async fenceLapsing(): Promise<void> {
    if (this.alone) return;
    const now = this.options.clock.now();
    for (const [lease, expiresAt] of [...this.held]) {
      if (now >= expiresAt - this.beatMs) await this.lose(lease, undefined);
    }
  }

  /** The daemons the hashing chooses among: the live ones not draining, or every live one if all drain. */
  private candidates(): string[] {
    const live = this.live;
    const willing = live.filter((d) => !d.draining);
    return (willing.length > 0 ? willing : live).map((d) => d.name);
  }

  private daemonAlive(name: string): boolean {
    return this.live.some((d) => d.name === name);
  }

  /** Renewed lately, and, on this host, its process still runs (a restart after a crash does not wait out the TTL). */
  private isAlive(daemon: DaemonRecord, now: number): boolean {
    if (now >= daemon.expiresAt) return false;
    const parsed = parseDaemonName(daemon.name);
    if (!parsed || parsed.host !== hostname() || parsed.pid === process.pid) return true;
    return (this.options.holderAlive ?? ((pid: number) => runsProgram(pid, 'nodepoold')))(parsed.pid);
  }
}

function describeLease(lease: string): string {
  const provider = providerOfLease(lease);
  return provider !== undefined ? `provider ${provider}` : 'the allocation';
}
