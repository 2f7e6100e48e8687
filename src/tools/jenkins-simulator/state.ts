import { createHash, randomBytes } from 'node:crypto';
import type { JenkinsAgentSeed, JenkinsJobSeed, ResolvedOptions } from './options.js';

/** What an agent's launcher was given: the SSH launcher's host, port and credentials, and every field as sent. */
export interface Launcher {
  /** The launcher's `stapler-class`, e.g. hudson.plugins.sshslaves.SSHLauncher. */
  class: string;
  host?: string;
  port?: number;
  credentialsId?: string;
  username?: string;
  /** The SSH launcher's `privatekey` field (a key file path on the Jenkins controller). */
  privateKey?: string;
  /** The launcher object exactly as submitted, `stapler-class` included. */
  fields: Record<string, unknown>;
}

/** A permanent agent (hudson.slaves.DumbSlave) and its computer. */
export interface Agent {
  name: string;
  description: string;
  executors: number;
  remoteRoot: string;
  labels: string[];
  mode: 'NORMAL' | 'EXCLUSIVE';
  launcher: Launcher;
  /** The retention strategy's stapler-class, when one was given. */
  retentionStrategy?: string;
  /** The launcher never reaches a real host here: an agent is offline until a test says it connected. */
  online: boolean;
  createdAt: number;
}

export interface Job {
  name: string;
  /** Parameter definitions, name -> default; undefined when the job is not parameterized. */
  parameters?: Record<string, string>;
}

/** One queue item made by buildWithParameters. */
export interface Build {
  queueId: number;
  job: string;
  parameters: Record<string, string>;
  /** `started` once the test lets it leave the queue; only queued items absorb identical requests. */
  state: 'queued' | 'started';
  queuedAt: number;
  user: string;
}

export const SSH_LAUNCHER = 'hudson.plugins.sshslaves.SSHLauncher';

/** Jenkins' own state: users, agents, jobs, the queue, and the crumb issuer. */
export class JenkinsState {
  readonly users = new Map<string, string>();
  readonly agents = new Map<string, Agent>();
  readonly jobs = new Map<string, Job>();
  readonly builds: Build[] = [];
  crumbsEnabled: boolean;
  readonly crumbRequestField: string;
  readonly apiTokenSkipsCrumb: boolean;
  readonly now: () => number;
  private nextQueueId = 1;
  private crumbSalt = randomBytes(16).toString('hex');

  constructor(options: ResolvedOptions) {
    for (const user of options.users) this.users.set(user.name, user.apiToken);
    for (const job of options.jobs) this.addJob(job);
    this.crumbsEnabled = options.crumbs;
    this.crumbRequestField = options.crumbRequestField;
    this.apiTokenSkipsCrumb = options.apiTokenSkipsCrumb;
    this.now = options.now;
    for (const agent of options.agents) this.seedAgent(agent);
  }

  /**
   * The crumb the issuer hands this user. Like DefaultCrumbIssuer it is a
   * hash of the user and a secret; the secret changes when crumbs expire (a
   * Jenkins restart does that), so every crumb handed out before is refused.
   */
  crumbFor(user: string): string {
    return createHash('sha256').update(`${this.crumbSalt}:${user}`).digest('hex');
  }

  expireCrumbs(): void {
    this.crumbSalt = randomBytes(16).toString('hex');
  }

  addJob(seed: JenkinsJobSeed): void {
    this.jobs.set(seed.name, { name: seed.name, ...(seed.parameters ? { parameters: { ...seed.parameters } } : {}) });
  }

  seedAgent(seed: JenkinsAgentSeed): Agent {
    const fields = seed.launcher ?? { 'stapler-class': SSH_LAUNCHER, host: '127.0.0.1', port: 22 };
    const agent: Agent = {
      name: seed.name,
      description: seed.description ?? '',
      executors: seed.executors ?? 1,
      remoteRoot: seed.remoteRoot ?? '/home/jenkins',
      labels: seed.labels ?? [],
      mode: 'EXCLUSIVE',
      launcher: launcherOf(fields),
      online: false,
      createdAt: this.now(),
    };
    this.agents.set(agent.name, agent);
    return agent;
  }

  /** A queue item for the job, or the identical one still waiting (Queue.schedule2 merges them). */
  enqueue(job: string, parameters: Record<string, string>, user: string): { build: Build; created: boolean } {
    const waiting = this.builds.find((b) => b.job === job && b.state === 'queued' && sameParameters(b.parameters, parameters));
    if (waiting) return { build: waiting, created: false };
    const build: Build = { queueId: this.nextQueueId, job, parameters: { ...parameters }, state: 'queued', queuedAt: this.now(), user };
    this.nextQueueId += 1;
    this.builds.push(build);
    return { build, created: true };
  }
}

export function launcherOf(fields: Record<string, unknown>): Launcher {
  const text = (key: string): string | undefined => (typeof fields[key] === 'string' ? (fields[key] as string) : undefined);
  const port = typeof fields.port === 'number' ? fields.port : typeof fields.port === 'string' ? Number(fields.port) : undefined;
  const launcher: Launcher = { class: text('stapler-class') ?? text('$class') ?? '', fields: structuredClone(fields) };
  const host = text('host');
  if (host !== undefined) launcher.host = host;
  if (port !== undefined && Number.isFinite(port)) launcher.port = port;
  const credentialsId = text('credentialsId');
  if (credentialsId !== undefined) launcher.credentialsId = credentialsId;
  const username = text('username');
  if (username !== undefined) launcher.username = username;
  const privateKey = text('privatekey');
  if (privateKey !== undefined) launcher.privateKey = privateKey;
  return launcher;
}

function sameParameters(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
