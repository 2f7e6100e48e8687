/**
 * `driver: openstack`: the provider driver over Nova (compute v2.1), Glance
 * v2 and Neutron v2.0, logged in through Keystone v3 (session.ts). The calls
 * and their bodies follow the OpenStack API references; docs/openstack.md lists
 * which ones nodepool makes.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Provider } from '../../config/types.js';
import {
  DriverError,
  type CloudImage,
  type CloudImageStatus,
  type CreateServerRequest,
  type Flavor,
  type FloatingIp,
  type DriverCapabilities,
  type ProviderDriver,
  type Quota,
  type Server,
  type ServerNetwork,
  type ServerStatus,
  type UploadImageRequest,
} from '../driver.js';
import { serverAddresses, type NovaAddress } from './addresses.js';
import { connectionFor, type OpenStackConnection } from './connection.js';
import { OpenStackSession } from './session.js';

interface NovaServer {
  id: string;
  name: string;
  status: string;
  addresses?: Record<string, NovaAddress[]>;
  metadata?: Record<string, string>;
  fault?: { message?: string };
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-AZ:availability_zone'?: string;
  image?: { id?: string } | string;
  flavor?: { id?: string; original_name?: string };
}

interface GlanceImage {
  id: string;
  name: string | null;
  status: string;
  disk_format?: string | null;
  [key: string]: unknown;
}

interface Link {
  rel: string;
  href: string;
}

const SERVER_STATUSES: readonly ServerStatus[] = ['BUILD', 'ACTIVE', 'ERROR', 'DELETED', 'SHUTOFF'];
const IMAGE_STATUSES: readonly CloudImageStatus[] = ['queued', 'saving', 'active', 'killed', 'deleted', 'pending_delete'];

/** Glance's own image fields; every other string field is a property (Glance API reference, "Create image"). */
const GLANCE_FIELDS = new Set([
  'id', 'name', 'status', 'visibility', 'protected', 'checksum', 'owner', 'size', 'min_ram', 'min_disk', 'disk_format',
  'container_format', 'created_at', 'updated_at', 'tags', 'self', 'file', 'schema', 'virtual_size', 'os_hidden',
  'os_hash_algo', 'os_hash_value', 'locations', 'direct_url', 'stores',
]);

/** How long an uploaded image may take to become active after its data arrived. */
const IMAGE_ACTIVE_TIMEOUT_MS = 10 * 60_000;
const IMAGE_POLL_MS = 1000;

export interface OpenStackDriverOptions {
  /** Given by tests; default from the provider (clouds.yaml or inline keys). */
  connection?: OpenStackConnection;
}

/** A real cloud: every process reaches it, nodes answer SSH on port 22 of their address. */
const OPENSTACK_CAPABILITIES: DriverCapabilities = {
  sharedAcrossProcesses: true,
  bootsFromImageName: false,
  sshEndpoint: (ip) => ({ host: ip, port: 22 }),
};

export class OpenStackDriver implements ProviderDriver {
  readonly capabilities = OPENSTACK_CAPABILITIES;
  private readonly session: OpenStackSession;
  private networkIds = new Map<string, Promise<string>>();

  constructor(
    private readonly provider: Provider,
    options: OpenStackDriverOptions = {},
  ) {
    this.session = new OpenStackSession(options.connection ?? connectionFor(provider), provider.name);
  }

  // ---- servers ---------------------------------------------------------------

  async listServers(): Promise<Server[]> {
    const servers: NovaServer[] = [];
    let path: string | undefined = '/servers/detail';
    while (path) {
      const page: { body: { servers: NovaServer[]; servers_links?: Link[] } } = await this.session.request('compute', 'GET', path);
      servers.push(...page.body.servers);
      path = await this.nextPath('compute', page.body.servers_links);
    }
    return servers.map((s) => this.toServer(s));
  }

  async createServer(request: CreateServerRequest): Promise<{ id: string }> {
    const server: Record<string, unknown> = {
      name: request.name,
      imageRef: request.imageId,
      flavorRef: request.flavorId,
      metadata: request.metadata,
      networks: await this.networksFor(request.networks ?? []),
    };
    if (request.availabilityZone) server.availability_zone = request.availabilityZone;
    if (request.keyName) server.key_name = request.keyName;
    if (request.configDrive !== undefined) server.config_drive = request.configDrive;
    const { body } = await this.session.request<{ server: { id: string } }>('compute', 'POST', '/servers', { body: { server } });
    return { id: body.server.id };
  }

  async deleteServer(id: string): Promise<void> {
    await this.session.request('compute', 'DELETE', `/servers/${encodeURIComponent(id)}`, { accept: okOrGone });
  }

  async listFlavors(): Promise<Flavor[]> {
    const { body } = await this.session.request<{ flavors: { id: string; name: string; ram: number; vcpus: number }[] }>(
      'compute',
      'GET',
      '/flavors/detail',
    );
    return body.flavors.map((f) => ({ id: f.id, name: f.name, ram: f.ram, vcpus: f.vcpus }));
  }

  /** `os-quota-sets/{project}/detail`: limit and in_use of instances, cores and RAM. */
  async getQuota(): Promise<Quota> {
    const project = await this.session.projectId();
    type Entry = { limit: number; in_use: number; reserved?: number };
    const { body } = await this.session.request<{ quota_set: { instances: Entry; cores: Entry; ram: Entry } }>(
      'compute',
      'GET',
      `/os-quota-sets/${encodeURIComponent(project)}/detail`,
    );
    const entry = (e: Entry) => ({ limit: e.limit, used: e.in_use + (e.reserved ?? 0) });
    return { instances: entry(body.quota_set.instances), cores: entry(body.quota_set.cores), ram: entry(body.quota_set.ram) };
  }

  // ---- images ----------------------------------------------------------------

  async listImages(): Promise<CloudImage[]> {
    const images: GlanceImage[] = [];
    let path: string | undefined = '/v2/images?limit=1000';
    while (path) {
      const page: { body: { images: GlanceImage[]; next?: string } } = await this.session.request('image', 'GET', path);
      images.push(...page.body.images);
      path = page.body.next;
    }
    return images.map(toCloudImage);
  }

  /**
   * Creates the image record, streams the file into it (never read whole:
   * images are gigabytes) and waits until Glance says it is active. An image
   * that fails on the way is deleted again, so nothing is left behind.
   */
  async uploadImage(request: UploadImageRequest): Promise<{ id: string }> {
    const size = await stat(request.filePath).then(
      (file) => file.size,
      (err: NodeJS.ErrnoException) => {
        // Nothing is created in Glance for a file that cannot be read.
        throw new DriverError('bad-request', `${this.provider.name}: cannot upload image ${request.name}: image file ${request.filePath} cannot be read (${err.code ?? err.message})`, {
          provider: this.provider.name,
          service: 'image',
        });
      },
    );
    const { body: created } = await this.session.request<GlanceImage>('image', 'POST', '/v2/images', {
      body: { ...request.properties, name: request.name, disk_format: request.diskFormat, container_format: 'bare', visibility: 'private' },
    });
    try {
      await this.session.request('image', 'PUT', `/v2/images/${created.id}/file`, {
        stream: createReadStream(request.filePath),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      });
      await this.waitUntilActive(created.id);
      return { id: created.id };
    } catch (err) {
      await this.deleteImage(created.id).catch(() => {});
      throw err;
    }
  }

  async deleteImage(id: string): Promise<void> {
    await this.session.request('image', 'DELETE', `/v2/images/${encodeURIComponent(id)}`, { accept: okOrGone });
  }

  // ---- floating IPs ----------------------------------------------------------

  /** A cloud without the L3 extension has no floating IPs at all (404): none to clean. */
  async listFloatingIps(): Promise<FloatingIp[]> {
    const { status, body } = await this.session.request<{ floatingips?: { id: string; floating_ip_address: string; port_id: string | null }[] }>(
      'network',
      'GET',
      '/v2.0/floatingips',
      { accept: okOrGone },
    );
    if (status === 404) return [];
    return (body.floatingips ?? []).map((f) => ({ id: f.id, address: f.floating_ip_address, attached: f.port_id !== null }));
  }

  async deleteFloatingIp(id: string): Promise<void> {
    await this.session.request('network', 'DELETE', `/v2.0/floatingips/${encodeURIComponent(id)}`, { accept: okOrGone });
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  // ---- helpers ---------------------------------------------------------------

  private toServer(s: NovaServer): Server {
    const status = (SERVER_STATUSES as readonly string[]).includes(s.status) ? (s.status as ServerStatus) : 'UNKNOWN';
    const server: Server = {
      id: s.id,
      name: s.name,
      status,
      addresses: serverAddresses(s.addresses),
      metadata: s.metadata ?? {},
    };
    if (s.fault?.message) server.fault = s.fault.message.trim();
    if (s['OS-EXT-STS:task_state']) server.taskState = s['OS-EXT-STS:task_state'];
    if (s['OS-EXT-AZ:availability_zone']) server.availabilityZone = s['OS-EXT-AZ:availability_zone'];
    const imageId = typeof s.image === 'object' ? s.image?.id : undefined;
    if (imageId) server.imageId = imageId;
    const flavor = s.flavor?.id ?? s.flavor?.original_name;
    if (flavor) server.flavorId = flavor;
    return server;
  }

  /**
   * Nova's `networks`, required since microversion 2.37: the configured
   * networks by id (names resolved through Neutron, cached), or `auto` (the
   * cloud's one network) when none is configured. A network named `none` or
   * `auto` is passed as that word.
   */
  private async networksFor(networks: readonly ServerNetwork[]): Promise<unknown> {
    if (networks.length === 0) return 'auto';
    const only = networks.length === 1 ? networks[0] : undefined;
    if (only?.name === 'none' || only?.name === 'auto') return only.name;
    return Promise.all(networks.map(async (n) => ({ uuid: n.id ?? (await this.networkId(n.name ?? '')) })));
  }

  private networkId(name: string): Promise<string> {
    let id = this.networkIds.get(name);
    if (!id) {
      id = this.session
        .request<{ networks: { id: string; name: string }[] }>('network', 'GET', `/v2.0/networks?name=${encodeURIComponent(name)}`)
        .then(({ body }) => {
          const matches = body.networks.filter((n) => n.name === name);
          if (matches.length !== 1) {
            const why = matches.length === 0 ? 'no network' : `${matches.length} networks`;
            throw new DriverError('bad-request', `${this.provider.name}: ${why} named ${name} in Neutron`, { provider: this.provider.name, service: 'network' });
          }
          return (matches[0] as { id: string }).id;
        });
      id.catch(() => this.networkIds.delete(name));
      this.networkIds.set(name, id);
    }
    return id;
  }

  private async waitUntilActive(id: string): Promise<void> {
    const deadline = Date.now() + IMAGE_ACTIVE_TIMEOUT_MS;
    for (;;) {
      const { body } = await this.session.request<GlanceImage>('image', 'GET', `/v2/images/${id}`);
      if (body.status === 'active') return;
      if (body.status === 'killed' || body.status === 'deleted' || body.status === 'pending_delete') {
        throw new DriverError('unavailable', `${this.provider.name}: image ${id} went ${body.status} after its upload`, {
          provider: this.provider.name,
          service: 'image',
        });
      }
      if (Date.now() > deadline) {
        throw new DriverError('unavailable', `${this.provider.name}: image ${id} not active ${IMAGE_ACTIVE_TIMEOUT_MS / 1000} s after its upload (${body.status})`, {
          provider: this.provider.name,
          service: 'image',
        });
      }
      await new Promise((resolve) => setTimeout(resolve, IMAGE_POLL_MS));
    }
  }

  /** The path of the next page from a `rel: next` link, relative to the service's endpoint. */
  private async nextPath(service: 'compute', links: Link[] | undefined): Promise<string | undefined> {
    const next = links?.find((l) => l.rel === 'next')?.href;
    if (!next) return undefined;
    const base = new URL(await this.session.endpoint(service));
    const url = new URL(next);
    return `${url.pathname.slice(base.pathname.replace(/\/$/, '').length)}${url.search}`;
  }
}

const okOrGone = (status: number) => (status >= 200 && status < 300) || status === 404;

function toCloudImage(image: GlanceImage): CloudImage {
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(image)) {
    if (!GLANCE_FIELDS.has(key) && typeof value === 'string') properties[key] = value;
  }
  const status = (IMAGE_STATUSES as readonly string[]).includes(image.status) ? (image.status as CloudImageStatus) : 'queued';
  return { id: image.id, name: image.name ?? '', status, properties, ...(image.disk_format ? { diskFormat: image.disk_format } : {}) };
}
