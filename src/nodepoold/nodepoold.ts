/**
 * nodepoold's workload in the actor host: the pool actor with its providers
 * and nodes, the allocation that tells it what to launch, the commands'
 * changes routed to the nodes they name, and the periodic tasks. Several
 * nodepoold may share a database (docs/scaling.md): each drives the
 * providers whose leases it holds (src/nodepoold/provider-ownership.ts),
 * restoring their nodes from their saved snapshots when it takes one and
 * stopping them when it gives one up; one of them runs the allocation over
 * the whole pool.
 */
import { BehaviorSubject, filter, merge, Subject, type Subscription } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import type { ActorHost, StateChange, Workload, WorkloadStart } from '../actors/host.js';
import { describeDiff } from '../config/diff.js';
import type { NodepoolConfig, Provider, SecureConfig } from '../config/types.js';
import { PROVIDER_LEASE_PREFIX, daemonLeaseOwner } from '../core/leases.js';
import type { ChangeRecord, NodeRecord, SubnodeRecord } from '../db/index.js';
import { DriverError } from '../drivers/driver.js';
import { listIntervalMs, type ProviderGateway } from '../gateway/index.js';
import type { Logger } from '../log/index.js';
import { TargetRegistry } from '../targets/index.js';
import type { ConfigUpdate } from '../streams/config-watch.js';
import { POOL_ACTOR_ID, nodeActorId, orphanActorId, parseActorId, subnodeActorId } from '../../machines/actor-ids.js';
import type { NodeContext } from '../../machines/node.machine.js';
import type { Adoption, PoolInput, ProviderSettings } from '../../machines/pool.machine.js';
import { loadSavedActorsOf } from '../actors/saved-actors.js';
import type { JobEvent } from '../events/index.js';
import { ProviderOwnership, type ProviderOwnershipOptions, type ReleaseReason } from './provider-ownership.js';
import { leasePerCall } from './delete-lease.js';
import { Launcher, nodeInputOf, subnodeInputOf } from './launcher.js';
import { jobEventsToNodes, queuedWork, type CiSources } from './ci-intake.js';
import { NODE_KINDS } from './node-kinds.js';
import { PeriodicTasks, type LeakedServer, type PeriodicTasksDeps } from './periodic-tasks.js';
import { hostEffectDeps, poolMachineWithEffects } from './pool-effects.js';
import { POOL_TICK_MS } from './tuning.js';
import { NodeMetricsReporter } from './node-metrics.js';
import type { JobSucceeded, NodeSources, PoolMetrics } from '../metrics/index.js';

/** How long a provider being handed over waits for its server calls under way. */
const HANDOVER_CALLS_BOUND_MS = 30_000;

export interface NodepooldOptions {
  /** `--no-launches` / `--no-deletes`. */
  launches?: boolean;
  deletes?: boolean;
  /**
   * How often time is passed to the pool and its providers (allocation and
   * list intervals); the nodes hear it once a second whatever this is.
   * Default 250 ms.
   */
  tickMs?: number;
  /** How often the allocation runs at least. */
  allocateIntervalMs?: number;
  /** Overrides for the periodic tasks (tests: a fake SSH check, cleanup ages). */
  periodic?: Partial<Pick<PeriodicTasksDeps, 'sshCheck' | 'nodeCleanupAgeMs' | 'testCleanupAgeMs' | 'checkConcurrency'>>;
  /** The secure file's `[jenkins "<target>"]` sections: the targets' Jenkins URLs and credentials. */
  secureJenkins?: SecureConfig['jenkins'];
  /** Queued work and job events from a CI simulator in the same process, beside Gearman's and ZeroMQ's. */
  ci?: CiSources;
  /** The provider leases' timings and this daemon's name (tests; the configuration's `provider-lease` settings otherwise). */
  ownership?: Partial<Pick<ProviderOwnershipOptions, 'ttlMs' | 'beatMs' | 'holderAlive' | 'name' | 'web'>>;
  /** Where launches, deletions and the node counts are reported (/metrics, statsd). */
  metrics?: PoolMetrics;
}

export class Nodepoold implements Workload {
  readonly name = 'nodepoold';
  readonly kinds = NODE_KINDS;
  private readonly log: Logger;
  private pool: AnyActorRef | undefined;
  private periodicTasks: PeriodicTasks | undefined;
  /** Leaked servers handed to their provider actor, by orphan actor id, until they are gone. */
  private readonly orphans = new Map<string, LeakedServer>();
  private orphanWatch: Subscription | undefined;
  private stopping_ = false;
  /** Which providers this daemon drives, and whether it runs the allocation. */
  readonly ownership: ProviderOwnership;
  /** Job events for nodes of providers another daemon drives, forwarded here through the change log by that daemon. */
  private readonly forwardedEvents = new Subject<JobEvent>();
  /** Providers whose new rows (made by another daemon's allocation) are being adopted, and whether to look again after. */
  private readonly adopting = new Map<string, boolean>();
  /** The allocation under way, if any: it is handed to another daemon only once its rows are written. */
  private allocationRun: Promise<unknown> | undefined;
  /** The configuration in force, for the streams that follow it (demand, job events). */
  private readonly configs: BehaviorSubject<NodepoolConfig>;
  /** Queued work per label, as the Gearman servers last said. */
  private demand: Record<string, number> = {};
  private readonly intake: Subscription[] = [];
  /** Where nodes are registered before they are ready (Jenkins targets). */
  private readonly targets: TargetRegistry;
  private readonly registersNodes = (target: string) => this.targets.registersNodes(target);
  private readonly nodeMetrics: NodeMetricsReporter | undefined;

  constructor(
    private readonly host: ActorHost,
    private readonly options: NodepooldOptions = {},
  ) {
    this.log = host.logging.get('nodepool.NodePool');
    this.ownership = new ProviderOwnership({
      db: host.db,
      clock: host.clock,
      log: host.logging.get('nodepool.ownership'),
      ttlMs: host.config.providerLeaseSeconds * 1000,
      beatMs: host.config.providerLeaseRenewSeconds * 1000,
      ...options.ownership,
      providers: () => this.providersToShare(),
      onTake: (provider) => this.takeProvider(provider),
      onRelease: (provider, reason) => this.releaseProvider(provider, reason),
      allocationSettled: () => this.allocationSettled(),
      sweep: (provider) => this.adoptSoon(provider),
    });
    this.configs = new BehaviorSubject(host.config);
    this.targets = new TargetRegistry({
      clock: host.clock,
      log: host.logging.get('nodepool.targets'),
      ...(options.secureJenkins && { secure: options.secureJenkins }),
    });
    this.targets.configure(host.config.targets, host.config.gearmanServers);
    if (options.metrics) {
      this.nodeMetrics = new NodeMetricsReporter(options.metrics, () => host.config, host.clock);
      options.metrics.watchNodes(this.metricSources());
    }
  }

  /** What the metrics read when asked: the nodes counted in the database, and the configuration's figures. */
  private metricSources(): NodeSources {
    const { host } = this;
    return {
      tally: () => host.db.nodes.tally(),
      providers: () =>
        host.config.providers.map((p) => {
          const headroom = host.gateways.get(p.name)?.knownQuotaHeadroom;
          return { name: p.name, maxServers: p.maxServers, ...(headroom !== undefined && { quotaHeadroom: headroom }) };
        }),
      labels: () => host.config.labels.map((l) => ({ name: l.name, minReady: l.minReady, demand: this.demand[l.name] ?? 0, providers: l.providers.map((p) => p.name) })),
      targets: () => host.config.targets.map((t) => t.name),
      cluster: async () => {
        const [daemons, providerLeases] = await Promise.all([host.db.daemons.list(), host.db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX)]);
        return { daemons, providerLeases, now: host.clock.now() };
      },
    };
  }

  /** Queued work per label, as the Gearman servers (or the CI simulator) last said. */
  get queuedWork(): Readonly<Record<string, number>> {
    return this.demand;
  }

  /** The pool actor, for tests and the SIGUSR2 dump. */
  get actor(): AnyActorRef | undefined {
    return this.pool;
  }

  get periodic(): PeriodicTasks | undefined {
    return this.periodicTasks;
  }

  /** The gateways of the providers this daemon drives now. */
  gateways(): ProviderGateway[] {
    return this.configuredGateways().filter((g) => this.ownership.owns(g.name));
  }

  /** The gateways of every configured provider, whoever drives it (the allocation spreads launches over all). */
  private configuredGateways(): ProviderGateway[] {
    return this.host.config.providers.map((p) => this.host.gateways.get(p.name)).filter((g): g is ProviderGateway => g !== undefined && !g.retired);
  }

  root() {
    const { host } = this;
    for (const provider of host.config.providers) this.openGateway(provider);
    const launcher = new Launcher({
      db: host.db,
      config: () => host.config,
      gateways: () => this.configuredGateways(),
      drives: (provider) => this.ownership.owns(provider),
      driven: () => this.ownership.drivenProviders(),
      clock: host.clock,
      log: this.log,
      launchesAllowed: () => this.options.launches !== false && !this.stopping_ && this.ownership.allocates(),
      demand: () => this.demand,
      registersNodes: this.registersNodes,
      dispatch: (launches) => {
        if (launches.length > 0) this.send({ type: 'launches', launches });
      },
    });
    const logic = poolMachineWithEffects({
      ...hostEffectDeps(host, this.log),
      targets: this.targets,
      deletesAllowed: () => this.options.deletes !== false,
      deleteLease: leasePerCall(host.db, daemonLeaseOwner()),
      allocate: () => this.track(launcher.run()),
    });
    const input: PoolInput = { providers: this.providerSettings(), allocateIntervalMs: this.options.allocateIntervalMs ?? 10_000 };
    return { id: POOL_ACTOR_ID, logic, input, tickMs: this.options.tickMs ?? POOL_TICK_MS };
  }

  async start({ root }: WorkloadStart): Promise<void> {
    this.pool = root;
    const { db, config } = this.host;
    this.periodicTasks = new PeriodicTasks({
      db,
      config: () => this.host.config,
      gateways: () => this.gateways(),
      deleteNode: (node, reason) => this.send({ type: 'node.command', provider: node.provider, nodeId: node.id, event: { type: 'delete', reason } }),
      deleteOrphan: (server, reason) => {
        this.orphans.set(orphanActorId(server.serverId), server);
        this.send({ type: 'orphan.delete', ...server, now: this.host.clock.now(), reason });
      },
      log: this.host.logging.get('nodepool.PeriodicTasks'),
      clock: this.host.clock,
      deletesAllowed: () => this.options.deletes !== false,
      drives: (provider) => this.ownership.owns(provider),
      ...this.options.periodic,
    });
    // The providers this daemon drives are taken (their nodes resumed) before anything runs on them.
    await this.ownership.start();
    this.periodicTasks.start();
    this.orphanWatch = this.host.inspection
      .pipe(filter((e) => e.type === '@xstate.snapshot' && (e.snapshot as { status?: string }).status === 'done'))
      .subscribe((e) => this.orphanDone((e.actorRef as AnyActorRef).id));
    this.startIntake();
    const owned = this.ownership.ownedProviders();
    this.log.info({ providers: config.providers.map((p) => p.name), drives: owned, daemon: this.ownership.name }, 'nodepoold started');
  }

  /** Every provider that needs an owner: those configured, and those whose nodes are still in the database. */
  private async providersToShare(): Promise<string[]> {
    const withNodes = (await this.host.db.nodes.tally()).map((t) => t.provider);
    return [...new Set([...this.host.config.providers.map((p) => p.name), ...withNodes])];
  }

  /** This daemon now holds the provider's lease: its actor starts and its nodes resume from their snapshots. */
  private async takeProvider(provider: string): Promise<void> {
    const configured = this.host.config.providers.find((p) => p.name === provider);
    if (configured) this.openGateway(configured);
    this.send({ type: 'providers.changed', providers: this.providerSettings() });
    await this.adoptRows(provider, 'take');
    this.send({ type: 'allocation.wanted' });
  }

  /**
   * The provider's node rows that have no actor here, resumed from their
   * snapshots or started afresh (new rows another daemon's allocation made
   * for this provider come the same way).
   */
  private async adoptRows(provider: string, why: 'take' | 'launch'): Promise<void> {
    const { db } = this.host;
    const all = await db.nodes.list({ provider });
    const rows = all.filter((r) => !this.hasActor(nodeActorId(r.id)));
    const subnodes = (await db.subnodes.listForNodes(all.map((r) => r.id))).filter((s) => !this.hasActor(subnodeActorId(s.id)));
    if (rows.length === 0 && subnodes.length === 0) return;
    const ids = [...rows.map((r) => nodeActorId(r.id)), ...subnodes.map((s) => subnodeActorId(s.id))];
    const saved = await loadSavedActorsOf(db, this.kinds, ids, this.log);
    const adoptions = this.adoptions(rows, subnodes, all, saved);
    if (why === 'take' && adoptions.length) {
      const resumed = adoptions.filter((a) => a.resumeFrom !== undefined).length;
      this.log.info({ provider, restored: resumed, adopted: adoptions.length - resumed, subnodes: subnodes.length }, `resuming ${rows.length} node(s) of ${provider} from the database`);
    }
    if (!this.host.gateways.get(provider)) {
      this.log.warn({ provider }, `nodes of provider ${provider}, which is not configured, wait until it is configured again`);
    }
    if (adoptions.length) this.send({ type: 'adopt', adoptions });
    // From the rows read before the actors ran: a restored actor's first write must not hide a command.
    for (const row of rows) this.commandFromRow(row);
  }

  /** Another daemon drives the provider from now on, or this one lost it: its actors stop here, their states written, its calls ended. */
  private async releaseProvider(provider: string, reason: ReleaseReason): Promise<void> {
    this.send({ type: 'provider.release', provider });
    for (const [id, server] of this.orphans) if (server.provider === provider) this.orphans.delete(id);
    await this.host.flush();
    if (reason !== 'lost') await this.callsSettled(provider);
    this.log.info({ provider, reason }, `provider ${provider} is no longer driven here (${reason === 'handover' ? 'handed over' : reason})`);
  }

  /**
   * The provider's server calls under way end before its lease passes on,
   * so the next owner does not create a server this one is still creating;
   * a call that hangs is waited for a bounded time (the next owner's create
   * looks for the server first in any case).
   */
  private async callsSettled(provider: string): Promise<void> {
    const gateway = this.host.gateways.get(provider);
    if (!gateway) return;
    let timer: unknown;
    const bound = new Promise<void>((resolve) => {
      timer = this.host.clock.setTimeout(() => {
        this.log.warn({ provider }, `provider ${provider}: a cloud call still runs after ${HANDOVER_CALLS_BOUND_MS / 1000} s; handing it over anyway`);
        resolve();
      }, HANDOVER_CALLS_BOUND_MS);
    });
    await Promise.race([gateway.serverCallsSettled(), bound]);
    this.host.clock.clearTimeout(timer);
  }

  private hasActor(actorId: string): boolean {
    return this.pool?.system.get(actorId) !== undefined;
  }

  /** The allocation in flight, kept so a handover of the allocation waits for its rows. */
  private track<T>(run: Promise<T>): Promise<T> {
    this.allocationRun = run;
    return run;
  }

  private async allocationSettled(): Promise<void> {
    await this.allocationRun?.catch(() => {});
  }

  /** Node and sub-node rows, resumed from their saved snapshots or started afresh from the rows. */
  private adoptions(rows: readonly NodeRecord[], subnodes: readonly SubnodeRecord[], parents: readonly NodeRecord[], saved: ReadonlyMap<string, unknown>): Adoption[] {
    const config = this.host.config;
    const byId = new Map(parents.map((r) => [r.id, r]));
    const nodes = rows.map((row) => ({
      provider: row.provider,
      nodeId: row.id,
      input: nodeInputOf(row, config, this.registersNodes),
      resumeFrom: saved.get(nodeActorId(row.id)),
    }));
    const subs = subnodes.flatMap((subnode) => {
      const parent = byId.get(subnode.nodeId);
      if (!parent) return [];
      return [{
        provider: parent.provider,
        nodeId: subnode.id,
        input: subnodeInputOf(subnode, parent, config),
        resumeFrom: saved.get(subnodeActorId(subnode.id)),
      }];
    });
    return [...nodes, ...subs];
  }

  reconfigure({ config, diff }: ConfigUpdate): void {
    this.log.info(`configuration changed: ${describeDiff(diff)}`);
    for (const provider of config.providers) this.openGateway(provider);
    this.send({ type: 'providers.changed', providers: this.providerSettings() });
    this.periodicTasks?.reschedule();
    this.targets.configure(config.targets, config.gearmanServers);
    this.configs.next(config);
    // A provider added or removed is shared out now rather than at the next beat.
    void this.ownership.beat();
  }

  /**
   * A command changed a node: tell its actor what the command asked (the
   * row may already say otherwise). Only the daemon that drives the node's
   * provider acts; every daemon reads the same change log.
   */
  async onChange(change: ChangeRecord): Promise<void> {
    if (change.kind === 'subnode' && change.action === 'launch') {
      const subnode = await this.host.db.subnodes.get(change.recordId);
      const parent = subnode && (await this.host.db.nodes.get(subnode.nodeId));
      if (parent && this.ownership.owns(parent.provider)) this.adoptSoon(parent.provider);
      return;
    }
    if (change.kind !== 'node') return;
    const row = await this.host.db.nodes.get(change.recordId);
    if (row && !this.ownership.owns(row.provider)) return;
    if (change.action === 'launch') {
      if (row) this.adoptSoon(row.provider);
      return;
    }
    if (change.action === 'job-event') {
      this.forwardedEvent(change);
      return;
    }
    if (!row) {
      // `delete --now` deleted the server and then the row: the actor, if any, only has to see the server gone.
      if (change.action === 'deleted' || change.action === 'delete') this.finishVanished(change.recordId);
      return;
    }
    const command = { id: row.id, provider: row.provider, comment: row.comment };
    if (change.action === 'hold') this.sendCommand(command, 'hold');
    else if (change.action === 'delete') this.sendCommand(command, 'delete');
  }

  /** A job event another daemon received for a node of a provider this one drives. */
  private forwardedEvent(change: ChangeRecord): void {
    try {
      this.forwardedEvents.next(JSON.parse(change.detail ?? '') as JobEvent);
    } catch (err) {
      this.log.warn({ err, change: change.id }, `change ${change.id}: a forwarded job event that cannot be read; dropped`);
    }
  }

  /** New rows for a provider this daemon drives, made by another daemon's allocation: adopted once per burst of changes. */
  private adoptSoon(provider: string): void {
    if (this.adopting.has(provider)) {
      this.adopting.set(provider, true);
      return;
    }
    this.adopting.set(provider, false);
    void (async () => {
      do {
        this.adopting.set(provider, false);
        await this.adoptRows(provider, 'launch').catch((err: unknown) => this.log.warn({ err, provider }, `could not adopt the new nodes of ${provider}; the next launch change tries again`));
      } while (this.adopting.get(provider) === true && this.ownership.owns(provider));
      this.adopting.delete(provider);
    })();
  }

  recordGone(actorId: string): void {
    const parsed = parseActorId(actorId);
    if (parsed?.kind !== 'node') return;
    this.log.info({ node: Number(parsed.id) }, 'node row removed by a command');
    this.finishVanished(Number(parsed.id));
  }

  /** Node states are logged once per change; a node leaving the count may need a replacement now. */
  stateChanged(change: StateChange): void {
    const { actorId, state, snapshot } = change;
    this.nodeMetrics?.stateChanged(change);
    const context = snapshot.context as NodeContext;
    const what = context.role === 'sub' ? 'subnode' : 'node';
    this.log.info({ [what]: context.nodeId, state, server: context.serverId, ip: context.ip }, `${what} ${context.nodeId} is ${state}`);
    if ((state === 'delete' || state === 'removed') && parseActorId(actorId)) this.send({ type: 'allocation.wanted' });
  }

  /** Nodes that left the count during an outage asked for an allocation that could not run: run one now, on rows that are right again. */
  databaseCaughtUp(): void {
    this.send({ type: 'allocation.wanted' });
  }

  async stopping(): Promise<void> {
    this.stopping_ = true;
    await this.ownership.stopBeating();
    for (const subscription of this.intake.splice(0)) subscription.unsubscribe();
    await this.periodicTasks?.stop();
    this.send({ type: 'stop' });
  }

  async stopped(): Promise<void> {
    this.orphanWatch?.unsubscribe();
    await this.targets.close();
    // Every state is written and the actors are stopped: the providers pass to the other daemons now.
    // (A call still under way ends with the process; the next owner repeats it safely, as a restart does.)
    await this.ownership.stop();
    this.log.info('nodepoold stopped');
  }

  /** What the CI system says: queued work from Gearman, and job events from ZeroMQ that use, delete and hold nodes. */
  private startIntake(): void {
    const { host } = this;
    this.intake.push(
      queuedWork(this.configs, { clock: host.clock, log: host.logging.get('nodepool.GearmanClient'), other: this.options.ci?.demand }).subscribe((demand) => {
        this.demand = demand;
        this.send({ type: 'allocation.wanted' });
      }),
      jobEventsToNodes(this.configs, {
        db: host.db,
        config: () => host.config,
        clock: host.clock,
        log: host.logging.get('nodepool.NodeUpdateListener'),
        toNode: (node, event) => this.send({ type: 'node.command', provider: node.provider, nodeId: node.id, event }),
        drives: (provider) => this.ownership.owns(provider),
        forward: (node, event) => this.host.db.changes.append('node', node.id, 'job-event', JSON.stringify(event)).then(() => undefined),
        other: this.options.ci?.events ? merge(this.options.ci.events, this.forwardedEvents) : this.forwardedEvents,
        ...(this.options.metrics && { jobSucceeded: (job: JobSucceeded) => this.options.metrics?.jobSucceeded(job) }),
      }).subscribe(),
    );
  }

  /** A leaked server's actor ended: its provider no longer lists it. */
  private orphanDone(actorId: string): void {
    const server = this.orphans.get(actorId);
    if (!server) return;
    this.orphans.delete(actorId);
    this.host.logging
      .get('nodepool.PeriodicTasks')
      .info({ ...server, task: 'cleanup' }, `deleted leaked instance ${server.serverId} of node ${server.nodeId} in ${server.provider}`);
  }

  private send(event: Parameters<AnyActorRef['send']>[0]): void {
    this.pool?.send(event);
  }

  /**
   * The provider's gateway, and stand-in images where the cloud offers
   * them; a provider that cannot make one launches nothing. Its servers are
   * called only while this daemon holds the provider's lease.
   */
  private openGateway(provider: Provider): void {
    if (this.host.gateways.get(provider.name)) return;
    try {
      const gateway = this.host.gateways.open(provider);
      gateway.fenceServerCalls(() => this.ownership.owns(provider.name));
      gateway.prepareStandInImages();
    } catch (err) {
      if (!(err instanceof DriverError)) throw err;
      this.log.error({ provider: provider.name }, `provider ${provider.name}: ${err.message}; it launches nothing`);
    }
  }

  /** The configured providers this daemon drives, as the pool's provider actors are made. */
  private providerSettings(): ProviderSettings[] {
    return this.host.config.providers
      .filter((p) => this.host.gateways.get(p.name) && this.ownership.owns(p.name))
      .map((p) => ({ name: p.name, listIntervalMs: listIntervalMs(p) }));
  }

  /** A node whose row vanished (`delete --now`): its actor deletes nothing more and ends once the list no longer shows its server. */
  private finishVanished(nodeId: number): void {
    const actor = this.pool?.system.get(nodeActorId(nodeId)) as AnyActorRef | undefined;
    if (!actor) return;
    // Through its provider and group, as every command goes: a group that has been still wakes for it.
    const provider = (actor.getSnapshot() as { context: { provider?: string } }).context.provider;
    const providers = provider !== undefined ? [provider] : this.ownership.ownedProviders();
    for (const name of providers) this.send({ type: 'node.command', provider: name, nodeId, event: { type: 'delete', reason: 'deleted by delete --now' } });
  }

  /** The row says hold or delete (a command ran while we were away): tell the actor, which ignores what it already knows. */
  private commandFromRow(row: { id: number; provider: string; state: string; comment: string | null }): void {
    if (row.state === 'hold' || row.state === 'delete') this.sendCommand(row, row.state);
  }

  private sendCommand(node: { id: number; provider: string; comment: string | null }, command: 'hold' | 'delete'): void {
    const event = command === 'hold' ? { type: 'hold' as const, reason: node.comment ?? undefined } : { type: 'delete' as const, reason: 'deleted by command' };
    this.log.info({ node: node.id, command }, `command: ${command} node ${node.id}`);
    this.send({ type: 'node.command', provider: node.provider, nodeId: node.id, event });
  }
}
