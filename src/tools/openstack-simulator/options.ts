import { systemClock, type Clock } from '../../core/clock.js';
import { seededRandom, type QuotaLimits } from '../../simulated-cloud/index.js';
import type { FailureRule } from './faults.js';

/** A flavor as the simulator seeds it; the id defaults to a fresh UUID, as `openstack flavor create` gives. */
export interface FlavorSeed {
  id?: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
}

/** A network with one IPv4 subnet. The CIDR must be inside 127.0.0.0/8 so no address ever leaves the host. */
export interface NetworkSeed {
  id?: string;
  name: string;
  cidr: string;
  shared?: boolean;
  subnetName?: string;
  /** First and last address handed out; default the whole subnet but its network, first and broadcast addresses. */
  allocationPool?: { start: string; end: string };
}

export interface ImageSeed {
  id?: string;
  name: string;
  /** Default `active`. An active seed gets the size and hashes of `size` zero bytes. */
  status?: 'active' | 'queued';
  size?: number;
  diskFormat?: string;
  containerFormat?: string;
  /** Default `public` (seeded by the operator, as setup.sh does). */
  visibility?: 'public' | 'private' | 'shared' | 'community';
  properties?: Record<string, string>;
}

export interface UserSeed {
  id?: string;
  name: string;
  password: string;
  /** The project the user has roles on and is scoped to by default. */
  project: string;
  roles?: string[];
}

export interface ApplicationCredentialSeed {
  id?: string;
  name: string;
  secret: string;
  /** User name; the credential is bound to that user's project. */
  user: string;
}

export interface KeypairSeed {
  name: string;
  /** User name; key pairs are per user in Nova. */
  user: string;
  publicKey?: string;
}

export interface FloatingIpSeed {
  id?: string;
  floatingIpAddress: string;
  /** Name of the network the address comes from; default the first network. */
  network?: string;
  /** Attach to this server's first port. */
  serverId?: string;
}

/** Nova's instances, cores and ram quota; -1 is unlimited. */
export type { QuotaLimits };

export interface Timings {
  /** From POST /servers to ACTIVE (or ERROR). */
  activeMs: number;
  /** From DELETE to 404. */
  deleteMs: number;
}

export interface OpenStackSimulatorOptions {
  /** Default 0: a free port. The simulator always binds 127.0.0.1. */
  port?: number;
  region?: string;
  /** Time for transitions, tokens and latencies. Default the system clock. */
  clock?: Clock;
  /** Seed for the error-rate draws; default Math.random. */
  seed?: number;
  tokenLifetimeSeconds?: number;
  timings?: Partial<Timings>;
  /** Probability in [0, 1] that a new server ends in ERROR (No valid host). */
  errorRate?: number;
  /** Servers whose name matches go to ERROR. */
  errorNamePattern?: RegExp | string;
  quota?: Partial<QuotaLimits>;
  users?: UserSeed[];
  applicationCredentials?: ApplicationCredentialSeed[];
  flavors?: FlavorSeed[];
  availabilityZones?: string[];
  keypairs?: KeypairSeed[];
  networks?: NetworkSeed[];
  images?: ImageSeed[];
  /** false: Neutron without the L3 plugin (as the Zed peer): /v2.0/floatingips is 404. */
  floatingIps?: boolean;
  floatingIpSeeds?: FloatingIpSeed[];
  /** Glance's `hashing_algorithm`; default sha512 as Glance. */
  imageHashAlgorithm?: 'sha512' | 'sha256';
  /** Milliseconds added before answering, per 'METHOD /path-template' or '*'. */
  latencyMs?: Record<string, number>;
  failures?: FailureRule[];
  /** Milliseconds over which the response body is trickled, per route or '*'. */
  slowResponsesMs?: Record<string, number>;
}

export const DEFAULT_PUBLIC_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpenStackSimulatorNodepoolKeyNotARealKey0000 nodepool@simulator';

export interface ResolvedOptions {
  port: number;
  region: string;
  clock: Clock;
  random: () => number;
  tokenLifetimeSeconds: number;
  timings: Timings;
  errorRate: number;
  errorNamePattern: RegExp | undefined;
  quota: QuotaLimits;
  users: UserSeed[];
  applicationCredentials: ApplicationCredentialSeed[];
  flavors: FlavorSeed[];
  availabilityZones: string[];
  keypairs: KeypairSeed[];
  networks: NetworkSeed[];
  images: ImageSeed[];
  floatingIps: boolean;
  floatingIpSeeds: FloatingIpSeed[];
  imageHashAlgorithm: 'sha512' | 'sha256';
  latencyMs: Record<string, number>;
  failures: FailureRule[];
  slowResponsesMs: Record<string, number>;
}

/** The defaults mirror the Zed peer (shared/peers/openstack/README.md), with quicker transitions. */
export function resolveOptions(options: OpenStackSimulatorOptions): ResolvedOptions {
  return {
    port: options.port ?? 0,
    region: options.region ?? 'RegionOne',
    clock: options.clock ?? systemClock,
    random: options.seed === undefined ? Math.random : seededRandom(options.seed),
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 24 * 3600,
    timings: { activeMs: 2000, deleteMs: 1000, ...options.timings },
    errorRate: options.errorRate ?? 0,
    errorNamePattern: toRegExp(options.errorNamePattern),
    quota: { instances: 10, cores: 20, ram: 51200, ...options.quota },
    users: options.users ?? [{ name: 'nodepool', password: 'nodepool', project: 'nodepool', roles: ['member', 'reader'] }],
    applicationCredentials: options.applicationCredentials ?? [],
    flavors: options.flavors ?? [
      { name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
      { name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
      { name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
      { name: 'm1.large', ram: 8192, vcpus: 4, disk: 80 },
    ],
    availabilityZones: options.availabilityZones ?? ['az1'],
    keypairs: options.keypairs ?? [{ name: 'nodepool-key', user: 'nodepool' }],
    networks: options.networks ?? [
      {
        name: 'public', cidr: '127.42.0.0/24', shared: true, subnetName: 'public-subnet',
        allocationPool: { start: '127.42.0.10', end: '127.42.0.250' },
      },
    ],
    images: options.images ?? [{ name: 'cirros-fake', status: 'active', size: 1024 * 1024, diskFormat: 'raw' }],
    floatingIps: options.floatingIps ?? true,
    floatingIpSeeds: options.floatingIpSeeds ?? [],
    imageHashAlgorithm: options.imageHashAlgorithm ?? 'sha512',
    latencyMs: { ...options.latencyMs },
    failures: [...(options.failures ?? [])],
    slowResponsesMs: { ...options.slowResponsesMs },
  };
}

function toRegExp(pattern: RegExp | string | undefined): RegExp | undefined {
  if (pattern === undefined || pattern instanceof RegExp) return pattern;
  return new RegExp(pattern);
}
