import { imageStatus, NOVA_METADATA_LIMITS, quotaExceeded, startServerLife } from '../../simulated-cloud/index.js';
import type { Flavor, Server } from './compute-store.js';
import { ApiError, json, readJson, type Reply } from './http-kit.js';
import type { Token } from './identity-store.js';
import { adminPass, uuid } from './ids.js';
import type { Network, Port } from './network-store.js';
import { parseServerRequest, type ServerRequest } from './nova-schema.js';
import type { RequestContext } from './router.js';

export const NO_VALID_HOST = 'No valid host was found. ';

/** POST /servers: Nova's checks in Nova's order, then a server that builds on the clock. */
export async function createServer(ctx: RequestContext): Promise<Reply> {
  const token = ctx.token as Token;
  const request = parseServerRequest(await readJson(ctx.req, 'Malformed request body'), ctx.microversion);
  if (request.maxCount > 1) throw new ApiError(400, 'The simulator creates one server per request (max_count 1).');
  const zone = availabilityZone(ctx, request);
  const flavor = findFlavor(ctx, request.flavorRef);
  checkImage(ctx, request.imageRef, token.project.id);
  if (request.keyName !== undefined && !ctx.state.compute.keypair(token.user.id, request.keyName)) {
    throw new ApiError(400, 'Invalid key_name provided.');
  }
  if (Object.keys(request.metadata).length > NOVA_METADATA_LIMITS.items) {
    throw new ApiError(403, `Maximum number of metadata items exceeds ${NOVA_METADATA_LIMITS.items}`);
  }
  const attachments = resolveNetworks(ctx, request, token.project.id);
  checkQuota(ctx, flavor, token.project.id);
  const server = buildServer(ctx, request, flavor, zone, token);
  attach(ctx, server, attachments);
  ctx.state.compute.servers.set(server.id, server);
  const self = `${ctx.endpoints.compute}/servers/${server.id}`;
  return json(
    202,
    {
      server: {
        id: server.id,
        links: [
          { href: self, rel: 'self' },
          { href: `${ctx.endpoints.base}/compute/servers/${server.id}`, rel: 'bookmark' },
        ],
        'OS-DCF:diskConfig': server.diskConfig,
        security_groups: server.securityGroups.map((name) => ({ name })),
        adminPass: adminPass(),
      },
    },
    { Location: self },
  );
}

function availabilityZone(ctx: RequestContext, request: ServerRequest): string {
  const zones = ctx.state.compute.availabilityZones;
  if (request.availabilityZone === undefined) return zones[0] ?? 'nova';
  if (!zones.includes(request.availabilityZone)) throw new ApiError(400, 'The requested availability zone is not available');
  return request.availabilityZone;
}

function findFlavor(ctx: RequestContext, id: string): Flavor {
  const flavor = ctx.state.compute.flavors.get(id);
  if (!flavor) throw new ApiError(400, `Flavor ${id} could not be found.`);
  return flavor;
}

function checkImage(ctx: RequestContext, id: string, projectId: string): void {
  const image = ctx.state.images.images.get(id);
  if (!image || (image.owner !== projectId && image.visibility !== 'public')) {
    throw new ApiError(400, 'Can not find requested image');
  }
  if (imageStatus(image, ctx.state.now()) !== 'active') throw new ApiError(400, `Image ${id} is not active.`);
}

type Attachment = { network: Network } | { port: Port };

/** networks: none, auto, a list of {uuid}/{port}, or (before 2.37) absent for "whatever is there". */
function resolveNetworks(ctx: RequestContext, request: ServerRequest, projectId: string): Attachment[] {
  const visible = ctx.state.network.visibleNetworks(projectId);
  const { networks } = request;
  if (networks === 'none') return [];
  if (networks === 'auto' || networks === undefined) {
    if (visible.length > 1) {
      throw new ApiError(409, 'Multiple possible networks found, use a Network ID to be more specific.');
    }
    if (visible.length === 0 && networks === 'auto') {
      throw new ApiError(400, `Unable to automatically allocate a network for project ${projectId}`);
    }
    return visible.map((network) => ({ network }));
  }
  return networks.map((item): Attachment => {
    if (item.port) {
      const port = ctx.state.network.ports.get(item.port);
      if (!port) throw new ApiError(400, `Port id ${item.port} could not be found.`);
      if (port.deviceId) throw new ApiError(409, `Port ${item.port} is still in use.`);
      return { port };
    }
    const network = visible.find((n) => n.id === item.uuid);
    if (!network) throw new ApiError(400, `Network ${item.uuid ?? ''} could not be found.`);
    return { network };
  });
}

/** Nova's quota check (the shared model's): a 403 naming every resource the server would exceed. */
function checkQuota(ctx: RequestContext, flavor: Flavor, projectId: string): void {
  const exceeded = quotaExceeded(ctx.state.compute.quota, ctx.state.compute.usage(projectId, ctx.state.now()), flavor);
  if (exceeded !== undefined) throw new ApiError(403, exceeded);
}

function buildServer(ctx: RequestContext, request: ServerRequest, flavor: Flavor, zone: string, token: Token): Server {
  const { state } = ctx;
  const now = state.now();
  const { behaviour } = state;
  const fails = behaviour.errorNamePattern?.test(request.name) === true || state.random() < behaviour.errorRate;
  return {
    ...startServerLife(now, fails ? 'error' : 'active', behaviour.timings.activeMs),
    id: uuid(),
    name: request.name,
    projectId: token.project.id,
    userId: token.user.id,
    flavor: { ...flavor },
    imageId: request.imageRef,
    availabilityZone: zone,
    requestedAz: request.availabilityZone ?? null,
    keyName: request.keyName ?? null,
    metadata: request.metadata,
    configDrive: request.configDrive,
    description: request.description,
    hostname: request.hostname ?? hostnameOf(request.name),
    diskConfig: request.diskConfig,
    securityGroups: request.securityGroups,
    accessIPv4: request.accessIPv4,
    accessIPv6: request.accessIPv6,
    faultMessage: fails ? NO_VALID_HOST : undefined,
  };
}

/** A server that will fail to schedule never gets ports; one whose network is full fails to build. */
function attach(ctx: RequestContext, server: Server, attachments: Attachment[]): void {
  if (server.outcome === 'error') return;
  const owner = `compute:${server.availabilityZone}`;
  for (const attachment of attachments) {
    if ('port' in attachment) {
      Object.assign(attachment.port, { deviceId: server.id, deviceOwner: owner, keepOnDelete: true });
      continue;
    }
    const port = ctx.state.network.createPort(attachment.network, server.id, owner, server.projectId);
    if (!port) {
      ctx.state.network.releaseServerPorts(server.id);
      server.outcome = 'error';
      server.faultMessage = `Build of instance ${server.id} aborted: No more IP addresses available on network ${attachment.network.id}.`;
      return;
    }
  }
}

/** Nova's default hostname: the display name made DNS-safe. */
function hostnameOf(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return cleaned || 'server';
}
