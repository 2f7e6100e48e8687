/**
 * Where a target's calls go (docs/ci-loop.md, "Targets"): a node that
 * becomes ready is registered with the target's Jenkins as a single-use
 * agent (and the target's test job is started on it), and the agent is
 * removed when the node is deleted, as Nodepool 0.4 did. With
 * `assign-via-gearman`, the node is offered as a Gearman job
 * `node_assign:<target>` whose worker (the manager) answers with its name,
 * and `node_revoke:<manager>` is queued at the deletion. Calls to one
 * target are spaced by its `rate` in one queue, whatever node makes them.
 * A failed call is thrown to the node's actor, which tries it again after a
 * pause: the client itself never retries.
 */
import type { GearmanServer, SecureConfig, Target } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { RateQueue } from '../core/rate-queue.js';
import { GearmanClient } from '../gearman/index.js';
import type { Logger } from '../log/index.js';
import { JenkinsClient } from './jenkins-client.js';

/** A ready node, as a target is told of it. */
export interface NodeToRegister {
  /** The node name: the agent's name, and `NODE` of the test job. */
  name: string;
  /** The address the agent is reached on. */
  host: string;
  label: string;
  /** The image's `user-home`: the agent's remote root. */
  userHome: string;
  /** The image's user and private key, when the target names no Jenkins credentials. */
  username: string;
  privateKey: string;
}

/** What registering left to undo at the node's deletion. */
export interface Registration {
  /** The manager that took the node (assign-via-gearman), shown in the Manager column. */
  manager?: string;
}

/** The Jenkins settings of a target: nodepool.yaml's `jenkins:` with the secure file's section over it. */
export interface JenkinsSettings {
  url: string;
  user: string;
  apikey: string;
  credentialsId?: string;
  testJob?: string;
}

/** A target registers nodes when it has Jenkins settings (in nodepool.yaml or the secure file). */
export function jenkinsSettingsOf(target: Target, secure: SecureConfig['jenkins'] = {}): Partial<JenkinsSettings> | undefined {
  const own = target.jenkins;
  const kept = secure[target.name];
  if (!own && !kept) return undefined;
  return {
    ...(own?.url !== undefined && { url: own.url }),
    ...(own?.user !== undefined && { user: own.user }),
    ...(own?.apikey !== undefined && { apikey: own.apikey }),
    ...(own?.credentialsId !== undefined && { credentialsId: own.credentialsId }),
    ...(own?.testJob !== undefined && { testJob: own.testJob }),
    ...(kept?.url !== undefined && { url: kept.url }),
    ...(kept?.user !== undefined && { user: kept.user }),
    ...(kept?.apikey !== undefined && { apikey: kept.apikey }),
    ...(kept?.credentials !== undefined && { credentialsId: kept.credentials }),
  };
}

/** How long a manager may take to answer `node_assign` (Nodepool 0.4 waited 300 s). */
export const ASSIGN_TIMEOUT_MS = 300_000;

export class TargetGateway {
  private readonly queue: RateQueue;
  private gearmanServers: readonly GearmanServer[] = [];
  private jenkins: JenkinsClient | undefined;
  private settings: Partial<JenkinsSettings> | undefined;

  constructor(
    private target: Target,
    secure: SecureConfig['jenkins'] | undefined,
    private readonly options: { clock: Clock; log: Logger; timeoutMs?: number },
    gearmanServers: readonly GearmanServer[] = [],
  ) {
    this.queue = new RateQueue(target.rate * 1000, options.clock);
    this.update(target, secure, gearmanServers);
  }

  get name(): string {
    return this.target.name;
  }

  /** Whether nodes of this target are registered before they are ready. */
  get registersNodes(): boolean {
    return this.settings !== undefined || this.target.assignViaGearman;
  }

  /** A reload: new settings take effect for the next call. */
  update(target: Target, secure: SecureConfig['jenkins'] | undefined, gearmanServers: readonly GearmanServer[] = []): void {
    this.gearmanServers = gearmanServers;
    const settings = jenkinsSettingsOf(target, secure);
    const changed = JSON.stringify(settings) !== JSON.stringify(this.settings);
    this.target = target;
    this.queue.setInterval(target.rate * 1000);
    if (!changed) return;
    void this.jenkins?.close();
    this.jenkins = undefined;
    this.settings = settings;
  }

  /** Registers the node as an agent (the test job started on it), and offers it to a manager over Gearman, as the target says. */
  async register(node: NodeToRegister): Promise<Registration> {
    if (this.settings) await this.registerWithJenkins(node, this.settings);
    return this.target.assignViaGearman ? { manager: await this.assign(node) } : {};
  }

  /** Takes the registration back: revoked from its manager, and the agent removed. */
  async unregister(node: { name: string; manager?: string }): Promise<void> {
    // Queued and not waited for, as Nodepool 0.4 did: a manager that is gone must not keep the node's server alive.
    if (this.target.assignViaGearman && node.manager) await this.onFirstServer((client) => client.submitBackgroundJob(`node_revoke:${node.manager}`, JSON.stringify({ name: node.name })));
    if (this.settings) await this.unregisterFromJenkins(node);
  }

  private async registerWithJenkins(node: NodeToRegister, settings: Partial<JenkinsSettings>): Promise<void> {
    const jenkins = this.client();
    const created = await this.queue.run('createNode', () =>
      jenkins.createNode({
        name: node.name,
        host: node.host,
        description: `Dynamic single use ${node.label} node`,
        executors: 1,
        remoteRoot: node.userHome,
        // With a test job the node is not offered to other jobs until the test passed.
        labels: settings.testJob ? [] : [node.label],
        ...(settings.credentialsId !== undefined ? { credentialsId: settings.credentialsId } : { username: node.username, privateKey: node.privateKey }),
      }),
    );
    this.options.log.info({ target: this.name, node: node.name }, `${created === 'existed' ? 'already an agent' : 'registered as an agent'} of target ${this.name}: ${node.name}`);
    if (settings.testJob) {
      const testJob = settings.testJob;
      await this.queue.run('buildJob', () => jenkins.buildJob(testJob, { NODE: node.name }));
      this.options.log.info({ target: this.name, node: node.name, job: testJob }, `test job ${testJob} started on ${node.name}`);
    }
  }

  /** `node_assign:<target>` with the node's description; the worker that takes it answers `{"manager": NAME}`. */
  private async assign(node: NodeToRegister): Promise<string> {
    const offer = { name: node.name, host: node.host, description: `Dynamic single use ${node.label} node`, labels: node.label, root: node.userHome };
    const answer = await this.queue.run('nodeAssign', () =>
      this.onFirstServer((client) => client.submitJob(`node_assign:${this.name}`, JSON.stringify(offer), { timeoutMs: ASSIGN_TIMEOUT_MS })),
    );
    let manager: unknown;
    try {
      manager = (JSON.parse(answer.toString('utf8')) as { manager?: unknown }).manager;
    } catch {
      manager = undefined;
    }
    if (typeof manager !== 'string' || manager === '') {
      throw new Error(`target ${this.name}: node_assign for ${node.name} was answered without a manager: ${answer.toString('utf8').slice(0, 200)}`);
    }
    this.options.log.info({ target: this.name, node: node.name, manager }, `assigned ${node.name} to manager ${manager}`);
    return manager;
  }

  /** The call on the first Gearman server that answers, in the configuration's order. */
  private async onFirstServer<T>(call: (client: GearmanClient) => Promise<T>): Promise<T> {
    if (this.gearmanServers.length === 0) throw new Error(`target ${this.name}: assign-via-gearman needs gearman-servers`);
    const failures: string[] = [];
    for (const server of this.gearmanServers) {
      try {
        return await call(new GearmanClient({ host: server.host, port: server.port }));
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    throw new Error(`target ${this.name}: no Gearman server took the job: ${failures.join('; ')}`);
  }

  /** Removes the node's agent; one that is already gone counts as removed. */
  private async unregisterFromJenkins(node: { name: string }): Promise<void> {
    const jenkins = this.client();
    const outcome = await this.queue.run('deleteNode', () => jenkins.deleteNode(node.name));
    this.options.log.info({ target: this.name, node: node.name }, `${outcome === 'absent' ? 'no agent to remove' : 'removed the agent'} ${node.name} of target ${this.name}`);
  }

  async close(): Promise<void> {
    await this.jenkins?.close();
    this.jenkins = undefined;
  }

  private client(): JenkinsClient {
    if (this.jenkins) return this.jenkins;
    const { url, user, apikey } = this.settings ?? {};
    const missing = [!url && 'url', !user && 'user', !apikey && 'apikey'].filter(Boolean);
    if (missing.length > 0 || !url || !user || !apikey) {
      throw new Error(`target ${this.name}: no Jenkins ${missing.join(', ')} (jenkins: in nodepool.yaml, or [jenkins "${this.name}"] in the secure file)`);
    }
    this.jenkins = new JenkinsClient({ url, user, apikey, log: this.options.log, ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }) });
    return this.jenkins;
  }
}

/** One gateway per target, following reloads. */
export class TargetRegistry {
  private readonly gateways = new Map<string, TargetGateway>();

  constructor(private readonly options: { clock: Clock; log: Logger; secure?: SecureConfig['jenkins']; timeoutMs?: number }) {}

  /** The targets of a configuration, and the Gearman servers that assign-via-gearman offers nodes on. */
  configure(targets: readonly Target[], gearmanServers: readonly GearmanServer[] = []): void {
    const names = new Set(targets.map((t) => t.name));
    for (const [name, gateway] of this.gateways) {
      if (!names.has(name)) {
        void gateway.close();
        this.gateways.delete(name);
      }
    }
    for (const target of targets) {
      const existing = this.gateways.get(target.name);
      if (existing) existing.update(target, this.options.secure, gearmanServers);
      else this.gateways.set(target.name, new TargetGateway(target, this.options.secure, this.options, gearmanServers));
    }
  }

  get(name: string): TargetGateway | undefined {
    return this.gateways.get(name);
  }

  /** Whether nodes of the target are registered before they are ready. */
  registersNodes(name: string): boolean {
    return this.gateways.get(name)?.registersNodes ?? false;
  }

  async close(): Promise<void> {
    await Promise.all([...this.gateways.values()].map((g) => g.close()));
    this.gateways.clear();
  }
}
