/**
 * Where a target's calls go (docs/ci-loop.md, "Targets"): a node that
 * becomes ready is registered with the target's Jenkins as a single-use
 * agent (and the target's test job is started on it), and the agent is
 * removed when the node is deleted, as Nodepool 0.4 did. Calls to one
 * target are spaced by its `rate` in one queue, whatever node makes them.
 * A failed call is thrown to the node's actor, which tries it again after a
 * pause: the client itself never retries.
 */
import type { SecureConfig, Target } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { RateQueue } from '../core/rate-queue.js';
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

export class TargetGateway {
  private readonly queue: RateQueue;
  private jenkins: JenkinsClient | undefined;
  private settings: Partial<JenkinsSettings> | undefined;

  constructor(
    private target: Target,
    secure: SecureConfig['jenkins'] | undefined,
    private readonly options: { clock: Clock; log: Logger; timeoutMs?: number },
  ) {
    this.queue = new RateQueue(target.rate * 1000, options.clock);
    this.update(target, secure);
  }

  get name(): string {
    return this.target.name;
  }

  /** Whether nodes of this target are registered before they are ready. */
  get registersNodes(): boolean {
    return this.settings !== undefined;
  }

  /** A reload: new settings take effect for the next call. */
  update(target: Target, secure: SecureConfig['jenkins'] | undefined): void {
    const settings = jenkinsSettingsOf(target, secure);
    const changed = JSON.stringify(settings) !== JSON.stringify(this.settings);
    this.target = target;
    this.queue.setInterval(target.rate * 1000);
    if (!changed) return;
    void this.jenkins?.close();
    this.jenkins = undefined;
    this.settings = settings;
  }

  /** Registers the node as an agent, and starts the test job on it when the target has one. */
  async register(node: NodeToRegister): Promise<Registration> {
    const settings = this.settings;
    if (!settings) return {};
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
    return {};
  }

  /** Removes the node's agent; one that is already gone counts as removed. */
  async unregister(node: { name: string }): Promise<void> {
    if (!this.settings) return;
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

  configure(targets: readonly Target[]): void {
    const names = new Set(targets.map((t) => t.name));
    for (const [name, gateway] of this.gateways) {
      if (!names.has(name)) {
        void gateway.close();
        this.gateways.delete(name);
      }
    }
    for (const target of targets) {
      const existing = this.gateways.get(target.name);
      if (existing) existing.update(target, this.options.secure);
      else this.gateways.set(target.name, new TargetGateway(target, this.options.secure, this.options));
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
