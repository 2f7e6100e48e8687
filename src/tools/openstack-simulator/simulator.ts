import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildCatalog, type CatalogEntry } from './catalog.js';
import { CloudState } from './cloud-state.js';
import { cloudsYaml } from './clouds-yaml.js';
import { dispatch } from './dispatch.js';
import { FaultPlan, type FailureRule, type RequestRecord } from './faults.js';
import { glanceRoutes } from './glance.js';
import { imageSnapshot, serverSnapshot, type ImageSnapshot, type ServerSnapshot } from './inspection.js';
import { keystoneRoutes } from './keystone.js';
import { neutronRoutes } from './neutron.js';
import { novaRoutes } from './nova.js';
import {
  DEFAULT_PUBLIC_KEY, resolveOptions, type FlavorSeed, type FloatingIpSeed, type ImageSeed, type KeypairSeed,
  type NetworkSeed, type OpenStackSimulatorOptions, type QuotaLimits, type Timings,
} from './options.js';
import type { Endpoints, Route } from './router.js';

const HOST = '127.0.0.1';

export interface OpenStackSimulator {
  /** Keystone's auth URL, ending in /v3: what clouds.yaml's auth_url takes. */
  readonly url: string;
  readonly endpoints: Endpoints;
  readonly port: number;
  readonly region: string;
  /** The first user's credentials (default nodepool/nodepool in project nodepool). */
  readonly credentials: { username: string; password: string; projectName: string; projectId: string; userId: string };
  close(): Promise<void>;

  /** Every route as 'METHOD /path/template', the keys of counters() and failure rules. */
  routes(): string[];
  counters(): Record<string, number>;
  calls(route: string): number;
  requests(): RequestRecord[];
  resetCounters(): void;

  servers(): ServerSnapshot[];
  server(id: string): ServerSnapshot | undefined;
  images(): ImageSnapshot[];
  image(id: string): ImageSnapshot | undefined;
  networks(): Array<{ id: string; name: string; cidr: string; subnetId: string }>;
  flavors(): Array<{ id: string; name: string; ram: number; vcpus: number; disk: number }>;
  floatingIps(): Array<{ id: string; address: string; portId: string | null; fixedIp: string | null }>;

  seedImage(seed: ImageSeed): ImageSnapshot;
  seedNetwork(seed: NetworkSeed): { id: string; subnetId: string };
  seedFloatingIp(seed: FloatingIpSeed): { id: string };
  addFlavor(seed: FlavorSeed): { id: string };
  addKeypair(seed: KeypairSeed): void;

  setFailures(rules: FailureRule[]): void;
  addFailures(rules: FailureRule[]): void;
  clearFailures(): void;
  pendingFailures(): Array<FailureRule & { fired: number }>;
  setLatency(route: string, ms: number): void;
  setSlowResponse(route: string, ms: number): void;
  setErrorRate(probability: number): void;
  setErrorNamePattern(pattern: RegExp | string | undefined): void;
  setQuota(quota: Partial<QuotaLimits>): void;
  setTimings(timings: Partial<Timings>): void;
  setTokenLifetime(seconds: number): void;
  /** Every token issued so far is refused from now on (clients must re-authenticate). */
  revokeAllTokens(): void;
  setFloatingIpsEnabled(enabled: boolean): void;

  cloudsYaml(cloudName?: string): string;
}

/** Starts the cloud on 127.0.0.1 and resolves once it is listening. */
export async function startOpenStackSimulator(options: OpenStackSimulatorOptions = {}): Promise<OpenStackSimulator> {
  const resolved = resolveOptions(options);
  const state = new CloudState(resolved);
  const faults = new FaultPlan(resolved.clock);
  faults.setFailures(resolved.failures);
  for (const [route, ms] of Object.entries(resolved.latencyMs)) faults.setLatency(route, ms);
  for (const [route, ms] of Object.entries(resolved.slowResponsesMs)) faults.setSlowResponse(route, ms);

  let catalog: CatalogEntry[] = [];
  const routes: Route[] = [...keystoneRoutes(() => catalog), ...novaRoutes(), ...glanceRoutes(), ...neutronRoutes()];
  const endpoints: Endpoints = { base: '', identity: '', compute: '', image: '', network: '' };
  const http = createServer((req, res) => {
    dispatch({ routes, state, faults, endpoints }, req, res).catch((error: unknown) => {
      console.error('openstack-simulator: request failed', error);
      res.destroy();
    });
  });
  const port = await listen(http, resolved.port);
  const base = `http://${HOST}:${port}`;
  Object.assign(endpoints, {
    base, identity: `${base}/identity/v3`, compute: `${base}/compute/v2.1`, image: `${base}/image`, network: `${base}/network`,
  });
  catalog = buildCatalog(endpoints, resolved.region);
  return simulatorHandle({ http, state, faults, routes, endpoints, port, region: resolved.region });
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

interface Parts {
  http: HttpServer;
  state: CloudState;
  faults: FaultPlan;
  routes: Route[];
  endpoints: Endpoints;
  port: number;
  region: string;
}

function simulatorHandle({ http, state, faults, routes, endpoints, port, region }: Parts): OpenStackSimulator {
  const firstUser = state.identity.users.values().next().value;
  const credentials = {
    username: firstUser?.name ?? '', password: firstUser?.password ?? '', projectName: firstUser?.project.name ?? '',
    projectId: firstUser?.project.id ?? '', userId: firstUser?.id ?? '',
  };
  const user = (name: string): string => {
    const found = state.identity.userByName(name);
    if (!found) throw new Error(`no user ${name}`);
    return found.id;
  };
  let closed: Promise<void> | undefined;
  return {
    url: endpoints.identity,
    endpoints,
    port,
    region,
    credentials,
    close() {
      closed ??= new Promise<void>((resolve) => {
        faults.close();
        http.close(() => resolve());
        http.closeAllConnections();
      });
      return closed;
    },
    routes: () => routes.map((r) => `${r.method} ${r.template}`),
    counters: () => faults.counters(),
    calls: (route) => faults.calls(route),
    requests: () => faults.requests(),
    resetCounters: () => faults.resetCounters(),
    servers: () => {
      state.sweep();
      return [...state.compute.servers.values()].sort((a, b) => a.createdAt - b.createdAt).map((s) => serverSnapshot(state, s));
    },
    server: (id) => {
      state.sweep();
      const server = state.compute.servers.get(id);
      return server && serverSnapshot(state, server);
    },
    images: () => [...state.images.images.values()].map((i) => imageSnapshot(state, i)),
    image: (id) => {
      const image = state.images.images.get(id);
      return image && imageSnapshot(state, image);
    },
    networks: () => [...state.network.networks.values()].map((n) => ({ id: n.id, name: n.name, cidr: n.subnet.cidr, subnetId: n.subnet.id })),
    flavors: () => [...state.compute.flavors.values()].map((f) => ({ ...f })),
    floatingIps: () => [...state.network.floatingIps.values()].map((f) => ({ id: f.id, address: f.address, portId: f.portId, fixedIp: f.fixedIp })),
    seedImage: (seed) => imageSnapshot(state, state.images.seed(seed, state.adminProjectId)),
    seedNetwork: (seed) => {
      const network = state.network.addNetwork(seed, state.adminProjectId);
      return { id: network.id, subnetId: network.subnet.id };
    },
    seedFloatingIp: (seed) => ({ id: state.network.addFloatingIp(seed, state.defaultProjectId()).id }),
    addFlavor: (seed) => ({ id: state.compute.addFlavor(seed).id }),
    addKeypair: (seed) => {
      state.compute.addKeypair(seed, user(seed.user), DEFAULT_PUBLIC_KEY);
    },
    setFailures: (rules) => faults.setFailures(rules),
    addFailures: (rules) => faults.addFailures(rules),
    clearFailures: () => faults.setFailures([]),
    pendingFailures: () => faults.failures(),
    setLatency: (route, ms) => faults.setLatency(route, ms),
    setSlowResponse: (route, ms) => faults.setSlowResponse(route, ms),
    setErrorRate: (probability) => {
      state.behaviour.errorRate = probability;
    },
    setErrorNamePattern: (pattern) => {
      state.behaviour.errorNamePattern = typeof pattern === 'string' ? new RegExp(pattern) : pattern;
    },
    setQuota: (quota) => state.setQuota(quota),
    setTimings: (timings) => {
      state.behaviour.timings = { ...state.behaviour.timings, ...timings };
    },
    setTokenLifetime: (seconds) => {
      state.behaviour.tokenLifetimeSeconds = seconds;
    },
    revokeAllTokens: () => state.identity.revokeAll(),
    setFloatingIpsEnabled: (enabled) => {
      state.behaviour.floatingIps = enabled;
    },
    cloudsYaml: (cloudName = 'openstack-simulator') =>
      cloudsYaml({ cloudName, authUrl: endpoints.identity, region, ...credentials }),
  };
}
