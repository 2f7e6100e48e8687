import { resolve } from 'node:path';
import type { FakeCloudSettings } from '../../config/types.js';
import { systemClock, type Clock } from '../../core/clock.js';
import {
  BUILD_STATUS, imageStatus, isGone, quotaExceeded, quotaUsage, requestDelete, shownBuildPhase, startServerLife,
  type BuildOutcome, type QuotaUsage,
} from '../../simulated-cloud/index.js';
import {
  DriverError,
  type CloudImage,
  type CreateServerRequest,
  type Flavor,
  type FloatingIp,
  type Quota,
  type Server,
  type UploadImageRequest,
} from '../driver.js';
import { hashFile } from './hash-file.js';
import { closedError, Latency } from './latency.js';
import { badRequest, checkServerRequest } from './server-request.js';
import { liveServers, noteGoneAt, type FakeCloudState, type StoredImage, type StoredServer } from './state.js';
import { FileStore, MemoryStore, type Store } from './store.js';

export interface FakeCloudOptions {
  /** Time for latencies and for servers' transitions; default the system clock. */
  clock?: Clock;
  /** Draws for the failure rates; tests pass seededRandom(n). Default Math.random. */
  random?: () => number;
  /** Names the cloud in error messages (usually the provider's name). */
  name?: string;
}

/** The cloud operations, as counted in `FakeCloud.calls`. */
export const FAKE_OPERATIONS = [
  'listServers', 'createServer', 'deleteServer', 'listFlavors', 'listImages',
  'uploadImage', 'deleteImage', 'getQuota', 'listFloatingIps', 'deleteFloatingIp',
] as const;
export type FakeOperation = (typeof FAKE_OPERATIONS)[number];

/** What Nova says when a build fails on the compute side. */
export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';
const NOVA_500 = 'The server has either erred or is incapable of performing the requested operation. (HTTP 500)';

/**
 * A small OpenStack-like cloud inside the process: flavors, images, servers,
 * floating IPs and quota, with the latencies and failure rates of a provider's
 * `fake:` settings. Servers move BUILD -> ACTIVE/ERROR (or stay in BUILD) and
 * deletes complete as clock time passes, as the model shared with the
 * OpenStack simulator says (src/simulated-cloud/); every change is written to
 * the state file when there is one. Many drivers may share one cloud (see
 * registry.ts).
 */
export class FakeCloud {
  /** Calls received per operation, failed ones included (seeding and inspection are not counted). */
  readonly calls: Record<FakeOperation, number> = zeroCalls();
  readonly name: string;
  readonly stateFile: string | undefined;
  /** From the name: the part of ids and addresses that differs between clouds. */
  private readonly tag: number;
  private current: FakeCloudSettings;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly store: Store;
  private usage: { servers: StoredServer[]; count: number; used: QuotaUsage } | undefined;
  private readonly latency: Latency;
  private isClosed = false;

  constructor(settings: FakeCloudSettings, options: FakeCloudOptions = {}) {
    this.current = settings;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.stateFile = settings.stateFile === undefined ? undefined : resolve(settings.stateFile);
    this.name = options.name ?? this.stateFile ?? 'fake';
    this.tag = cloudTag(this.name);
    const now = () => this.clock.now();
    this.store = this.stateFile === undefined ? new MemoryStore(now) : new FileStore(this.stateFile, now);
    this.latency = new Latency(this.clock);
  }

  get settings(): FakeCloudSettings {
    return this.current;
  }

  /** New latencies, rates, quota and flavors (a configuration reload); the state file stays the one the cloud opened. */
  configure(settings: FakeCloudSettings): void {
    this.current = settings;
  }

  /** Timers the cloud holds now (calls waiting out their latency). */
  get pendingTimers(): number {
    return this.latency.size;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get totalCalls(): number {
    return FAKE_OPERATIONS.reduce((sum, op) => sum + this.calls[op], 0);
  }

  resetCalls(): void {
    Object.assign(this.calls, zeroCalls());
  }

  // ---- servers -------------------------------------------------------------

  async listServers(): Promise<Server[]> {
    this.enter('listServers');
    const now = this.clock.now();
    return liveServers(this.store.read(), now).map((s) => viewServer(s, now));
  }

  async createServer(request: CreateServerRequest): Promise<{ id: string }> {
    this.enter('createServer');
    await this.latency.wait(this.current.latency.create);
    checkServerRequest(request);
    const failure = this.random();
    const errorDraw = this.random();
    const stuckDraw = this.random();
    if (failure < this.current.failureRate.create) {
      throw new DriverError('unavailable', `Nova createServer failed: ${NOVA_500}`, { service: 'compute', status: 500 });
    }
    const outcome: BuildOutcome = errorDraw < this.current.failureRate.errorStatus ? 'error'
      : stuckDraw < this.current.failureRate.stuckInBuild ? 'stuck' : 'active';
    return this.store.update((state) => ({ id: this.addServer(state, request, outcome).id }));
  }

  async deleteServer(id: string): Promise<void> {
    this.enter('deleteServer');
    const now = this.clock.now();
    const server = this.store.read().servers.find((s) => s.id === id && !isGone(s, now));
    if (!server) return;
    if (this.random() < this.current.failureRate.delete) {
      throw new DriverError('unavailable', `Nova deleteServer ${id} failed: ${NOVA_500}`, { service: 'compute', status: 500 });
    }
    this.store.update((state) => {
      const s = state.servers.find((x) => x.id === id);
      if (!s) return;
      requestDelete(s, now, seconds(this.current.latency.delete));
      if (s.goneAt !== undefined) noteGoneAt(state, s.goneAt);
    });
  }

  /** One server as listServers shows it (not counted as a call). */
  server(id: string): Server | undefined {
    const now = this.clock.now();
    const s = this.store.read().servers.find((x) => x.id === id && !isGone(x, now));
    return s && viewServer(s, now);
  }

  // ---- flavors and quota -----------------------------------------------------

  async listFlavors(): Promise<Flavor[]> {
    this.enter('listFlavors');
    return this.flavors();
  }

  async getQuota(): Promise<Quota> {
    this.enter('getQuota');
    const used = this.used(this.store.read());
    const q = this.current.quota;
    return {
      instances: { limit: q.instances, used: used.instances },
      cores: { limit: q.cores, used: used.cores },
      ram: { limit: q.ram, used: used.ram },
    };
  }

  // ---- images --------------------------------------------------------------

  async listImages(): Promise<CloudImage[]> {
    this.enter('listImages');
    const now = this.clock.now();
    return this.store.read().images.map((i) => viewImage(i, now));
  }

  async uploadImage(request: UploadImageRequest): Promise<{ id: string }> {
    this.enter('uploadImage');
    let file: { size: number; sha256: string };
    try {
      file = await hashFile(request.filePath);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw badRequest(`Cannot upload image ${request.name}: image file ${request.filePath} cannot be read (${reason})`, 'image');
    }
    this.ensureOpen();
    if (this.random() < this.current.failureRate.upload) {
      throw new DriverError('unavailable', `Glance upload of ${request.name} failed: 500 Internal Server Error`, { service: 'image', status: 500 });
    }
    const upload = this.current.latency.upload;
    const id = this.store.update((state) => {
      const now = this.clock.now();
      const image: StoredImage = {
        id: nextId(state, 'image', this.tag),
        name: request.name,
        properties: { ...request.properties },
        diskFormat: request.diskFormat,
        size: file.size,
        sha256: file.sha256,
        createdAt: now,
        activeAt: now + seconds(upload),
      };
      state.images.push(image);
      return image.id;
    });
    await this.latency.wait(upload);
    return { id };
  }

  async deleteImage(id: string): Promise<void> {
    this.enter('deleteImage');
    if (!this.store.read().images.some((i) => i.id === id)) return;
    this.store.update((state) => {
      state.images = state.images.filter((i) => i.id !== id);
    });
  }

  /** Seeds an image that is active at once (not counted as a call). */
  addImage(name: string, properties: Record<string, string> = {}, diskFormat = 'qcow2'): CloudImage {
    this.ensureOpen();
    const now = this.clock.now();
    const image = this.store.update((state) => {
      const seeded: StoredImage = { id: nextId(state, 'image', this.tag), name, properties: { ...properties }, diskFormat, createdAt: now, activeAt: now };
      state.images.push(seeded);
      return seeded;
    });
    return viewImage(image, now);
  }

  /** Every image as listImages shows it (not counted as a call). */
  images(): CloudImage[] {
    const now = this.clock.now();
    return this.store.read().images.map((i) => viewImage(i, now));
  }

  /** The stored record of an image, with the size and SHA-256 of its uploaded file. */
  imageRecord(id: string): StoredImage | undefined {
    const image = this.store.read().images.find((i) => i.id === id);
    return image && structuredClone(image);
  }

  // ---- floating IPs ----------------------------------------------------------

  async listFloatingIps(): Promise<FloatingIp[]> {
    this.enter('listFloatingIps');
    return this.store.read().floatingIps.map((f) => ({ ...f }));
  }

  async deleteFloatingIp(id: string): Promise<void> {
    this.enter('deleteFloatingIp');
    if (!this.store.read().floatingIps.some((f) => f.id === id)) return;
    this.store.update((state) => {
      state.floatingIps = state.floatingIps.filter((f) => f.id !== id);
    });
  }

  /** Seeds a floating IP (unattached unless said otherwise; not counted as a call). */
  addFloatingIp(options: { attached?: boolean } = {}): FloatingIp {
    this.ensureOpen();
    return this.store.update((state) => {
      const n = state.counters.floatingIp;
      const fip = { id: nextId(state, 'floatingIp', this.tag), address: loopbackAddress('floating', this.tag, n), attached: options.attached ?? false };
      state.floatingIps.push(fip);
      return { ...fip };
    });
  }

  /** Cancels pending timers and fails the calls waiting on them; later calls fail as 'unavailable'. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.latency.close();
  }

  // ---- internals -------------------------------------------------------------

  private enter(operation: FakeOperation): void {
    this.calls[operation] += 1;
    this.ensureOpen();
  }

  private ensureOpen(): void {
    if (this.isClosed) throw closedError();
  }

  private flavors(): Flavor[] {
    return this.current.flavors.map((f) => ({ id: f.name, name: f.name, ram: f.ram, vcpus: f.vcpus }));
  }

  /**
   * By the flavor each server was created with (kept on the server). Counted
   * once per list of servers and kept up as servers are added; the servers
   * that go are taken off by a new count after prune has removed them.
   */
  private used(state: FakeCloudState): QuotaUsage {
    const live = liveServers(state, this.clock.now());
    const cached = this.usage;
    if (cached && cached.servers === live && cached.count === live.length) return cached.used;
    const used = quotaUsage(live, this.clock.now(), (s) => s);
    this.usage = { servers: live, count: live.length, used };
    return used;
  }

  /** A server was added to `servers`: the count kept for it moves along, without counting again. */
  private countAdded(servers: StoredServer[], server: StoredServer): void {
    const cached = this.usage;
    if (!cached || cached.servers !== servers || cached.count !== servers.length - 1) return;
    cached.count += 1;
    cached.used = { instances: cached.used.instances + 1, cores: cached.used.cores + server.vcpus, ram: cached.used.ram + server.ram };
  }

  /** Validates flavor, image and quota against the state, then records the server. */
  private addServer(state: FakeCloudState, request: CreateServerRequest, outcome: BuildOutcome): StoredServer {
    const flavor = this.flavors().find((f) => f.id === request.flavorId);
    if (!flavor) throw badRequest(`Flavor ${request.flavorId} could not be found.`);
    const now = this.clock.now();
    const image = state.images.find((i) => i.id === request.imageId);
    if (!image) throw badRequest(`Image ${request.imageId} could not be found.`);
    if (imageStatus(image, now) !== 'active') throw badRequest(`Image ${request.imageId} is not active.`);
    this.checkQuota(state, flavor);
    const n = state.counters.address++;
    const server: StoredServer = {
      ...startServerLife(now, outcome, seconds(this.current.latency.active)),
      id: nextId(state, 'server', this.tag),
      name: request.name,
      metadata: { ...request.metadata },
      availabilityZone: request.availabilityZone ?? 'nova',
      imageId: image.id,
      flavorId: flavor.id,
      vcpus: flavor.vcpus,
      ram: flavor.ram,
      ...(request.keyName !== undefined && { keyName: request.keyName }),
      ...(request.configDrive !== undefined && { configDrive: request.configDrive }),
      ...(request.networks !== undefined && { networks: request.networks.map((x) => ({ ...x })) }),
      ...(outcome === 'error' && { fault: NO_VALID_HOST }),
      addresses: { publicV4: loopbackAddress('public', this.tag, n), privateV4: loopbackAddress('private', this.tag, n) },
    };
    state.servers.push(server);
    this.countAdded(state.servers, server);
    return server;
  }

  private checkQuota(state: FakeCloudState, flavor: Flavor): void {
    const exceeded = quotaExceeded(this.current.quota, this.used(state), flavor);
    if (exceeded !== undefined) throw new DriverError('quota', exceeded, { service: 'compute', status: 403 });
  }
}

function zeroCalls(): Record<FakeOperation, number> {
  return Object.fromEntries(FAKE_OPERATIONS.map((op) => [op, 0])) as Record<FakeOperation, number>;
}

function seconds(s: number): number {
  return Math.max(0, s) * 1000;
}

const ID_PREFIX = { server: '5e', image: '1a', floatingIp: 'f1' } as const;

/**
 * 32 bits from the cloud's name (FNV-1a). Two clouds hand out different
 * ids and addresses, as real clouds do, so nothing that keys by a server id
 * (or an address) alone is fooled in a test with two providers.
 */
export function cloudTag(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i += 1) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** UUID-shaped like OpenStack's ids: the kind, 24 bits of the cloud's tag, a counter that is never reused. */
function nextId(state: FakeCloudState, kind: keyof typeof ID_PREFIX, tag: number): string {
  const n = state.counters[kind]++;
  return `${ID_PREFIX[kind]}${(tag >>> 8).toString(16).padStart(6, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Addresses of one kind: 64 x 65536 of 127/8. */
const ADDRESS_SPACE = 64 * 65536;

/**
 * The `n`th loopback address of a kind (public in 127.64-127.127, private in
 * 127.128-127.191, floating in 127.192-127.255), counted from an offset the
 * cloud's tag chooses: two clouds' addresses meet only after millions.
 */
function loopbackAddress(kind: 'public' | 'private' | 'floating', tag: number, n: number): string {
  const base = { public: 64, private: 128, floating: 192 }[kind];
  const v = ((tag % ADDRESS_SPACE) + n) % ADDRESS_SPACE;
  return `127.${base + (v >> 16)}.${(v >> 8) & 255}.${v & 255}`;
}

function viewServer(s: StoredServer, now: number): Server {
  const status = BUILD_STATUS[shownBuildPhase(s, now)];
  return {
    id: s.id,
    name: s.name,
    status,
    addresses: status === 'ACTIVE' ? { ...s.addresses } : {},
    metadata: { ...s.metadata },
    ...(status === 'ERROR' && s.fault !== undefined && { fault: s.fault }),
    ...(s.deleteRequestedAt !== undefined && { taskState: 'deleting' }),
    availabilityZone: s.availabilityZone,
    imageId: s.imageId,
    flavorId: s.flavorId,
  };
}

function viewImage(i: StoredImage, now: number): CloudImage {
  return {
    id: i.id,
    name: i.name,
    status: imageStatus(i, now),
    properties: { ...i.properties },
    ...(i.diskFormat !== undefined && { diskFormat: i.diskFormat }),
  };
}
