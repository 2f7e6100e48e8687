import { createHash } from 'node:crypto';
import {
  buildPhase, buildSeenAt, isGone, quotaUsage, serverPhase, type QuotaLimits, type QuotaUsage, type ServerLife,
} from '../../simulated-cloud/index.js';
import { uuid } from './ids.js';
import type { FlavorSeed, KeypairSeed } from './options.js';

export interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
}

export interface Keypair {
  name: string;
  userId: string;
  publicKey: string;
  fingerprint: string;
}

/** The shared model's phases (src/simulated-cloud/), with Nova's two task states of a build. */
export type ServerPhase = 'scheduling' | 'spawning' | 'active' | 'error' | 'deleting' | 'gone';
export type LivePhase = Exclude<ServerPhase, 'deleting' | 'gone'>;

/** A Nova server: its life (created, build end and outcome, delete) and what it was created with. */
export interface Server extends ServerLife {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  flavor: Flavor;
  imageId: string;
  availabilityZone: string;
  /** As asked for; shown as the server's zone until a host is chosen. */
  requestedAz: string | null;
  keyName: string | null;
  metadata: Record<string, string>;
  configDrive: boolean;
  description: string | null;
  hostname: string;
  diskConfig: 'AUTO' | 'MANUAL';
  securityGroups: string[];
  accessIPv4: string;
  accessIPv6: string;
  faultMessage?: string;
}

/** Flavors, key pairs and servers; a server's state is worked out from its times when read. */
export class ComputeStore {
  readonly flavors = new Map<string, Flavor>();
  readonly keypairs: Keypair[] = [];
  readonly servers = new Map<string, Server>();

  constructor(
    flavors: readonly FlavorSeed[],
    readonly availabilityZones: string[],
    public quota: QuotaLimits,
  ) {
    for (const seed of flavors) this.addFlavor(seed);
  }

  addFlavor(seed: FlavorSeed): Flavor {
    const flavor = { id: seed.id ?? uuid(), name: seed.name, ram: seed.ram, vcpus: seed.vcpus, disk: seed.disk };
    this.flavors.set(flavor.id, flavor);
    return flavor;
  }

  addKeypair(seed: KeypairSeed, userId: string, defaultKey: string): Keypair {
    const publicKey = seed.publicKey ?? defaultKey;
    const keypair = { name: seed.name, userId, publicKey, fingerprint: fingerprint(publicKey) };
    this.keypairs.push(keypair);
    return keypair;
  }

  keypair(userId: string, name: string): Keypair | undefined {
    return this.keypairs.find((k) => k.userId === userId && k.name === name);
  }

  phase(server: Server, now: number): ServerPhase {
    const phase = serverPhase(server, now);
    return phase === 'building' ? this.livePhase(server, now) : phase;
  }

  /** Where the build is at `at`, ignoring any delete: a build is scheduling for its first half, then spawning. */
  livePhase(server: Server, at: number): LivePhase {
    const phase = buildPhase(server, at);
    if (phase !== 'building') return phase;
    return at < spawningFrom(server) ? 'scheduling' : 'spawning';
  }

  /** The build phase shown at `now`: once a delete has arrived, the one it had then (with task_state deleting). */
  shownPhase(server: Server, now: number): LivePhase {
    return this.livePhase(server, buildSeenAt(server, now));
  }

  /** Servers of a project that still exist at `now`, newest first (Nova's default sort). */
  visibleServers(projectId: string, now: number): Server[] {
    return [...this.servers.values()]
      .filter((s) => s.projectId === projectId && !isGone(s, now))
      .sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id));
  }

  usage(projectId: string, now: number): QuotaUsage {
    const mine = [...this.servers.values()].filter((s) => s.projectId === projectId);
    return quotaUsage(mine, now, (s) => s.flavor);
  }

  /** Servers whose delete has completed by `now`; the caller frees their ports. */
  takeGone(now: number): Server[] {
    const gone = [...this.servers.values()].filter((s) => isGone(s, now));
    for (const server of gone) this.servers.delete(server.id);
    return gone;
  }
}

/** When a build moves from scheduling to spawning (a host, ports and addresses): half way through. */
export function spawningFrom(server: Server): number {
  return server.buildEndsAt === undefined ? Infinity : server.createdAt + (server.buildEndsAt - server.createdAt) / 2;
}

/** When the build ended (or ends); a server stuck in BUILD has no such time, so its creation stands in. */
export function builtAt(server: Server): number {
  return server.buildEndsAt ?? server.createdAt;
}

/** Nova's fingerprint of an OpenSSH public key: md5 of the key blob, colon separated. */
function fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.split(/\s+/)[1] ?? '', 'base64');
  return createHash('md5').update(blob).digest('hex').match(/../g)?.join(':') ?? '';
}
