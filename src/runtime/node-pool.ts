import { interval, skip, type Subscription } from 'rxjs';
import { createActor, fromPromise, type Actor, type AnyActorRef, type InspectionEvent } from 'xstate';
import { describeDiff, type NodepoolConfig } from '../config/index.js';
import type { Provider } from '../config/types.js';
import type { ChangeRecord, Database, NodeRecord, SubnodeRecord } from '../db/index.js';
import { createDriver } from '../drivers/factory.js';
import { FakeDriver } from '../drivers/fake/index.js';
import { DriverError, type ProviderDriver } from '../drivers/driver.js';
import type { Logger, Logging } from '../log/index.js';
import { clockScheduler, pollChanges, watchConfig } from '../streams/index.js';
import { nodeStateOf, type NodeContext } from '../../machines/node.machine.js';
import { poolMachine, type Launch, type PoolInput, type ProviderSettings } from '../../machines/pool.machine.js';
import { nodeActorId, providerMachine, subnodeActorId } from '../../machines/provider.machine.js';
import { systemClock, type Clock } from './clock.js';
import { Launcher, nodeInputOf, subnodeInputOf } from './launcher.js';
import { nodeMachineWithEffects } from './node-effects.js';
import { NodePersistence } from './node-persistence.js';
import { ProviderRuntime } from './provider-runtime.js';
import { PeriodicTasks } from './periodic-tasks.js';
import { planRestore } from './restore.js';

export interface NodePoolOptions {
  configFile: string;
  config: NodepoolConfig;
  db: Database;
  logging: Logging;
  clock?: Clock;
  /** `--no-launches` / `--no-deletes`. */
  launches?: boolean;
  deletes?: boolean;
  /** How often time is passed to the actors (deadlines, list and allocation intervals). */
  tickMs?: number;
  /** How often the allocation runs at least. */
  allocateIntervalMs?: number;
  /** How often the change log of the commands is read. */
  changePollMs?: number;
  /** How often the configuration file is re-read even without a change event. */
  configReadMs?: number;
}

/** Seconds between a provider's list calls: often enough to see a node come up, never faster than its rate allows. */
export function listIntervalMs(provider: Provider): number {
  return Math.max(1000, provider.rate * 2000);
}

type PoolActor = Actor<typeof poolMachine>;

/**
 * nodepoold's main loop: the pool actor and its providers and nodes, the
 * streams that feed them (time, configuration, the commands' change log), and
 * the persistence of every node actor. Restores the actors saved by a
 * previous run before it starts anything new.
 */
export class NodePool {
  private config: NodepoolConfig;
  private readonly runtimes = new Map<string, ProviderRuntime>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly persistence: NodePersistence;
  private readonly subscriptions: Subscription[] = [];
  private readonly nodeStates = new Map<string, string>();
  private pool: PoolActor | undefined;
  private periodic: PeriodicTasks | undefined;
  private stopped = false;

  constructor(private readonly options: NodePoolOptions) {
    this.config = options.config;
    this.clock = options.clock ?? systemClock;
    this.log = options.logging.get('nodepool.NodePool');
    this.persistence = new NodePersistence(options.db, options.logging.get('nodepool.db'), (nodeId) => {
      this.log.info({ node: nodeId }, 'node row removed by a command');
      this.finishVanished(nodeId);
    });
  }

  /** The actors' root, for tests and the inspection page. */
  get actor(): PoolActor | undefined {
    return this.pool;
  }

  get providerRuntimes(): ReadonlyMap<string, ProviderRuntime> {
    return this.runtimes;
  }

  async start(): Promise<void> {
    for (const provider of this.config.providers) this.startRuntime(provider);
    const machine = this.machine();
    const input: PoolInput = { providers: this.providerSettings(), allocateIntervalMs: this.options.allocateIntervalMs ?? 10_000 };
    const { db } = this.options;
    const rows = await db.nodes.list();
    const subnodes = await db.subnodes.list();
    const actorRows = this.actorRows(rows, subnodes);
    const snapshots = [...(await db.snapshots.listByKind('node')), ...(await db.snapshots.listByKind('subnode'))];
    const plan = planRestore(machine, providerMachine, input, actorRows, snapshots, 1000);
    const restored = actorRows.length - plan.orphans.length;
    if (rows.length) {
      this.log.info({ restored, adopted: plan.orphans.length, subnodes: subnodes.length }, `resuming ${rows.length} node(s) from the database`);
    }
    // Without a driver their servers cannot be reached: say so once per provider.
    for (const name of new Set(actorRows.map((r) => r.provider).filter((p) => !this.runtimes.has(p)))) {
      this.log.warn({ provider: name }, `nodes of provider ${name}, which is not configured, wait until it is configured again`);
    }

    this.pool = createActor(machine, {
      id: 'pool',
      input,
      snapshot: plan.snapshot as never,
      clock: this.clock,
      inspect: (event) => this.inspect(event),
    });
    this.pool.start();
    if (plan.orphans.length) {
      this.pool.send({ type: 'adopt', launches: plan.orphans.map((row) => row.launch()) });
    }
    // From the rows read before any actor ran: a restored actor's first write must not hide a command.
    for (const row of rows) this.commandFromRow(row);
    this.startStreams(await db.changes.latestId());
    this.periodic = new PeriodicTasks({
      db,
      config: () => this.config,
      providers: () => [...this.runtimes.values()],
      deleteNode: (node, reason) =>
        this.pool?.send({ type: 'node.command', provider: node.provider, nodeId: node.id, event: { type: 'delete', reason } }),
      log: this.options.logging.get('nodepool.PeriodicTasks'),
      clock: this.clock,
      deletesAllowed: () => this.options.deletes !== false,
    });
    this.periodic.start();
    this.log.info({ providers: this.config.providers.map((p) => p.name) }, 'nodepoold started');
  }

  /** Every node and sub-node row as an actor to restore, with how to start it afresh if it has no snapshot. */
  private actorRows(rows: readonly NodeRecord[], subnodes: readonly SubnodeRecord[]) {
    const byId = new Map(rows.map((r) => [r.id, r]));
    const nodes = rows.map((row) => ({
      actorId: nodeActorId(row.id),
      provider: row.provider,
      launch: (): Launch => ({ provider: row.provider, nodeId: row.id, input: nodeInputOf(row, this.config) }),
    }));
    const subs = subnodes.flatMap((subnode) => {
      const parent = byId.get(subnode.nodeId);
      if (!parent) return [];
      return [{
        actorId: subnodeActorId(subnode.id),
        provider: parent.provider,
        launch: (): Launch => ({ provider: parent.provider, nodeId: subnode.id, input: subnodeInputOf(subnode, parent, this.config) }),
      }];
    });
    return [...nodes, ...subs];
  }

  /** Stops starting work, lets every in-flight write land, and leaves the rest to the next start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await this.periodic?.stop();
    this.pool?.send({ type: 'stop' });
    await this.persistence.flush();
    this.pool?.stop();
    await this.persistence.flush();
    await Promise.all([...this.runtimes.values()].map((runtime) => runtime.close().catch(() => {})));
    this.log.info('nodepoold stopped');
  }

  private machine() {
    const nodeMachine = nodeMachineWithEffects({
      db: this.options.db,
      config: () => this.config,
      provider: (name) => this.runtimes.get(name),
      clock: this.clock,
      deletesAllowed: () => this.options.deletes !== false,
    }).provide({
      actions: {
        reportLaunchFailure: ({ context }, params) =>
          this.log.warn({ node: (context as NodeContext).nodeId, reason: params.failure.reason }, `launch failed: ${params.failure.message}`),
      },
    });
    const launcher = new Launcher({
      db: this.options.db,
      config: () => this.config,
      providers: () => this.config.providers.map((p) => this.runtimes.get(p.name)).filter((r): r is ProviderRuntime => r !== undefined),
      clock: this.clock,
      log: this.log,
      launchesAllowed: () => this.options.launches !== false && !this.stopped,
    });
    const provider = providerMachine.provide({
      actors: {
        node: nodeMachine,
        listServers: fromPromise(async ({ input }) => {
          const runtime = this.runtimes.get(input.provider);
          if (!runtime) throw new Error(`provider ${input.provider} has no driver`);
          return runtime.listServers();
        }),
      },
      actions: {
        reportListFailure: ({ context }, params) =>
          this.log.warn({ provider: context.provider, err: params.error, failures: params.failures }, 'listing servers failed'),
      },
    });
    return poolMachine.provide({
      actors: { provider, allocate: fromPromise(() => launcher.run()) },
      actions: { reportAllocationFailure: (_, params) => this.log.error({ err: params.error }, 'allocation failed') },
    });
  }

  private providerSettings(): ProviderSettings[] {
    return this.config.providers.filter((p) => this.runtimes.has(p.name)).map((p) => ({ name: p.name, listIntervalMs: listIntervalMs(p) }));
  }

  private startRuntime(provider: Provider): void {
    const driver = this.driverFor(provider);
    if (!driver) return;
    this.runtimes.set(provider.name, new ProviderRuntime(provider, driver, this.options.db, this.clock, this.options.logging.get(`nodepool.provider.${provider.name}`)));
  }

  private driverFor(provider: Provider): ProviderDriver | undefined {
    let driver: ProviderDriver;
    try {
      driver = createDriver(provider, { clock: this.clock });
    } catch (err) {
      if (!(err instanceof DriverError)) throw err;
      this.log.error({ provider: provider.name }, `provider ${provider.name}: ${err.message}; it launches nothing`);
      return undefined;
    }
    if (driver instanceof FakeDriver) {
      // Until images are built and uploaded, the simulated cloud holds one per provider image (docs/fake-cloud.md).
      const present = new Set(driver.cloud.images().map((i) => i.name));
      for (const image of provider.images) if (!present.has(image.name)) driver.cloud.addImage(image.name);
    }
    return driver;
  }

  private startStreams(lastChange: number): void {
    const scheduler = clockScheduler(this.clock);
    const tickMs = this.options.tickMs ?? 1000;
    this.subscriptions.push(
      interval(tickMs, scheduler).subscribe(() => this.pool?.send({ type: 'tick', now: this.clock.now() })),
      pollChanges(this.options.db.changes, {
        intervalMs: this.options.changePollMs ?? 1000,
        startAfter: lastChange,
        logger: this.log,
        clock: this.clock,
      }).subscribe((change) => void this.onChange(change)),
      watchConfig(this.options.configFile, {
        intervalMs: this.options.configReadMs ?? 60_000,
        logger: this.options.logging.get('nodepool.config'),
        clock: this.clock,
      })
        .pipe(skip(1))
        .subscribe({
          next: (update) => this.applyConfig(update.config, describeDiff(update.diff)),
          error: (err: unknown) => this.log.error({ err }, 'configuration watch failed; keeping the running configuration'),
        }),
    );
  }

  /** A valid new configuration: providers start, change or drain; the allocation runs again. */
  private applyConfig(config: NodepoolConfig, summary: string): void {
    this.log.info(`configuration changed: ${summary}`);
    this.config = config;
    for (const provider of config.providers) {
      const runtime = this.runtimes.get(provider.name);
      if (runtime) runtime.reconfigure(provider);
      else this.startRuntime(provider);
    }
    this.pool?.send({ type: 'providers.changed', providers: this.providerSettings() });
    this.periodic?.reschedule();
  }

  /** A command changed a node: tell its actor what the command asked (the row may already say otherwise). */
  private async onChange(change: ChangeRecord): Promise<void> {
    if (change.kind !== 'node') return;
    const row = await this.options.db.nodes.get(change.recordId);
    if (!row) {
      // `delete --now` deleted the server and then the row: the actor, if any, only has to see the server gone.
      if (change.action === 'deleted' || change.action === 'delete') this.finishVanished(change.recordId);
      return;
    }
    const command = { id: row.id, provider: row.provider, comment: row.comment };
    if (change.action === 'hold') this.sendCommand(command, 'hold');
    else if (change.action === 'delete') this.sendCommand(command, 'delete');
  }

  /** A node whose row vanished (`delete --now`): its actor deletes nothing more and ends once the list no longer shows its server. */
  private finishVanished(nodeId: number): void {
    const actor = this.pool?.system.get(`node-${nodeId}`) as AnyActorRef | undefined;
    actor?.send({ type: 'delete', reason: 'deleted by delete --now' });
  }

  /** The row says hold or delete (a command ran while we were away): tell the actor, which ignores what it already knows. */
  private commandFromRow(row: { id: number; provider: string; state: string; comment: string | null }): void {
    if (row.state === 'hold' || row.state === 'delete') this.sendCommand(row, row.state);
  }

  private sendCommand(node: { id: number; provider: string; comment: string | null }, command: 'hold' | 'delete'): void {
    const event = command === 'hold' ? { type: 'hold' as const, reason: node.comment ?? undefined } : { type: 'delete' as const, reason: 'deleted by command' };
    this.log.info({ node: node.id, command }, `command: ${command} node ${node.id}`);
    this.pool?.send({ type: 'node.command', provider: node.provider, nodeId: node.id, event });
  }

  /** Every node snapshot is persisted; state changes are logged once. */
  private inspect(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    const actor = event.actorRef as AnyActorRef;
    if (!/^(sub)?node-\d+$/.test(actor.id)) return;
    this.persistence.noteSnapshot(actor);
    const snapshot = actor.getSnapshot() as { value: unknown; status: string; context: NodeContext };
    const state = snapshot.status === 'done' ? 'removed' : nodeStateOf(snapshot.value);
    if (this.nodeStates.get(actor.id) !== state) {
      this.nodeStates.set(actor.id, state);
      const { context } = snapshot;
      const what = context.role === 'sub' ? 'subnode' : 'node';
      this.log.info({ [what]: context.nodeId, state, server: context.serverId, ip: context.ip }, `${what} ${context.nodeId} is ${state}`);
      if (state === 'removed') this.nodeStates.delete(actor.id);
      // A node leaving the count (deleting or gone) may need a replacement now, not at the next interval.
      if (state === 'delete' || state === 'removed') this.pool?.send({ type: 'allocation.wanted' });
    }
  }
}
