import type { Provider, ProviderImage } from '../config/types.js';
import type { Database } from '../db/index.js';
import { DriverError, type CloudImage, type Flavor, type ProviderDriver, type Server } from '../drivers/driver.js';
import type { Logger } from '../log/index.js';
import type { ProviderServer } from '../../machines/provider.machine.js';
import type { Clock } from './clock.js';
import { RateQueue } from './rate-queue.js';
import { nodeIdFromMetadata, subnodeIdFromMetadata } from './server-metadata.js';

/** How long a listed set of cloud images is trusted before it is asked for again. */
const IMAGE_LIST_TTL_MS = 60_000;
/** How long the cloud's quota is trusted; launches made since are subtracted meanwhile. */
const QUOTA_TTL_MS = 30_000;

/** An image to boot from: the cloud's id, and the upload record it came from (if any). */
export interface BootImage {
  imageId: string;
  uploadId: number | null;
}

/**
 * What one provider's actors share: the driver, the queue that spaces its
 * calls `rate` seconds apart, the latest list of servers (the idempotent
 * create looks there first), and caches of flavors and images.
 */
export class ProviderRuntime {
  readonly queue: RateQueue;
  private servers: Server[] | undefined;
  private firstList: Promise<Server[]> | undefined;
  private flavors: Promise<Flavor[]> | undefined;
  private images: { at: number; list: Promise<CloudImage[]> } | undefined;
  private quota: { at: number; headroom: number } | undefined;

  constructor(
    public provider: Provider,
    readonly driver: ProviderDriver,
    private readonly db: Database,
    private readonly clock: Clock,
    readonly log: Logger,
  ) {
    this.queue = new RateQueue(provider.rate * 1000, clock);
  }

  get name(): string {
    return this.provider.name;
  }

  /** A changed configuration of the same provider (limits, images, rate). */
  reconfigure(provider: Provider): void {
    this.provider = provider;
    this.queue.setInterval(provider.rate * 1000);
  }

  /** One list of every server, shared by all of the provider's nodes. */
  async listServers(): Promise<{ servers: ProviderServer[]; now: number }> {
    const servers = await this.queue.run('listServers', () => this.driver.listServers());
    this.servers = servers;
    return { servers: servers.map((s) => this.toProviderServer(s)), now: this.clock.now() };
  }

  /** The latest list, or one taken now if there has been none since start. */
  async knownServers(): Promise<Server[]> {
    if (this.servers) return this.servers;
    this.firstList ??= this.listServers().then(() => this.servers ?? []);
    return this.firstList;
  }

  /** A server a previous attempt already created for this node (its metadata says so). */
  async serverOfNode(nodeId: number): Promise<Server | undefined> {
    const servers = await this.knownServers();
    return servers.find(
      (s) =>
        nodeIdFromMetadata(s.metadata, this.name) === nodeId &&
        subnodeIdFromMetadata(s.metadata, this.name) === undefined &&
        s.status !== 'DELETED',
    );
  }

  /** Likewise for a sub-node. */
  async serverOfSubnode(subnodeId: number): Promise<Server | undefined> {
    const servers = await this.knownServers();
    return servers.find((s) => subnodeIdFromMetadata(s.metadata, this.name) === subnodeId && s.status !== 'DELETED');
  }

  /** The smallest flavor with at least min-ram whose name contains name-filter (behaviour.md step 4). */
  async flavorFor(image: ProviderImage): Promise<Flavor> {
    this.flavors ??= this.queue.run('listFlavors', () => this.driver.listFlavors()).catch((err: unknown) => {
      this.flavors = undefined;
      throw err;
    });
    const candidates = (await this.flavors)
      .filter((f) => f.ram >= image.minRam && (!image.nameFilter || f.name.includes(image.nameFilter)))
      .sort((a, b) => a.ram - b.ram || a.vcpus - b.vcpus);
    const flavor = candidates[0];
    if (!flavor) {
      const filter = image.nameFilter ? ` whose name contains '${image.nameFilter}'` : '';
      throw new DriverError('bad-request', `${this.name}: no flavor with at least ${image.minRam} MB of RAM${filter}`);
    }
    return flavor;
  }

  /**
   * The image a node of this provider image boots from: the newest ready
   * upload (behaviour.md section 5); for the simulated cloud, until a build
   * is uploaded, an image the cloud already holds under the image's name.
   */
  async bootImage(image: ProviderImage): Promise<BootImage | undefined> {
    const upload = await this.db.uploads.newestReady(image.name, this.name);
    if (upload?.externalId) return { imageId: upload.externalId, uploadId: upload.id };
    if (this.provider.driver !== 'fake') return undefined;
    const named = (await this.cloudImages()).find((i) => i.name === image.name && i.status === 'active');
    return named ? { imageId: named.id, uploadId: null } : undefined;
  }

  /**
   * How many more servers the cloud's quota lets this provider start
   * (**beyond** 0.4): the least of the instances, cores and RAM left, counted
   * in the largest flavor its images use. Undefined when the cloud will not
   * say (the provider is then bounded by max-servers alone).
   */
  async quotaHeadroom(): Promise<number | undefined> {
    const now = this.clock.now();
    if (this.quota && now - this.quota.at < QUOTA_TTL_MS) return this.quota.headroom;
    try {
      const quota = await this.queue.run('getQuota', () => this.driver.getQuota());
      const flavors = await Promise.all(this.provider.images.map((image) => this.flavorFor(image)));
      const ram = Math.max(1, ...flavors.map((f) => f.ram));
      const vcpus = Math.max(1, ...flavors.map((f) => f.vcpus));
      const left = (q: { limit: number; used: number }, per: number) => (q.limit < 0 ? Infinity : Math.floor((q.limit - q.used) / per));
      const headroom = Math.max(0, Math.min(left(quota.instances, 1), left(quota.cores, vcpus), left(quota.ram, ram)));
      this.quota = { at: now, headroom };
      return headroom;
    } catch (err) {
      this.log.debug({ err }, 'quota unknown; max-servers alone bounds the provider');
      return undefined;
    }
  }

  /** Servers just launched here count against the quota until it is asked for again. */
  noteLaunched(servers: number): void {
    if (this.quota) this.quota.headroom = Math.max(0, this.quota.headroom - servers);
  }

  private cloudImages(): Promise<CloudImage[]> {
    const now = this.clock.now();
    if (!this.images || now - this.images.at > IMAGE_LIST_TTL_MS) {
      const list = this.queue.run('listImages', () => this.driver.listImages());
      list.catch(() => {
        this.images = undefined;
      });
      this.images = { at: now, list };
    }
    return this.images.list;
  }

  private toProviderServer(server: Server): ProviderServer {
    return {
      id: server.id,
      status: server.status,
      publicV4: server.addresses.publicV4,
      publicV6: server.addresses.publicV6,
      privateV4: server.addresses.privateV4,
      fault: server.fault,
      nodeId: nodeIdFromMetadata(server.metadata, this.name),
      subnodeId: subnodeIdFromMetadata(server.metadata, this.name),
    };
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}
