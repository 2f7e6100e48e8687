/**
 * The provider driver: the few operations nodepool needs from a cloud. The
 * same interface serves the simulated cloud (`driver: fake`) and OpenStack.
 * Rate spacing and caching are not the driver's business: the provider actor
 * calls it through its rate-spaced queue and shares one server list among all
 * its node actors.
 */
import type { ErrorCode } from '../core/errors.js';

export type ServerStatus = 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED' | 'SHUTOFF' | 'UNKNOWN';

export interface ServerAddresses {
  publicV4?: string;
  publicV6?: string;
  privateV4?: string;
}

export interface Server {
  id: string;
  name: string;
  status: ServerStatus;
  addresses: ServerAddresses;
  /** Nova metadata: string keys and string values. */
  metadata: Record<string, string>;
  /** The cloud's reason for ERROR, when it gives one. */
  fault?: string;
  /** Nova's task state (`OS-EXT-STS:task_state`), e.g. 'deleting' while a delete is under way. */
  taskState?: string;
  availabilityZone?: string;
  imageId?: string;
  flavorId?: string;
}

export interface ServerNetwork {
  /** Resolved network id. */
  id?: string;
  name?: string;
}

export interface CreateServerRequest {
  name: string;
  imageId: string;
  flavorId: string;
  metadata: Record<string, string>;
  availabilityZone?: string;
  keyName?: string;
  configDrive?: boolean;
  networks?: ServerNetwork[];
}

export interface Flavor {
  id: string;
  name: string;
  /** MB. */
  ram: number;
  vcpus: number;
}

export type CloudImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'pending_delete';

export interface CloudImage {
  id: string;
  name: string;
  status: CloudImageStatus;
  /** Glance properties (nodepool_build_id, nodepool_upload_id, the image's meta). */
  properties: Record<string, string>;
  diskFormat?: string;
}

export interface UploadImageRequest {
  name: string;
  /** Path of the image file; drivers stream it, never read it whole. */
  filePath: string;
  diskFormat: string;
  properties: Record<string, string>;
}

/** A limit of -1 means unlimited, as Nova reports it. */
export interface Quota {
  instances: { limit: number; used: number };
  cores: { limit: number; used: number };
  ram: { limit: number; used: number };
}

export interface FloatingIp {
  id: string;
  address: string;
  /** Attached to a port (a server). */
  attached: boolean;
}

/**
 * What a kind of cloud can and cannot do, so that nothing outside
 * src/drivers/ asks which driver it is talking to.
 */
export interface DriverCapabilities {
  /**
   * Another process (the command line, a separate builder) reaches the same
   * cloud with a driver of its own. False for a simulated cloud that lives
   * only inside the process that made it.
   */
  sharedAcrossProcesses: boolean;
  /** When the cloud is not shared across processes: why, in words for an operator. */
  localOnlyReason?: string;
  /**
   * Before the first upload, a node may boot from an image the cloud holds
   * under the provider image's name (the simulated cloud's stand-in images).
   */
  bootsFromImageName: boolean;
  /**
   * Where the SSH server of a node at `ip` listens; undefined when the
   * cloud's nodes have none (the SSH steps are then skipped).
   */
  sshEndpoint(ip: string): { host: string; port: number } | undefined;
}

export interface ProviderDriver {
  readonly capabilities: DriverCapabilities;
  /**
   * Makes sure nodes can launch before any image is uploaded: a simulated
   * cloud adds an active stand-in image for each name it does not hold
   * (docs/fake-cloud.md). Real clouds do nothing.
   */
  prepareStandInImages?(names: readonly string[]): void;
  /** All servers of the project, with details, in one call. */
  listServers(): Promise<Server[]>;
  createServer(request: CreateServerRequest): Promise<{ id: string }>;
  /** Resolves when the cloud accepted the delete; a server already gone counts as deleted. */
  deleteServer(id: string): Promise<void>;
  listFlavors(): Promise<Flavor[]>;
  listImages(): Promise<CloudImage[]>;
  /** Resolves with the image id once the image is active. */
  uploadImage(request: UploadImageRequest): Promise<{ id: string }>;
  /** An image already gone counts as deleted. */
  deleteImage(id: string): Promise<void>;
  getQuota(): Promise<Quota>;
  listFloatingIps(): Promise<FloatingIp[]>;
  deleteFloatingIp(id: string): Promise<void>;
  /** Releases timers, sockets and files. */
  close(): Promise<void>;
}

export type DriverErrorKind =
  | 'not-found'
  | 'quota'
  | 'rate-limited'
  | 'unavailable'
  | 'bad-request'
  | 'auth'
  | 'conflict'
  | 'unknown';

/** A cloud call that failed, with what an operator needs to act on it. */
export class DriverError extends Error {
  /** NP_CLOUD_AUTH, NP_CLOUD_QUOTA, ... (docs/errors.md). */
  readonly code: ErrorCode;

  constructor(
    readonly kind: DriverErrorKind,
    message: string,
    readonly details: { provider?: string; service?: string; status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'DriverError';
    this.code = `NP_CLOUD_${kind.toUpperCase().replace('-', '_')}` as ErrorCode;
  }

  /** Worth trying again after a pause (the provider actor's queue backs off). */
  get retryable(): boolean {
    return this.kind === 'rate-limited' || this.kind === 'unavailable';
  }
}
