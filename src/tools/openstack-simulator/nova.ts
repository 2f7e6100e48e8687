import { NOVA_METADATA_LIMITS, requestDelete } from '../../simulated-cloud/index.js';
import type { Server } from './compute-store.js';
import { ApiError, json, noContent, type Reply } from './http-kit.js';
import type { Token } from './identity-store.js';
import { NOVA_MAX_MINOR, NOVA_MIN_MINOR } from './nova-microversion.js';
import { createServer } from './nova-server-create.js';
import { flavorView, serverSummary, serverView } from './nova-views.js';
import type { RequestContext, Route } from './router.js';

const V = '/compute/v2.1';

/** Nova v2.1: what a Nodepool provider calls, plus the reads an operator checks with. */
export function novaRoutes(): Route[] {
  const route = (method: string, path: string, handle: Route['handle'], auth = true): Route =>
    ({ service: 'compute', method, template: path, auth, handle });
  return [
    route('GET', '/compute', versions, false),
    route('GET', '/compute/', versions, false),
    route('GET', V, version, false),
    route('GET', `${V}/`, version),
    route('GET', `${V}/flavors`, (ctx) => flavors(ctx, false)),
    route('GET', `${V}/flavors/detail`, (ctx) => flavors(ctx, true)),
    route('GET', `${V}/flavors/{id}`, flavor),
    route('POST', `${V}/flavors`, () => {
      throw new ApiError(403, "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.");
    }),
    route('GET', `${V}/os-availability-zone`, availabilityZones),
    route('GET', `${V}/limits`, limits),
    route('GET', `${V}/os-quota-sets/{project_id}`, (ctx) => quotaSet(ctx, false)),
    route('GET', `${V}/os-quota-sets/{project_id}/detail`, (ctx) => quotaSet(ctx, true)),
    route('GET', `${V}/os-keypairs`, keypairs),
    route('GET', `${V}/servers`, (ctx) => listServers(ctx, false)),
    route('POST', `${V}/servers`, createServer),
    route('GET', `${V}/servers/detail`, (ctx) => listServers(ctx, true)),
    route('GET', `${V}/servers/{id}`, showServer),
    route('DELETE', `${V}/servers/{id}`, deleteServer),
    route('GET', `${V}/servers/{id}/metadata`, (ctx) => json(200, { metadata: { ...findServer(ctx).metadata } })),
    route('GET', `${V}/servers/{id}/os-interface`, interfaces),
  ];
}

function versionDocument(ctx: RequestContext): Record<string, unknown> {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: `2.${NOVA_MAX_MINOR}`,
    min_version: `2.${NOVA_MIN_MINOR}`,
    updated: '2013-07-23T11:33:21Z',
    links: [{ href: `${ctx.endpoints.compute}/`, rel: 'self' }],
  };
}

function versions(ctx: RequestContext): Reply {
  return json(200, { versions: [versionDocument(ctx)] });
}

function version(ctx: RequestContext): Reply {
  const doc = versionDocument(ctx);
  return json(200, {
    version: {
      ...doc,
      links: [...(doc.links as unknown[]), { href: 'http://docs.openstack.org/', rel: 'describedby', type: 'text/html' }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    },
  });
}

function flavors(ctx: RequestContext, detail: boolean): Reply {
  const all = [...ctx.state.compute.flavors.values()].sort((a, b) => a.ram - b.ram || a.id.localeCompare(b.id));
  const views = all.map((f) => flavorView(ctx, f));
  return json(200, { flavors: detail ? views : views.map((v) => ({ id: v.id, name: v.name, links: v.links, ...(ctx.microversion >= 55 ? { description: null } : {}) })) });
}

function flavor(ctx: RequestContext): Reply {
  const found = ctx.state.compute.flavors.get(ctx.params.id ?? '');
  if (!found) throw new ApiError(404, `Flavor ${ctx.params.id ?? ''} could not be found.`);
  return json(200, { flavor: flavorView(ctx, found) });
}

function availabilityZones(ctx: RequestContext): Reply {
  return json(200, {
    availabilityZoneInfo: ctx.state.compute.availabilityZones.map((zoneName) => ({ zoneName, zoneState: { available: true }, hosts: null })),
  });
}

/** GET /limits: the absolute limits shown at the requested microversion (2.36, 2.39 and 2.57 removed some). */
function limits(ctx: RequestContext): Reply {
  const v = ctx.microversion;
  const token = ctx.token as Token;
  const { quota } = ctx.state.compute;
  const used = ctx.state.compute.usage(token.project.id, ctx.state.now());
  const absolute: Record<string, number> = {
    maxServerMeta: NOVA_METADATA_LIMITS.items, maxTotalCores: quota.cores, maxTotalInstances: quota.instances, maxTotalKeypairs: 100,
    maxTotalRAMSize: quota.ram, maxServerGroups: 10, maxServerGroupMembers: 10, totalCoresUsed: used.cores,
    totalInstancesUsed: used.instances, totalRAMUsed: used.ram, totalServerGroupsUsed: 0,
  };
  if (v < 39) absolute.maxImageMeta = 128;
  if (v < 57) Object.assign(absolute, { maxPersonality: 5, maxPersonalitySize: 10240 });
  if (v < 36) {
    Object.assign(absolute, {
      maxSecurityGroupRules: -1, maxSecurityGroups: -1, maxTotalFloatingIps: -1, totalSecurityGroupsUsed: 0, totalFloatingIpsUsed: 0,
    });
  }
  return json(200, { limits: { absolute, rate: [] } });
}

/** GET /os-quota-sets/{project}[/detail]: a member may read only its own project's. */
function quotaSet(ctx: RequestContext, detail: boolean): Reply {
  const token = ctx.token as Token;
  const projectId = ctx.params.project_id ?? '';
  if (projectId !== token.project.id) {
    throw new ApiError(403, `Policy doesn't allow os_compute_api:os-quota-sets:${detail ? 'detail' : 'show'} to be performed.`);
  }
  const v = ctx.microversion;
  const { quota } = ctx.state.compute;
  const used = ctx.state.compute.usage(projectId, ctx.state.now());
  const limitsAndUse: Record<string, [number, number]> = {
    cores: [quota.cores, used.cores], instances: [quota.instances, used.instances], key_pairs: [100, 0],
    metadata_items: [NOVA_METADATA_LIMITS.items, 0], ram: [quota.ram, used.ram], server_groups: [10, 0], server_group_members: [10, 0],
  };
  if (v < 57) Object.assign(limitsAndUse, { injected_file_content_bytes: [10240, 0], injected_file_path_bytes: [255, 0], injected_files: [5, 0] });
  if (v < 36) Object.assign(limitsAndUse, { fixed_ips: [-1, 0], floating_ips: [-1, 0], security_group_rules: [-1, 0], security_groups: [-1, 0] });
  const set: Record<string, unknown> = { id: projectId };
  for (const [key, [limit, inUse]] of Object.entries(limitsAndUse).sort(([a], [b]) => a.localeCompare(b))) {
    set[key] = detail ? { in_use: inUse, limit, reserved: 0 } : limit;
  }
  return json(200, { quota_set: set });
}

function keypairs(ctx: RequestContext): Reply {
  const token = ctx.token as Token;
  const mine = ctx.state.compute.keypairs.filter((k) => k.userId === token.user.id);
  return json(200, {
    keypairs: mine.map((k) => ({
      keypair: { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, ...(ctx.microversion >= 2 ? { type: 'ssh' } : {}) },
    })),
  });
}

/** GET /servers[/detail]: the project's servers, newest first, with Nova's name (regex) and status filters and paging. */
function listServers(ctx: RequestContext, detail: boolean): Reply {
  const token = ctx.token as Token;
  const { state, url } = ctx;
  const now = state.now();
  let servers = state.compute.visibleServers(token.project.id, now);
  const name = url.searchParams.get('name');
  if (name !== null) servers = servers.filter((s) => nameMatches(name, s.name));
  const status = url.searchParams.get('status');
  if (status !== null) {
    servers = servers.filter((s) => serverView(ctx, s, now, false).status === status.toUpperCase());
  }
  const marker = url.searchParams.get('marker');
  if (marker !== null) {
    const index = servers.findIndex((s) => s.id === marker);
    if (index < 0) throw new ApiError(400, `marker [${marker}] not found`);
    servers = servers.slice(index + 1);
  }
  const limit = Math.min(Number(url.searchParams.get('limit') ?? 1000) || 1000, 1000);
  const page = servers.slice(0, limit);
  const body: Record<string, unknown> = {
    servers: page.map((s) => (detail ? serverView(ctx, s, now, false) : serverSummary(ctx, s))),
  };
  const last = page[page.length - 1];
  if (page.length === limit && last) {
    const next = new URLSearchParams(url.searchParams);
    next.set('limit', String(limit));
    next.set('marker', last.id);
    body.servers_links = [{ href: `${ctx.endpoints.compute}/servers${detail ? '/detail' : ''}?${next.toString()}`, rel: 'next' }];
  }
  return json(200, body);
}

/** Nova filters names with a regular expression search. */
function nameMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

function findServer(ctx: RequestContext): Server {
  const token = ctx.token as Token;
  const id = ctx.params.id ?? '';
  const server = ctx.state.compute.servers.get(id);
  if (!server || server.projectId !== token.project.id || ctx.state.compute.phase(server, ctx.state.now()) === 'gone') {
    throw new ApiError(404, `Instance ${id} could not be found.`);
  }
  return server;
}

function showServer(ctx: RequestContext): Reply {
  const server = findServer(ctx);
  return json(200, { server: serverView(ctx, server, ctx.state.now(), true) });
}

/** DELETE: 204 at once; the server shows task_state deleting until the delete time has passed, then 404. */
function deleteServer(ctx: RequestContext): Reply {
  const server = findServer(ctx);
  requestDelete(server, ctx.state.now(), ctx.state.behaviour.timings.deleteMs);
  return noContent();
}

/** os-interface: the server's ports; DOWN, as no agent wires them (as on the Zed peer). */
function interfaces(ctx: RequestContext): Reply {
  const server = findServer(ctx);
  const ports = ctx.state.network.portsOf(server.id);
  return json(200, {
    interfaceAttachments: ports.map((p) => ({
      fixed_ips: [{ ip_address: p.ip, subnet_id: p.subnetId }], mac_addr: p.mac, net_id: p.networkId, port_id: p.id, port_state: 'DOWN',
    })),
  });
}
