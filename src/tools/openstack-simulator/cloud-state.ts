import type { Clock } from '../../core/clock.js';
import { ComputeStore } from './compute-store.js';
import { hexId } from './ids.js';
import { IdentityStore } from './identity-store.js';
import { ImageStore } from './image-store.js';
import { NetworkStore } from './network-store.js';
import { DEFAULT_PUBLIC_KEY, type QuotaLimits, type ResolvedOptions, type Timings } from './options.js';

/** The settings a test may change while the simulator runs. */
export interface Behaviour {
  timings: Timings;
  errorRate: number;
  errorNamePattern: RegExp | undefined;
  tokenLifetimeSeconds: number;
  floatingIps: boolean;
}

/** Everything the cloud holds, seeded from the options. */
export class CloudState {
  readonly clock: Clock;
  readonly random: () => number;
  readonly region: string;
  readonly identity: IdentityStore;
  readonly compute: ComputeStore;
  readonly images: ImageStore;
  readonly network: NetworkStore;
  /** Owner of what the operator seeded (public images, shared networks); nobody logs in to it. */
  readonly adminProjectId = hexId();
  readonly behaviour: Behaviour;

  constructor(options: ResolvedOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.region = options.region;
    const now = (): number => this.clock.now();
    this.identity = new IdentityStore(options.users, options.applicationCredentials);
    this.compute = new ComputeStore(options.flavors, [...options.availabilityZones], { ...options.quota });
    this.images = new ImageStore(now, options.imageHashAlgorithm);
    this.network = new NetworkStore(now);
    this.behaviour = {
      timings: { ...options.timings },
      errorRate: options.errorRate,
      errorNamePattern: options.errorNamePattern,
      tokenLifetimeSeconds: options.tokenLifetimeSeconds,
      floatingIps: options.floatingIps,
    };
    for (const keypair of options.keypairs) {
      const user = this.identity.userByName(keypair.user);
      if (!user) throw new Error(`keypair ${keypair.name}: no user ${keypair.user}`);
      this.compute.addKeypair(keypair, user.id, DEFAULT_PUBLIC_KEY);
    }
    for (const network of options.networks) this.network.addNetwork(network, this.adminProjectId);
    for (const image of options.images) this.images.seed(image, this.adminProjectId);
    for (const fip of options.floatingIpSeeds) this.network.addFloatingIp(fip, this.defaultProjectId());
  }

  now(): number {
    return this.clock.now();
  }

  /** The first user's project: where seeded floating IPs belong. */
  defaultProjectId(): string {
    const first = this.identity.users.values().next().value;
    return first?.project.id ?? this.adminProjectId;
  }

  setQuota(quota: Partial<QuotaLimits>): void {
    this.compute.quota = { ...this.compute.quota, ...quota };
  }

  /** Finishes deletes whose time has come: the server goes, and so do its ports. */
  sweep(): void {
    for (const server of this.compute.takeGone(this.now())) {
      this.network.releaseServerPorts(server.id);
    }
  }
}
