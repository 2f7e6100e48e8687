import { createHash } from 'node:crypto';
import { uuid } from './ids.js';
import type { FlavorSeed, KeypairSeed, QuotaLimits } from './options.js';

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

export type ServerPhase = 'scheduling' | 'spawning' | 'active' | 'error' | 'deleting' | 'gone';
export type LivePhase = Exclude<ServerPhase, 'deleting' | 'gone'>;

export interface Server {
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
  createdAt: number;
  /** When BUILD ends, in ACTIVE or ERROR (`outcome`). */
  readyAt: number;
  outcome: 'active' | 'error';
  faultMessage?: string;
  /** The phase shown (with task_state deleting) once a delete has arrived. */
  phaseAtDelete?: LivePhase;
  deleteRequestedAt?: number;
  goneAt?: number;
}

export interface Usage {
  instances: number;
  cores: number;
  ram: number;
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
    if (server.goneAt !== undefined && now >= server.goneAt) return 'gone';
    if (server.deleteRequestedAt !== undefined) return 'deleting';
    return this.livePhase(server, now);
  }

  /** Where the build is at `now`, ignoring any delete. */
  livePhase(server: Server, now: number): LivePhase {
    if (now < server.readyAt) {
      return now < server.createdAt + (server.readyAt - server.createdAt) / 2 ? 'scheduling' : 'spawning';
    }
    return server.outcome;
  }

  /** Servers of a project that still exist at `now`, newest first (Nova's default sort). */
  visibleServers(projectId: string, now: number): Server[] {
    return [...this.servers.values()]
      .filter((s) => s.projectId === projectId && this.phase(s, now) !== 'gone')
      .sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id));
  }

  usage(projectId: string, now: number): Usage {
    const servers = this.visibleServers(projectId, now);
    return {
      instances: servers.length,
      cores: servers.reduce((n, s) => n + s.flavor.vcpus, 0),
      ram: servers.reduce((n, s) => n + s.flavor.ram, 0),
    };
  }

  /** Servers whose delete has completed by `now`; the caller frees their ports. */
  takeGone(now: number): Server[] {
    const gone = [...this.servers.values()].filter((s) => this.phase(s, now) === 'gone');
    for (const server of gone) this.servers.delete(server.id);
    return gone;
  }
}

/** Nova's fingerprint of an OpenSSH public key: md5 of the key blob, colon separated. */
function fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.split(/\s+/)[1] ?? '', 'base64');
  return createHash('md5').update(blob).digest('hex').match(/../g)?.join(':') ?? '';
}
