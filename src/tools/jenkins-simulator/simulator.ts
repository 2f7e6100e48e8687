/**
 * A Jenkins controller over real HTTP, holding in memory what nodepool
 * touches: users with API tokens, agents, parameterized jobs and their queue
 * items, and the crumb issuer. It answers exactly the REST calls
 * python-jenkins makes for create_node, get_node_info / node_exists,
 * delete_node and build_job with parameters, in the shapes and statuses
 * Jenkins core gives (the classes are named in each file):
 *
 *   GET  /crumbIssuer/api/json                  crumb and crumbRequestField; 404 without CSRF protection
 *   POST /computer/doCreateItem                 name, type, json (query or form); 302 to /computer/
 *   GET  /computer/<name>/api/json              the computer; 404 when there is no such agent
 *   POST /computer/<name>/doDelete              302 to /computer/; 404 when there is no such agent
 *   POST /job/<name>/buildWithParameters?P=v    201 (or 303) with Location /queue/item/<n>/
 *   GET  /computer/, /computer/api/json         where a client that follows redirects lands
 *
 * Every request needs basic auth with a user's API token (wrong: 401;
 * none: 403), and every POST the user's crumb while crumbs are on (403).
 * A test inspects the state and injects failures through the handle.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { computerRoutes } from './computers.js';
import { crumbRoutes } from './crumbs.js';
import { dispatch } from './dispatch.js';
import { FaultPlan, type Failure, type FailureRule, type RequestRecord } from './faults.js';
import { agentSnapshot, buildSnapshot, type AgentSnapshot, type BuildSnapshot } from './inspection.js';
import { jobRoutes } from './jobs.js';
import { resolveOptions, type JenkinsAgentSeed, type JenkinsJobSeed, type JenkinsSimulatorOptions, type JenkinsUserSeed } from './options.js';
import type { Route } from './router.js';
import { JenkinsState } from './state.js';

const HOST = '127.0.0.1';

export interface JenkinsSimulator {
  /** Jenkins' root URL, ending in '/': what a target's `jenkins: url:` takes. */
  readonly url: string;
  readonly port: number;
  /** The first user's name and API token. */
  readonly credentials: { user: string; apiToken: string };
  close(): Promise<void>;
  /** Stops listening and drops every connection: a client now meets "connection refused". */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;

  /** Every route as 'METHOD /path/template', the keys of counters() and failNext(). */
  routes(): string[];
  counters(): Record<string, number>;
  calls(route: string): number;
  requests(): RequestRecord[];
  resetCounters(): void;

  agents(): AgentSnapshot[];
  agent(name: string): AgentSnapshot | undefined;
  /** The queue items of a job, oldest first. */
  builds(job: string): BuildSnapshot[];

  addAgent(seed: JenkinsAgentSeed): AgentSnapshot;
  addJob(seed: JenkinsJobSeed): void;
  addUser(seed: JenkinsUserSeed): void;
  /** The agent's launcher connected (or lost it): `offline` in its API answer. */
  setOnline(name: string, online: boolean): void;
  /** The job's queued items (every job's when none given) leave the queue, so an identical request queues anew. */
  startBuilds(job?: string): void;

  /** Turns CSRF protection on or off (a crumb issuer configured or not). */
  setCrumbs(enabled: boolean): void;
  /** Every crumb handed out so far is refused from now on, as after a Jenkins restart. */
  expireCrumbs(): void;
  /** The crumb the issuer would hand this user now (default the first user). */
  crumb(user?: string): string;

  /**
   * The next `n` requests to `route` (default every route) fail: with this
   * HTTP status, by a dropped connection ('reset'), or by no answer ('hang').
   */
  failNext(n: number, failure: Failure, route?: string): void;
  pendingFailures(): FailureRule[];
  clearFailures(): void;
}

/** Starts Jenkins on 127.0.0.1 and resolves once it is listening. */
export async function startJenkinsSimulator(options: JenkinsSimulatorOptions = {}): Promise<JenkinsSimulator> {
  const resolved = resolveOptions(options);
  const state = new JenkinsState(resolved);
  const faults = new FaultPlan();
  const routes: Route[] = [...crumbRoutes(), ...computerRoutes(), ...jobRoutes()];
  const dispatcher = { routes, state, faults, contextPath: resolved.contextPath, origin: `http://${HOST}` };
  const http = createServer((req, res) => {
    dispatch(dispatcher, req, res).catch((error: unknown) => {
      console.error('jenkins-simulator: request failed', error);
      res.destroy();
    });
  });
  const port = await listen(http, resolved.port);
  dispatcher.origin = `http://${HOST}:${port}`;
  return simulatorHandle({ http, state, faults, routes, port, url: `${dispatcher.origin}${resolved.contextPath}/` });
}

function listen(http: HttpServer, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, HOST, () => {
      http.off('error', reject);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

function stop(http: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!http.listening) {
      resolve();
      return;
    }
    http.close(() => resolve());
    http.closeAllConnections();
  });
}

interface Parts {
  http: HttpServer;
  state: JenkinsState;
  faults: FaultPlan;
  routes: Route[];
  port: number;
  url: string;
}

function simulatorHandle({ http, state, faults, routes, port, url }: Parts): JenkinsSimulator {
  const [firstUser, firstToken] = state.users.entries().next().value ?? ['', ''];
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    credentials: { user: firstUser, apiToken: firstToken },
    close() {
      closed ??= stop(http);
      return closed;
    },
    down: () => stop(http),
    up: async () => {
      if (closed) throw new Error('the Jenkins simulator is closed');
      if (!http.listening) await listen(http, port);
    },
    routes: () => routes.map((r) => `${r.method} ${r.template}`),
    counters: () => faults.counters(),
    calls: (route) => faults.calls(route),
    requests: () => faults.requests(),
    resetCounters: () => faults.reset(),
    agents: () => [...state.agents.values()].sort((a, b) => a.createdAt - b.createdAt).map(agentSnapshot),
    agent: (name) => {
      const agent = state.agents.get(name);
      return agent && agentSnapshot(agent);
    },
    builds: (job) => state.builds.filter((b) => b.job === job).map(buildSnapshot),
    addAgent: (seed) => agentSnapshot(state.seedAgent(seed)),
    addJob: (seed) => state.addJob(seed),
    addUser: (seed) => {
      state.users.set(seed.name, seed.apiToken);
    },
    setOnline: (name, online) => {
      const agent = state.agents.get(name);
      if (!agent) throw new Error(`no agent ${name}`);
      agent.online = online;
    },
    startBuilds: (job) => {
      for (const build of state.builds) if (job === undefined || build.job === job) build.state = 'started';
    },
    setCrumbs: (enabled) => {
      state.crumbsEnabled = enabled;
    },
    expireCrumbs: () => state.expireCrumbs(),
    crumb: (user = firstUser) => state.crumbFor(user),
    failNext: (n, failure, route = '*') => faults.add({ route, failure, remaining: n }),
    pendingFailures: () => faults.pending(),
    clearFailures: () => faults.clear(),
  };
}
