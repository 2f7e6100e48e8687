/**
 * The two periodic tasks of nodepoold (docs/behaviour.md, "Periodic
 * tasks"), each on its cron line: `cleanup` deletes nodes stuck in a
 * transient state, servers no node row owns (leaked instances) and, where
 * asked, unattached floating IPs; `check` logs in to every ready node and
 * deletes those that do not answer.
 *
 * Nothing is deleted here directly but floating IPs: a node goes to its
 * actor (`deleteNode`), a leaked server to its provider actor as an orphan
 * (`deleteOrphan`), so every server is deleted by the node machine's one
 * deletion protocol (docs/behaviour.md, "Deleting").
 */
import type { Subscription } from 'rxjs';
import { cronProblem } from '../config/cron.js';
import type { NodepoolConfig, ProviderImage } from '../config/types.js';
import { nodeIdFromMetadata } from '../core/server-metadata.js';
import type { Database, NodeRecord, NodeState } from '../db/index.js';
import { DriverError } from '../drivers/driver.js';
import type { Logger } from '../log/index.js';
import { checkSsh } from '../ssh/index.js';
import { cronSchedule } from '../streams/schedules.js';
import type { Clock } from '../core/clock.js';
import type { ProviderGateway } from '../gateway/index.js';

const HOUR_MS = 3_600_000;
/** Upstream's NODE_CLEANUP and TEST_CLEANUP. */
export const DEFAULT_NODE_CLEANUP_AGE_MS = 8 * HOUR_MS;
export const DEFAULT_TEST_CLEANUP_AGE_MS = 2 * HOUR_MS;
/** The one attempt of the periodic SSH check may take this long. */
export const DEFAULT_SSH_CHECK_TIMEOUT_MS = 30_000;
/** Nodes checked at once. */
export const DEFAULT_CHECK_CONCURRENCY = 5;

/** States a node may stay in for ever: waiting for a job, or kept for a person. */
const LASTING_STATES: readonly NodeState[] = ['ready', 'hold'];

export type PeriodicTaskName = 'cleanup' | 'check';

/** Resolves when the node answered; rejects with why it did not. */
export type SshCheck = (node: NodeRecord, image: ProviderImage, gateway: ProviderGateway) => Promise<void>;

export interface PeriodicTasksDeps {
  db: Database;
  config: () => NodepoolConfig;
  /** The gateways of the providers this process drives. */
  gateways: () => ProviderGateway[];
  /** Hands the node to its actor for deletion (nodepoold's delete command). */
  deleteNode: (node: { id: number; provider: string }, reason: string) => void;
  /** Hands a server no row owns to its provider actor, which deletes it as an orphan. */
  deleteOrphan: (server: LeakedServer, reason: string) => void;
  log: Logger;
  clock: Clock;
  /** False under `--no-deletes`: the tasks report what they would delete. */
  deletesAllowed: () => boolean;
  /** Whether this process drives the provider: the tasks look only at its nodes (another nodepoold's tasks look at the rest). Default: all. */
  drives?: (provider: string) => boolean;
  nodeCleanupAgeMs?: number;
  testCleanupAgeMs?: number;
  sshCheck?: SshCheck;
  checkConcurrency?: number;
}

export interface StuckNode {
  id: number;
  provider: string;
  label: string;
  state: NodeState;
  ageMs: number;
}

export interface LeakedServer {
  provider: string;
  serverId: string;
  nodeId: number;
}

export interface LooseFloatingIp {
  provider: string;
  id: string;
  address: string;
}

/** A step that failed; the rest of the task went on. */
export interface TaskFailure {
  provider?: string;
  step: string;
  error: string;
}

interface ReportBase {
  /** The previous run of the same task was still going: nothing was done. */
  skipped: boolean;
  /** False under `--no-deletes`: everything listed is what would have been deleted. */
  deletesAllowed: boolean;
  startedAt: number;
  finishedAt: number;
  failures: TaskFailure[];
}

export interface CleanupReport extends ReportBase {
  stuckNodes: StuckNode[];
  leakedServers: LeakedServer[];
  floatingIps: LooseFloatingIp[];
}

export interface CheckReport extends ReportBase {
  /** Ids of the nodes that answered. */
  answered: number[];
  /** Nodes that did not answer and were still ready afterwards (deleted, or would be). */
  unanswered: { id: number; provider: string; error: string }[];
  /** Ready nodes that could not be checked (no provider, label or image) or left `ready` during the check. */
  notChecked: { id: number; reason: string }[];
}

/**
 * Runs `cleanup` and `check` at the times `config().cron` names, on `clock`,
 * never two runs of the same task at once. Both tasks can also be called
 * directly.
 */
export class PeriodicTasks {
  private readonly schedules = new Map<PeriodicTaskName, { expression: string; subscription: Subscription }>();
  private readonly running = new Map<PeriodicTaskName, Promise<unknown>>();
  private started = false;
  private stopped = false;
  private readonly sshCheck: SshCheck;

  constructor(private readonly deps: PeriodicTasksDeps) {
    this.sshCheck = deps.sshCheck ?? defaultSshCheck(deps.clock);
  }

  start(): void {
    this.started = true;
    this.stopped = false;
    this.reschedule();
  }

  /** After a configuration change: a changed cron line takes effect from now on. */
  reschedule(): void {
    if (!this.started) return;
    this.schedule('cleanup');
    this.schedule('check');
  }

  /** No more runs, and no deletion starts after this; resolves when the runs under way have ended. */
  async stop(): Promise<void> {
    this.started = false;
    this.stopped = true;
    for (const { subscription } of this.schedules.values()) subscription.unsubscribe();
    this.schedules.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  cleanup(): Promise<CleanupReport> {
    return this.exclusive('cleanup', () => this.runCleanup(), (base) => ({ ...base, stuckNodes: [], leakedServers: [], floatingIps: [] }));
  }

  check(): Promise<CheckReport> {
    return this.exclusive('check', () => this.runCheck(), (base) => ({ ...base, answered: [], unanswered: [], notChecked: [] }));
  }

  // ---- scheduling --------------------------------------------------------------

  private schedule(task: PeriodicTaskName): void {
    const expression = this.deps.config().cron[task];
    const current = this.schedules.get(task);
    if (current?.expression === expression) return;
    const problem = cronProblem(expression);
    if (problem !== undefined) {
      this.deps.log.error({ task }, `${task}: ${problem}; ${current ? `keeping '${current.expression}'` : 'it does not run'}`);
      return;
    }
    current?.subscription.unsubscribe();
    const subscription = cronSchedule(expression, { clock: this.deps.clock }).subscribe({
      next: () => void this.fire(task),
      error: (err: unknown) => this.deps.log.error({ task, err }, `${task}: schedule failed`),
    });
    this.schedules.set(task, { expression, subscription });
    this.deps.log.info({ task, cron: expression }, `${task} runs at '${expression}'`);
  }

  private async fire(task: PeriodicTaskName): Promise<void> {
    try {
      await (task === 'cleanup' ? this.cleanup() : this.check());
    } catch (err) {
      this.deps.log.error({ task, err }, `${task} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private exclusive<T extends ReportBase>(task: PeriodicTaskName, run: () => Promise<T>, skipped: (base: ReportBase) => T): Promise<T> {
    if (this.running.has(task)) {
      this.deps.log.warn({ task }, `${task}: the previous run is still going; skipping this one`);
      const now = this.deps.clock.now();
      return Promise.resolve(skipped({ skipped: true, deletesAllowed: this.deps.deletesAllowed(), startedAt: now, finishedAt: now, failures: [] }));
    }
    const promise = run().finally(() => this.running.delete(task));
    this.running.set(task, promise);
    return promise;
  }

  private drives(provider: string): boolean {
    return this.deps.drives?.(provider) ?? true;
  }

  // ---- cleanup -----------------------------------------------------------------

  private async runCleanup(): Promise<CleanupReport> {
    const startedAt = this.deps.clock.now();
    const deletesAllowed = this.deps.deletesAllowed();
    const failures: TaskFailure[] = [];
    // Read before any server list: a node id above the highest one seen here
    // belongs to a row created after this read (a launch in flight).
    const all = await this.deps.db.nodes.list();
    const highestNodeId = all.reduce((max, n) => Math.max(max, n.id), 0);
    // The stuck nodes of providers another nodepoold drives are its to find.
    const nodes = all.filter((n) => this.drives(n.provider));

    const stuckNodes = this.stuckNodes(nodes, startedAt);
    for (const node of stuckNodes) {
      const reason = `stuck in ${node.state} for ${formatAge(node.ageMs)}`;
      this.act(deletesAllowed, `node ${node.id} (${node.provider}) ${reason}`, { node: node.id, provider: node.provider }, () =>
        this.deps.deleteNode(node, reason),
      );
    }

    const perProvider = await Promise.all(
      this.deps.gateways().map(async (gateway) => {
        const leaked = await this.findLeakedServers(gateway, highestNodeId, deletesAllowed, failures);
        const ips = gateway.provider.cleanFloatingIps ? await this.cleanFloatingIps(gateway, deletesAllowed, failures) : [];
        return { leaked, ips };
      }),
    );
    const report: CleanupReport = {
      skipped: false,
      deletesAllowed,
      startedAt,
      finishedAt: this.deps.clock.now(),
      failures,
      stuckNodes,
      leakedServers: perProvider.flatMap((p) => p.leaked),
      floatingIps: perProvider.flatMap((p) => p.ips),
    };
    this.deps.log.info(
      {
        task: 'cleanup',
        stuckNodes: report.stuckNodes.map((n) => n.id),
        leakedServers: report.leakedServers.map((s) => s.serverId),
        floatingIps: report.floatingIps.map((f) => f.id),
        failures: failures.length,
        deletesAllowed,
      },
      `cleanup: ${deletesAllowed ? '' : 'would delete (--no-deletes) '}${report.stuckNodes.length} stuck node(s), ` +
        `${report.leakedServers.length} leaked instance(s), ${report.floatingIps.length} floating IP(s); ${failures.length} failure(s)`,
    );
    return report;
  }

  private stuckNodes(nodes: NodeRecord[], now: number): StuckNode[] {
    const nodeAge = this.deps.nodeCleanupAgeMs ?? DEFAULT_NODE_CLEANUP_AGE_MS;
    const testAge = this.deps.testCleanupAgeMs ?? DEFAULT_TEST_CLEANUP_AGE_MS;
    return nodes
      .filter((n) => !LASTING_STATES.includes(n.state))
      .map((n) => ({ id: n.id, provider: n.provider, label: n.label, state: n.state, ageMs: now - n.stateTime }))
      .filter((n) => n.ageMs > (n.state === 'test' ? testAge : nodeAge));
  }

  /**
   * Servers whose metadata names this provider and a node that has no row,
   * handed to the provider actor to delete. A node's row is written before
   * its server is created, so a row that exists (re-read after the list)
   * always claims its server.
   */
  private async findLeakedServers(
    gateway: ProviderGateway,
    highestNodeId: number,
    deletesAllowed: boolean,
    failures: TaskFailure[],
  ): Promise<LeakedServer[]> {
    let servers;
    try {
      servers = await gateway.listServers();
    } catch (err) {
      failures.push({ provider: gateway.name, step: 'list servers', error: messageOf(err) });
      this.deps.log.warn({ provider: gateway.name, err }, `cleanup: cannot list the servers of ${gateway.name}`);
      return [];
    }
    const leaked: LeakedServer[] = [];
    for (const server of servers) {
      const nodeId = nodeIdFromMetadata(server.metadata, gateway.name);
      if (nodeId === undefined || nodeId > highestNodeId || server.status === 'DELETED') continue;
      if (await this.isOwned(nodeId, server.id)) continue;
      if (this.stopped) break;
      const found = { provider: gateway.name, serverId: server.id, nodeId };
      leaked.push(found);
      const what = `leaked instance ${server.id} of node ${nodeId} in ${gateway.name}`;
      this.act(deletesAllowed, what, { ...found, task: 'cleanup' }, () => this.deps.deleteOrphan(found, `leaked instance of node ${nodeId}`));
    }
    return leaked;
  }

  private async isOwned(nodeId: number, serverId: string): Promise<boolean> {
    if (await this.deps.db.nodes.get(nodeId)) return true;
    return (await this.deps.db.subnodes.findByExternalId(serverId)) !== undefined;
  }

  private async cleanFloatingIps(gateway: ProviderGateway, deletesAllowed: boolean, failures: TaskFailure[]): Promise<LooseFloatingIp[]> {
    let ips;
    try {
      ips = await gateway.call('listFloatingIps', (driver) => driver.listFloatingIps());
    } catch (err) {
      failures.push({ provider: gateway.name, step: 'list floating IPs', error: messageOf(err) });
      this.deps.log.warn({ provider: gateway.name, err }, `cleanup: cannot list the floating IPs of ${gateway.name}`);
      return [];
    }
    const loose: LooseFloatingIp[] = [];
    for (const ip of ips.filter((f) => !f.attached)) {
      if (this.stopped) break;
      const found = { provider: gateway.name, id: ip.id, address: ip.address };
      loose.push(found);
      const what = `unattached floating IP ${ip.address} (${ip.id}) in ${gateway.name}`;
      if (!deletesAllowed) {
        this.deps.log.info({ ...found, task: 'cleanup' }, `would delete ${what} (--no-deletes)`);
        continue;
      }
      try {
        await gateway.call('deleteFloatingIp', (driver) => driver.deleteFloatingIp(ip.id));
        this.deps.log.info({ ...found, task: 'cleanup' }, `deleted ${what}`);
      } catch (err) {
        if (err instanceof DriverError && err.kind === 'not-found') continue;
        failures.push({ provider: gateway.name, step: `delete floating IP ${ip.id}`, error: messageOf(err) });
        this.deps.log.warn({ ...found, err }, `cleanup: cannot delete ${what}`);
      }
    }
    return loose;
  }

  /** Delete through `run`, or under `--no-deletes` only say so. */
  private act(deletesAllowed: boolean, what: string, fields: Record<string, unknown>, run: () => void): void {
    if (!deletesAllowed) {
      this.deps.log.info(fields, `would delete ${what} (--no-deletes)`);
      return;
    }
    if (this.stopped) return;
    this.deps.log.info(fields, `deleting ${what}`);
    run();
  }

  // ---- check -------------------------------------------------------------------

  private async runCheck(): Promise<CheckReport> {
    const startedAt = this.deps.clock.now();
    const deletesAllowed = this.deps.deletesAllowed();
    const report: CheckReport = {
      skipped: false,
      deletesAllowed,
      startedAt,
      finishedAt: startedAt,
      failures: [],
      answered: [],
      unanswered: [],
      notChecked: [],
    };
    const nodes = (await this.deps.db.nodes.list({ state: 'ready' })).filter((n) => this.drives(n.provider));
    const concurrency = Math.max(1, this.deps.checkConcurrency ?? DEFAULT_CHECK_CONCURRENCY);
    await forEachLimited(nodes, concurrency, (node) =>
      this.checkNode(node, report).catch((err: unknown) => {
        report.failures.push({ provider: node.provider, step: `check node ${node.id}`, error: messageOf(err) });
        this.deps.log.warn({ node: node.id, err }, `check: node ${node.id} could not be checked`);
      }),
    );
    report.finishedAt = this.deps.clock.now();
    this.deps.log.info(
      { task: 'check', answered: report.answered.length, unanswered: report.unanswered.map((n) => n.id), notChecked: report.notChecked.length, deletesAllowed },
      `check: ${report.answered.length} of ${nodes.length} ready node(s) answered; ` +
        `${report.unanswered.length} did not${report.unanswered.length && !deletesAllowed ? ' (not deleted: --no-deletes)' : ''}` +
        (report.notChecked.length ? `; ${report.notChecked.length} not checked` : ''),
    );
    return report;
  }

  private async checkNode(node: NodeRecord, report: CheckReport): Promise<void> {
    if (this.stopped) return;
    const setting = this.settingOf(node);
    if (typeof setting === 'string') {
      report.notChecked.push({ id: node.id, reason: setting });
      this.deps.log.warn({ node: node.id, task: 'check' }, `check: node ${node.id} not checked: ${setting}`);
      return;
    }
    try {
      await this.sshCheck(node, setting.image, setting.gateway);
      report.answered.push(node.id);
      return;
    } catch (err) {
      const error = messageOf(err);
      // A job may have taken the node while we waited: only a node still ready is deleted.
      const now = await this.deps.db.nodes.get(node.id);
      if (now?.state !== 'ready') {
        report.notChecked.push({ id: node.id, reason: now ? `now ${now.state}` : 'row removed' });
        return;
      }
      report.unanswered.push({ id: node.id, provider: node.provider, error });
      const reason = `did not answer the periodic SSH check: ${error}`;
      this.act(report.deletesAllowed, `node ${node.id} (${node.provider}): it ${reason}`, { node: node.id, provider: node.provider, task: 'check' }, () =>
        this.deps.deleteNode(node, reason),
      );
    }
  }

  /** The node's provider and image as configured now, or why the node cannot be checked. */
  private settingOf(node: NodeRecord): { gateway: ProviderGateway; image: ProviderImage } | string {
    const gateway = this.deps.gateways().find((g) => g.name === node.provider);
    if (!gateway) return `provider ${node.provider} is not running`;
    const label = this.deps.config().labels.find((l) => l.name === node.label);
    if (!label) return `label ${node.label} is not configured`;
    const image = gateway.provider.images.find((i) => i.name === label.image);
    if (!image) return `provider ${node.provider} has no image ${label.image}`;
    return { gateway, image };
  }
}

/**
 * One attempt (`deadline: now`) with a generous connect timeout: a node that
 * is merely slow is not deleted. A cloud whose nodes have no SSH server (the
 * simulated cloud without `fake.ssh`) has every node answer.
 */
export function defaultSshCheck(clock: Clock, timeoutMs = DEFAULT_SSH_CHECK_TIMEOUT_MS): SshCheck {
  return async (node, image, gateway) => {
    if (!node.ip) throw new Error('the node has no IP address');
    const endpoint = gateway.capabilities.sshEndpoint(node.ip);
    if (!endpoint) return;
    await checkSsh({
      ...endpoint,
      username: image.username,
      privateKey: image.privateKey,
      clock,
      deadline: clock.now(),
      connectTimeoutMs: timeoutMs,
    });
  };
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** `9h05m`, `45m`, `30s`. */
export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.floor(ms / 1000))}s`;
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours}h${String(minutes % 60).padStart(2, '0')}m` : `${minutes}m`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
