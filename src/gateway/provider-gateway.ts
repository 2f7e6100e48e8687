/**
 * The one way into a provider's cloud (docs/architecture.md, "The provider
 * gateway"). nodepoold's node actors, the builder's uploads, the periodic
 * cleanup and the commands all call the cloud through the gateway of the
 * provider, so that:
 *
 * - `rate` holds for the whole process: every call waits its turn in one
 *   queue that starts at most one call every `rate` seconds, except the one
 *   list of all servers, which has a lane of its own (also spaced by
 *   `rate`): a burst of creates never keeps the nodes from learning their
 *   servers' status, and the creates keep the whole rate. The provider
 *   actor asks for that list at most once per list interval, max(1 s, 2 x
 *   rate) (docs/behaviour.md, "Providers");
 * - the list of servers, the flavors, the images and the quota are asked for
 *   once and shared (a node's create first looks for its server in the
 *   latest list, so a repeated create finds it);
 * - a configuration reload that changes how the cloud is reached (driver,
 *   credentials, endpoints, the simulated cloud's settings) makes a new
 *   driver at once, and the old one is closed once its calls have ended;
 * - every call is reported on one stream (operation, outcome, wait and
 *   duration), where logs and metrics count them.
 */
import type { Subject } from 'rxjs';
import type { ProviderAspect } from '../config/diff.js';
import type { Provider, ProviderImage } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { RateQueue } from '../core/rate-queue.js';
import { nodeIdFromMetadata, subnodeIdFromMetadata } from '../core/server-metadata.js';
import {
  DriverError, type CloudImage, type DriverCapabilities, type DriverErrorKind, type Flavor, type ProviderDriver, type Server,
} from '../drivers/driver.js';
import type { Logger } from '../log/index.js';

/** How long a listed set of cloud images is trusted before it is asked for again. */
const IMAGE_LIST_TTL_MS = 60_000;
/** How long the cloud's quota is trusted; launches made since are subtracted meanwhile. */
const QUOTA_TTL_MS = 30_000;

/** The operations of the driver interface, as they are counted. */
export type CloudOperation = Exclude<keyof ProviderDriver, 'capabilities' | 'close' | 'prepareStandInImages'>;

/** One call to a cloud, as it ended. */
export interface CloudCall {
  provider: string;
  operation: CloudOperation;
  outcome: 'ok' | 'error';
  /** The DriverError's kind when the call failed with one. */
  errorKind?: DriverErrorKind | 'other';
  /** Time spent waiting for its turn in the rate queue. */
  waitedMs: number;
  /** Time the cloud took to answer. */
  tookMs: number;
}

/** The calls that touch a provider's servers: only the nodepoold that holds the provider's lease makes them. */
const SERVER_OPERATIONS: ReadonlySet<CloudOperation> = new Set<CloudOperation>(['listServers', 'createServer', 'deleteServer', 'getQuota', 'listFloatingIps', 'deleteFloatingIp']);

export interface GatewayDeps {
  clock: Clock;
  log: Logger;
  makeDriver: (provider: Provider) => ProviderDriver;
  calls: Subject<CloudCall>;
}

/** The status list's spacing: often enough to see a node come up, never faster than half the rate. */
export function listIntervalMs(provider: Pick<Provider, 'rate'>): number {
  return Math.max(1000, provider.rate * 2000);
}

/** Aspects of a provider change after which the old driver no longer reaches the cloud as configured. */
const DRIVER_ASPECTS: readonly ProviderAspect[] = ['driver', 'fake'];

/** How the provider's lists of servers have gone, for the status server's readiness. */
export interface ServerListOutcome {
  /** When (ms epoch) a list last succeeded. */
  succeededAt?: number;
  /** When the last list failed and why, unless one succeeded after it. */
  failure?: { at: number; message: string };
}

/** A list's servers by the node or sub-node that their metadata names. */
interface ServerIndex {
  servers: Server[];
  byNode: Map<number, Server>;
  bySubnode: Map<number, Server>;
}

export class ProviderGateway {
  private settings: Provider;
  private driver: ProviderDriver;
  private readonly queue: RateQueue;
  /** The lane of the one list of all servers. */
  private readonly listLane: RateQueue;
  private readonly inFlight = new Map<ProviderDriver, number>();
  private readonly replaced = new Set<ProviderDriver>();
  private servers: Server[] | undefined;
  private serverIndex: ServerIndex | undefined;
  private firstList: Promise<Server[]> | undefined;
  private listOutcome: ServerListOutcome = {};
  private flavors: Promise<Flavor[]> | undefined;
  private images: { at: number; list: Promise<CloudImage[]> } | undefined;
  private quota: { at: number; headroom: number } | undefined;
  private isRetired = false;
  private closed = false;
  /** Whether this process drives the provider's servers now; unset: always (one nodepoold, the builder, the commands). */
  private serverCallsAllowed: (() => boolean) | undefined;
  private serverCallsInFlight = 0;
  private serverCallsIdle: (() => void)[] = [];

  /** Throws the driver's DriverError when the provider's settings cannot make one. */
  constructor(
    provider: Provider,
    private readonly deps: GatewayDeps,
  ) {
    this.settings = provider;
    this.driver = deps.makeDriver(provider);
    this.queue = new RateQueue(provider.rate * 1000, deps.clock);
    this.listLane = new RateQueue(provider.rate * 1000, deps.clock);
  }

  get name(): string {
    return this.settings.name;
  }

  /** The provider's settings now (they change on reload). */
  get provider(): Provider {
    return this.settings;
  }

  get capabilities(): DriverCapabilities {
    return this.driver.capabilities;
  }

  /** The provider left the configuration: its nodes may still finish, nothing new starts there. */
  get retired(): boolean {
    return this.isRetired;
  }

  /** Calls started so far, by operation (for the API-calls-per-node figure). */
  get calls(): ReadonlyMap<string, number> {
    return new Map([...this.queue.calls, ...this.listLane.calls]);
  }

  /** Runs `call` with the driver, in its turn in the rate queue, and reports how it went. */
  call<T>(operation: CloudOperation, call: (driver: ProviderDriver) => Promise<T>): Promise<T> {
    return this.callIn(this.queue, operation, call);
  }

  /**
   * Several nodepoold share a database: only the one holding the provider's
   * lease may call its servers' operations. A call whose turn comes when
   * `allowed` says no is refused without reaching the cloud (it was asked
   * for before the lease went); the builder's image calls are not fenced.
   */
  fenceServerCalls(allowed: () => boolean): void {
    this.serverCallsAllowed = allowed;
  }

  /** Resolves once no server call is under way (a provider handed to another nodepoold waits for its last create or delete). */
  serverCallsSettled(): Promise<void> {
    if (this.serverCallsInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.serverCallsIdle.push(resolve));
  }

  private callIn<T>(queue: RateQueue, operation: CloudOperation, call: (driver: ProviderDriver) => Promise<T>): Promise<T> {
    const asked = this.deps.clock.now();
    const serverCall = SERVER_OPERATIONS.has(operation);
    return queue.run(operation, async () => {
      if (serverCall && this.serverCallsAllowed?.() === false) {
        throw new DriverError('unavailable', `provider ${this.name} is driven by another nodepoold now; ${operation} not called`, { provider: this.name });
      }
      if (serverCall) this.serverCallsInFlight += 1;
      const driver = this.driver;
      const started = this.deps.clock.now();
      this.inFlight.set(driver, (this.inFlight.get(driver) ?? 0) + 1);
      let errorKind: CloudCall['errorKind'];
      try {
        return await call(driver);
      } catch (err) {
        errorKind = err instanceof DriverError ? err.kind : 'other';
        throw err;
      } finally {
        if (serverCall) this.serverCallEnded();
        this.callEnded(driver);
        const ended = this.deps.clock.now();
        this.deps.calls.next({
          provider: this.name,
          operation,
          outcome: errorKind === undefined ? 'ok' : 'error',
          ...(errorKind !== undefined && { errorKind }),
          waitedMs: started - asked,
          tookMs: ended - started,
        });
      }
    });
  }

  /** One list of every server, shared by everything that needs a server's status. */
  async listServers(): Promise<Server[]> {
    let servers: Server[];
    try {
      servers = await this.callIn(this.listLane, 'listServers', (d) => d.listServers());
    } catch (err) {
      this.listOutcome = { ...this.listOutcome, failure: { at: this.deps.clock.now(), message: err instanceof Error ? err.message : String(err) } };
      throw err;
    }
    this.servers = servers;
    this.listOutcome = { succeededAt: this.deps.clock.now() };
    return servers;
  }

  /** How the lists of servers have gone so far. */
  get lastServerList(): ServerListOutcome {
    return this.listOutcome;
  }

  /** The latest list, or one taken now if there has been none since start. */
  async knownServers(): Promise<Server[]> {
    if (this.servers) return this.servers;
    this.firstList ??= this.listServers().finally(() => {
      this.firstList = undefined;
    });
    return this.firstList;
  }

  /** A server a previous attempt already created for this node (its metadata says so). */
  async serverOfNode(nodeId: number): Promise<Server | undefined> {
    return this.indexOf(await this.knownServers()).byNode.get(nodeId);
  }

  /** Likewise for a sub-node. */
  async serverOfSubnode(subnodeId: number): Promise<Server | undefined> {
    return this.indexOf(await this.knownServers()).bySubnode.get(subnodeId);
  }

  /**
   * A list's servers by the node and sub-node their metadata names (the
   * first one, as a search from the start would find it), made once per
   * list: each create of a burst of thousands asks.
   */
  private indexOf(servers: Server[]): ServerIndex {
    if (this.serverIndex?.servers === servers) return this.serverIndex;
    const index: ServerIndex = { servers, byNode: new Map(), bySubnode: new Map() };
    for (const server of servers) {
      if (server.status === 'DELETED') continue;
      const nodeId = nodeIdFromMetadata(server.metadata, this.name);
      if (nodeId === undefined) continue;
      const subnodeId = subnodeIdFromMetadata(server.metadata, this.name);
      if (subnodeId === undefined) {
        if (!index.byNode.has(nodeId)) index.byNode.set(nodeId, server);
      } else if (!index.bySubnode.has(subnodeId)) {
        index.bySubnode.set(subnodeId, server);
      }
    }
    this.serverIndex = index;
    return index;
  }

  /** The smallest flavor with at least min-ram whose name contains name-filter (docs/behaviour.md, launch step 4). */
  async flavorFor(image: ProviderImage): Promise<Flavor> {
    this.flavors ??= this.call('listFlavors', (d) => d.listFlavors()).catch((err: unknown) => {
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

  /** The cloud's images, asked for at most once a minute. */
  cloudImages(): Promise<CloudImage[]> {
    const now = this.deps.clock.now();
    if (!this.images || now - this.images.at > IMAGE_LIST_TTL_MS) {
      const list = this.call('listImages', (d) => d.listImages());
      list.catch(() => {
        this.images = undefined;
      });
      this.images = { at: now, list };
    }
    return this.images.list;
  }

  /**
   * How many more servers the cloud's quota lets this provider start
   * (**beyond** 0.4): the least of the instances, cores and RAM left, counted
   * in the largest flavor its images use. Undefined when the cloud will not
   * say (the provider is then bounded by max-servers alone).
   */
  async quotaHeadroom(): Promise<number | undefined> {
    const now = this.deps.clock.now();
    if (this.quota && now - this.quota.at < QUOTA_TTL_MS) return this.quota.headroom;
    try {
      const quota = await this.call('getQuota', (d) => d.getQuota());
      const flavors = await Promise.all(this.settings.images.map((image) => this.flavorFor(image)));
      const ram = Math.max(1, ...flavors.map((f) => f.ram));
      const vcpus = Math.max(1, ...flavors.map((f) => f.vcpus));
      const left = (q: { limit: number; used: number }, per: number) => (q.limit < 0 ? Infinity : Math.floor((q.limit - q.used) / per));
      const headroom = Math.max(0, Math.min(left(quota.instances, 1), left(quota.cores, vcpus), left(quota.ram, ram)));
      this.quota = { at: now, headroom };
      return headroom;
    } catch (err) {
      this.deps.log.debug({ err }, 'quota unknown; max-servers alone bounds the provider');
      return undefined;
    }
  }

  /** The headroom as last asked, without asking the cloud (the metrics read it); undefined when never known. */
  get knownQuotaHeadroom(): number | undefined {
    return this.quota?.headroom;
  }

  /** Servers just launched here count against the quota until it is asked for again. */
  noteLaunched(servers: number): void {
    if (this.quota) this.quota.headroom = Math.max(0, this.quota.headroom - servers);
  }

  /** Stand-in images for nodes to boot from before the first upload, where the cloud offers them. */
  prepareStandInImages(): void {
    this.driver.prepareStandInImages?.(this.settings.images.map((i) => i.name));
  }

  /**
   * A changed configuration of this provider (`aspects` from the diff). Rate
   * and limits apply at once; a change in how the cloud is reached makes a
   * new driver (the calls under way finish on the old one). If the new
   * settings cannot make a driver, the old one stays and the error is thrown.
   */
  reconfigure(provider: Provider, aspects: readonly ProviderAspect[] = []): void {
    this.settings = provider;
    this.isRetired = false;
    this.queue.setInterval(provider.rate * 1000);
    this.listLane.setInterval(provider.rate * 1000);
    if (aspects.includes('images')) this.quota = undefined;
    if (!aspects.some((a) => DRIVER_ASPECTS.includes(a))) return;
    const next = this.deps.makeDriver(provider);
    const old = this.driver;
    this.driver = next;
    this.replaced.add(old);
    this.forgetCaches();
    this.closeIfIdle(old);
    this.deps.log.info({ provider: provider.name, aspects }, `provider ${provider.name}: reaching the cloud with a new driver (${aspects.join(', ')} changed)`);
  }

  /** The provider left the configuration; the gateway stays for the nodes that finish there. */
  retire(): void {
    this.isRetired = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.driver, ...this.replaced].map((d) => d.close().catch(() => {})));
    this.replaced.clear();
  }

  private forgetCaches(): void {
    this.servers = undefined;
    this.flavors = undefined;
    this.images = undefined;
    this.quota = undefined;
  }

  private serverCallEnded(): void {
    this.serverCallsInFlight -= 1;
    if (this.serverCallsInFlight > 0) return;
    for (const resolve of this.serverCallsIdle.splice(0)) resolve();
  }

  private callEnded(driver: ProviderDriver): void {
    const left = (this.inFlight.get(driver) ?? 1) - 1;
    if (left > 0) this.inFlight.set(driver, left);
    else this.inFlight.delete(driver);
    if (this.replaced.has(driver)) this.closeIfIdle(driver);
  }

  private closeIfIdle(driver: ProviderDriver): void {
    if (this.inFlight.has(driver)) return;
    this.replaced.delete(driver);
    void driver.close().catch((err: unknown) => this.deps.log.warn({ err, provider: this.name }, 'closing the replaced driver failed'));
  }
}
