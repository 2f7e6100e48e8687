/**
 * The actor host: what both daemons (and `nodepool delete --now`) run their
 * actors in (docs/architecture.md, "The actor host"). A daemon hands it one
 * or more workloads, each a root machine with its effects and a table of
 * the actor kinds it persists; the host owns, the same way for every
 * workload:
 *
 * - the actor systems, created with the injected clock;
 * - ONE inspection stream (an RxJS Subject) that persistence, the state
 *   log, the SIGUSR2 dump and any page subscribe to;
 * - persistence: every persisted actor's snapshot written with its record;
 * - history: every actor's transitions, written with the snapshots and kept
 *   bounded (docs/inspection.md);
 * - restore: saved snapshots read and checked, handed to each workload to
 *   resume its actors from;
 * - time: a `tick` to each root on its interval;
 * - reload: the configuration file watched, the gateways reconfigured, then
 *   each workload told;
 * - the commands' change log, polled and handed to the workloads;
 * - an ordered stop: streams, then new work, then the roots, then the
 *   writes, then what the workloads hold, then the gateways.
 */
import { interval, skip, Subject, type Observable, type Subscription } from 'rxjs';
import { createActor, type AnyActorRef, type AnyStateMachine, type InspectionEvent } from 'xstate';
import type { ConfigUpdate } from '../streams/config-watch.js';
import type { NodepoolConfig } from '../config/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { ChangeRecord, Database } from '../db/index.js';
import { GatewayRegistry } from '../gateway/index.js';
import type { Logger, Logging } from '../log/index.js';
import { clockScheduler, pollChanges, watchConfig } from '../streams/index.js';
import { ActorStatistics } from './actor-statistics.js';
import type { PersistedKind, SnapshotView } from './persisted-kind.js';
import { ActorPersistence } from './persistence.js';
import { loadSavedActors, type SavedActors } from './saved-actors.js';
import { TransitionRecorder } from './transition-recorder.js';
import { isDaemonLongActor } from '../../machines/actor-ids.js';

/** How often the history is pruned; a live actor keeps its last HISTORY_PER_ACTOR transitions. */
const HISTORY_PRUNE_MS = 10 * 60_000;
export const HISTORY_PER_ACTOR = 100;

/** A persisted actor whose record's state changed (or which was removed). */
export interface StateChange {
  actorId: string;
  kind: PersistedKind;
  state: string;
  previous: string | undefined;
  snapshot: SnapshotView;
}

/** What a workload's root is made of. */
export interface RootSpec {
  /** The root's actor id (`pool`, `builder`, ...). */
  id: string;
  logic: AnyStateMachine;
  input: unknown;
  /** How often the root hears the time. */
  tickMs: number;
}

/** What a workload is given once its root runs. */
export interface WorkloadStart {
  root: AnyActorRef;
  /** Saved snapshots of the workload's kinds that can be resumed. */
  saved: SavedActors;
}

/** A daemon's part of the host: its root machine and what it does around it. */
export interface Workload {
  readonly name: string;
  /** The actor kinds it persists. */
  readonly kinds: readonly PersistedKind[];
  /** Before the root is made (a builder removes stray files). */
  prepare?(): Promise<void>;
  root(): RootSpec;
  /** After the root started: resume the saved actors, start what else it runs. */
  start(start: WorkloadStart): Promise<void>;
  /** A valid new configuration, after the gateways took it. */
  reconfigure?(update: ConfigUpdate): void;
  /** A command changed a record (the change log). */
  onChange?(change: ChangeRecord): Promise<void>;
  /** The record of one of its actors was removed under it. */
  recordGone?(actorId: string): void;
  /** One of its actors changed state (once per change). */
  stateChanged?(change: StateChange): void;
  /** The database answers again after an outage, and the states kept meanwhile are written. */
  databaseCaughtUp?(): void;
  /** Stop starting work; the root still runs. */
  stopping?(): Promise<void>;
  /** The root is stopped: wait for effects that clean up after themselves (a killed build). */
  drain?(): Promise<void>;
  /** Every write has landed: give up what is held (leases). */
  stopped?(): Promise<void>;
}

export interface ActorHostOptions {
  db: Database;
  logging: Logging;
  config: NodepoolConfig;
  clock?: Clock;
  /** Re-read while running when given. */
  configFile?: string;
  /** How often the file is re-read even without a change event. */
  configReadMs?: number;
  /** How often the commands' change log is read. */
  changePollMs?: number;
  /** The gateways; default a registry of the host's own, closed with it. */
  gateways?: GatewayRegistry;
}

interface Hosted {
  workload: Workload;
  spec: RootSpec;
  root: AnyActorRef;
}

export class ActorHost {
  readonly clock: Clock;
  readonly gateways: GatewayRegistry;
  private currentConfig: NodepoolConfig;
  private readonly log: Logger;
  private readonly inspectionEvents = new Subject<InspectionEvent>();
  private readonly workloads: Workload[] = [];
  private readonly hosted: Hosted[] = [];
  /** The streams that bring work in: stopped first. */
  private readonly subscriptions: Subscription[] = [];
  /** Persistence and the state log: they listen until the last write of the stop. */
  private inspectionSubscription: Subscription | undefined;
  private readonly ownGateways: boolean;
  private readonly statistics = new ActorStatistics();
  private readonly states = new Map<string, string>();
  private persistence: ActorPersistence | undefined;
  private recorder: TransitionRecorder | undefined;
  private phase: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(private readonly options: ActorHostOptions) {
    this.clock = options.clock ?? systemClock;
    this.currentConfig = options.config;
    this.log = options.logging.get('nodepool.actors');
    this.ownGateways = options.gateways === undefined;
    this.gateways = options.gateways ?? new GatewayRegistry({ logging: options.logging, clock: this.clock });
  }

  /** The configuration in force now. */
  get config(): NodepoolConfig {
    return this.currentConfig;
  }

  get db(): Database {
    return this.options.db;
  }

  get logging(): Logging {
    return this.options.logging;
  }

  /** Every inspection event of every actor the host runs. */
  get inspection(): Observable<InspectionEvent> {
    return this.inspectionEvents;
  }

  /** The root actors, for the SIGUSR2 dump and tests. */
  roots(): AnyActorRef[] {
    return this.hosted.map((h) => h.root);
  }

  /** Events received per live actor (from the inspection stream), for the SIGUSR2 dump. */
  eventsReceived(actorId: string): number {
    return this.statistics.eventsOf(actorId);
  }

  /** Resolves when every snapshot write asked for so far has landed. */
  flush(): Promise<void> {
    return this.persistence?.flush() ?? Promise.resolve();
  }

  add(workload: Workload): this {
    if (this.phase !== 'new') throw new Error('workloads are added before the host starts');
    this.workloads.push(workload);
    return this;
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error('the actor host starts once');
    this.phase = 'running';
    const { db } = this.options;
    const kinds = this.workloads.flatMap((w) => w.kinds);
    this.persistence = new ActorPersistence(
      db,
      kinds,
      this.options.logging.get('nodepool.db'),
      this.clock,
      (actorId, kind) => this.workloadOf(kind)?.recordGone?.(actorId),
      () => {
        for (const workload of this.workloads) workload.databaseCaughtUp?.();
      },
    );
    const persistence = this.persistence;
    this.recorder = new TransitionRecorder(this.clock, (transition) => persistence.noteTransition(transition));
    const recorder = this.recorder;
    this.inspectionSubscription = this.inspectionEvents.subscribe((event) => {
      this.statistics.note(event);
      recorder.note(event);
      this.noteSnapshot(event);
    });
    const saved = await loadSavedActors(db, kinds, this.log);
    // Read before any actor runs: a command issued from now on is seen by the poll.
    const lastChange = this.workloads.some((w) => w.onChange) ? await db.changes.latestId() : 0;
    for (const workload of this.workloads) {
      await workload.prepare?.();
      const spec = workload.root();
      const root = createActor(spec.logic, {
        id: spec.id,
        systemId: spec.id,
        input: spec.input as never,
        clock: this.clock,
        inspect: (event) => this.inspectionEvents.next(event),
      });
      root.start();
      this.hosted.push({ workload, spec, root });
      const own = new Map([...saved].filter(([actorId]) => workload.kinds.some((k) => k.owns(actorId))));
      await workload.start({ root, saved: own });
    }
    this.startStreams(lastChange);
  }

  /** Stops in order, so that nothing in flight is lost and a restart resumes it. */
  async stop(): Promise<void> {
    if (this.phase !== 'running') return;
    this.phase = 'stopping';
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    const reversed = [...this.hosted].reverse();
    for (const { workload } of reversed) await workload.stopping?.().catch((err: unknown) => this.stopFailed(workload, err));
    this.persistence?.writeTransitions();
    await this.flush();
    for (const { root } of reversed) root.stop();
    for (const { workload } of reversed) await workload.drain?.().catch((err: unknown) => this.stopFailed(workload, err));
    this.persistence?.writeTransitions();
    await this.flush();
    for (const { workload } of reversed) await workload.stopped?.().catch((err: unknown) => this.stopFailed(workload, err));
    this.inspectionSubscription?.unsubscribe();
    if (this.ownGateways) await this.gateways.close();
    this.phase = 'stopped';
  }

  private stopFailed(workload: Workload, err: unknown): void {
    this.log.warn({ err, workload: workload.name }, `${workload.name}: a step of the stop failed; what it held lapses on its own`);
  }

  private workloadOf(kind: PersistedKind): Workload | undefined {
    return this.workloads.find((w) => w.kinds.includes(kind));
  }

  /** Persistence and the once-per-change state stream, from one snapshot event. */
  private noteSnapshot(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot' || !this.persistence) return;
    const actor = event.actorRef as AnyActorRef;
    const kind = this.persistence.kindOf(actor.id);
    if (!kind) return;
    const snapshot = event.snapshot as unknown as SnapshotView;
    this.persistence.noteSnapshot(actor, snapshot);
    if (snapshot.status === 'stopped') {
      // Stopped here (the process stops, or another nodepoold drives its provider now): resumed later, it starts its story afresh, as after a restart.
      this.states.delete(actor.id);
      return;
    }
    const state = snapshot.status === 'done' ? 'removed' : kind.stateOf(snapshot);
    const previous = this.states.get(actor.id);
    if (previous === state) return;
    if (state === 'removed') this.states.delete(actor.id);
    else this.states.set(actor.id, state);
    this.workloadOf(kind)?.stateChanged?.({ actorId: actor.id, kind, state, previous, snapshot });
  }

  private startStreams(lastChange: number): void {
    const scheduler = clockScheduler(this.clock);
    for (const { root, spec } of this.hosted) {
      const tick = () => root.send({ type: 'tick', now: this.clock.now() });
      tick();
      this.subscriptions.push(interval(spec.tickMs, scheduler).subscribe(tick));
    }
    this.subscriptions.push(
      interval(HISTORY_PRUNE_MS, scheduler).subscribe(() => {
        this.persistence?.writeTransitions();
        void this.pruneHistory();
      }),
    );
    if (this.workloads.some((w) => w.onChange)) {
      this.subscriptions.push(
        pollChanges(this.options.db.changes, {
          intervalMs: this.options.changePollMs ?? 1000,
          startAfter: lastChange,
          logger: this.log,
          clock: this.clock,
        }).subscribe((change) => {
          for (const workload of this.workloads) {
            workload.onChange?.(change).catch((err: unknown) => this.log.error({ err, change: change.id }, `${workload.name}: change ${change.id} could not be handled`));
          }
        }),
      );
    }
    if (this.options.configFile) {
      this.subscriptions.push(
        watchConfig(this.options.configFile, {
          intervalMs: this.options.configReadMs ?? 60_000,
          logger: this.options.logging.get('nodepool.config'),
          clock: this.clock,
          // A file changed while the daemon started is a reload, not the running configuration.
          running: this.config,
        })
          .pipe(skip(1))
          .subscribe({
            next: (update) => this.reconfigure(update),
            error: (err: unknown) => this.log.error({ err }, 'configuration watch failed; keeping the running configuration'),
          }),
      );
    }
  }

  /** Keeps the history bounded: the last transitions of each actor, and a removed actor's for `actor-history-hours`. */
  async pruneHistory(): Promise<number> {
    try {
      return await this.options.db.transitions.prune({
        perActor: HISTORY_PER_ACTOR,
        removedBefore: this.clock.now() - this.config.actorHistoryHours * 3_600_000,
        keep: isDaemonLongActor,
      });
    } catch (err) {
      this.log.warn({ err }, 'pruning the actors\' history failed; tried again at the next interval');
      return 0;
    }
  }

  /** A valid new configuration: the gateways first (new drivers, rates), then each workload. */
  reconfigure(update: ConfigUpdate): void {
    this.currentConfig = update.config;
    this.gateways.applyConfig(update.config, update.diff);
    for (const workload of this.workloads) workload.reconfigure?.(update);
  }
}
