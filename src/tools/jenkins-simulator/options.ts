/** A Jenkins user who calls the API with HTTP basic auth: user name and API token. */
export interface JenkinsUserSeed {
  name: string;
  apiToken: string;
}

/**
 * A job. `parameters` are its parameter definitions (name -> default value),
 * as a job's "This project is parameterized" section; a job without them is
 * not parameterized and refuses buildWithParameters.
 */
export interface JenkinsJobSeed {
  name: string;
  parameters?: Record<string, string>;
}

/**
 * An agent put in place by the test rather than through doCreateItem. Fields
 * left out get what a DumbSlave created by nodepool would have.
 */
export interface JenkinsAgentSeed {
  name: string;
  description?: string;
  executors?: number;
  remoteRoot?: string;
  labels?: string[];
  launcher?: Record<string, unknown>;
}

export interface JenkinsSimulatorOptions {
  /** 0 (the default): any free port. */
  port?: number;
  /** Where Jenkins is mounted, e.g. `/jenkins` (Jenkins' --prefix); default the root. */
  contextPath?: string;
  /** Default one user, nodepool with API token `nodepool-api-token`. */
  users?: JenkinsUserSeed[];
  /** CSRF protection (a crumb issuer configured); default on. */
  crumbs?: boolean;
  /** The crumb header and form field name; default `Jenkins-Crumb` (Jenkins 2; 1.x said `.crumb`). */
  crumbRequestField?: string;
  /**
   * Jenkins 2.96 and later let API-token-authenticated requests through
   * without a crumb (JENKINS-22474, ApiCrumbExclusion). Default off: the
   * Jenkins that nodepool 0.4 met wanted a crumb on every POST.
   */
  apiTokenSkipsCrumb?: boolean;
  jobs?: JenkinsJobSeed[];
  agents?: JenkinsAgentSeed[];
  /** Timestamps of agents and queue items; default Date.now. */
  now?: () => number;
}

export const DEFAULT_USER: JenkinsUserSeed = { name: 'nodepool', apiToken: 'nodepool-api-token' };
export const DEFAULT_CRUMB_FIELD = 'Jenkins-Crumb';

export interface ResolvedOptions {
  port: number;
  contextPath: string;
  users: JenkinsUserSeed[];
  crumbs: boolean;
  crumbRequestField: string;
  apiTokenSkipsCrumb: boolean;
  jobs: JenkinsJobSeed[];
  agents: JenkinsAgentSeed[];
  now: () => number;
}

export function resolveOptions(options: JenkinsSimulatorOptions): ResolvedOptions {
  const contextPath = (options.contextPath ?? '').replace(/\/+$/, '');
  if (contextPath !== '' && !contextPath.startsWith('/')) throw new Error(`contextPath must start with /: '${options.contextPath}'`);
  const users = options.users ?? [DEFAULT_USER];
  if (users.length === 0) throw new Error('the Jenkins simulator needs at least one user');
  return {
    port: options.port ?? 0,
    contextPath,
    users: users.map((u) => ({ ...u })),
    crumbs: options.crumbs ?? true,
    crumbRequestField: options.crumbRequestField ?? DEFAULT_CRUMB_FIELD,
    apiTokenSkipsCrumb: options.apiTokenSkipsCrumb ?? false,
    jobs: (options.jobs ?? []).map((j) => ({ ...j })),
    agents: (options.agents ?? []).map((a) => ({ ...a })),
    now: options.now ?? Date.now,
  };
}
