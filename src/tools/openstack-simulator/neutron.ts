import { ApiError, json, noContent, type Reply } from './http-kit.js';
import type { Token } from './identity-store.js';
import { numberToIp } from './ipv4.js';
import type { FloatingIp, Network, Port } from './network-store.js';
import type { RequestContext, Route } from './router.js';
import { isoSeconds } from './time-format.js';

const V = '/network/v2.0';
const NOT_FILTERS = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse']);

/** Neutron v2.0: networks, subnets, ports (read) and floating IPs (list, delete). */
export function neutronRoutes(): Route[] {
  const route = (method: string, template: string, handle: Route['handle'], auth = true): Route =>
    ({ service: 'network', method, template, auth, handle });
  return [
    route('GET', '/network', versions, false),
    route('GET', '/network/', versions, false),
    route('GET', `${V}/networks`, (ctx) => list(ctx, 'networks', visibleNetworks(ctx).map(networkView))),
    route('GET', `${V}/networks/{id}`, showNetwork),
    route('GET', `${V}/subnets`, (ctx) => list(ctx, 'subnets', visibleNetworks(ctx).map(subnetView))),
    route('GET', `${V}/ports`, (ctx) => list(ctx, 'ports', visiblePorts(ctx).map((p) => portView(ctx, p)))),
    route('GET', `${V}/floatingips`, (ctx) => list(ctx, 'floatingips', visibleFloatingIps(ctx).map((f) => floatingIpView(ctx, f)))),
    route('DELETE', `${V}/floatingips/{id}`, deleteFloatingIp),
  ];
}

function versions(ctx: RequestContext): Reply {
  return json(200, { versions: [{ status: 'CURRENT', id: 'v2.0', links: [{ href: `${ctx.endpoints.network}/v2.0/`, rel: 'self' }] }] });
}

function projectOf(ctx: RequestContext): string {
  return (ctx.token as Token).project.id;
}

function visibleNetworks(ctx: RequestContext): Network[] {
  return ctx.state.network.visibleNetworks(projectOf(ctx));
}

function visiblePorts(ctx: RequestContext): Port[] {
  return [...ctx.state.network.ports.values()].filter((p) => p.projectId === projectOf(ctx));
}

/** Without the L3 plugin (floatingIps: false) the resource does not exist, as on the Zed peer. */
function requireL3(ctx: RequestContext): void {
  if (!ctx.state.behaviour.floatingIps) {
    throw new ApiError(404, 'The resource could not be found.', { routeMissing: true });
  }
}

function visibleFloatingIps(ctx: RequestContext): FloatingIp[] {
  requireL3(ctx);
  return [...ctx.state.network.floatingIps.values()].filter((f) => f.projectId === projectOf(ctx));
}

/** Neutron filters lists on any attribute (repeated keys are OR) and trims with ?fields=. */
function list(ctx: RequestContext, key: string, items: Array<Record<string, unknown>>): Reply {
  const params = ctx.url.searchParams;
  const filterKeys = [...new Set(params.keys())].filter((k) => !NOT_FILTERS.has(k));
  const kept = items.filter((item) => filterKeys.every((k) => params.getAll(k).some((v) => matches(item[k], v))));
  const fields = params.getAll('fields');
  const shown = fields.length === 0 ? kept : kept.map((item) => Object.fromEntries(fields.filter((f) => f in item).map((f) => [f, item[f]])));
  return json(200, { [key]: shown });
}

function matches(value: unknown, wanted: string): boolean {
  if (Array.isArray(value)) return value.some((v) => matches(v, wanted));
  if (typeof value === 'boolean') return String(value) === wanted.toLowerCase();
  return value !== undefined && value !== null && String(value) === wanted;
}

function showNetwork(ctx: RequestContext): Reply {
  const network = visibleNetworks(ctx).find((n) => n.id === ctx.params.id);
  if (!network) throw new ApiError(404, `Network ${ctx.params.id ?? ''} could not be found.`, { kind: 'NetworkNotFound' });
  return json(200, { network: networkView(network) });
}

function deleteFloatingIp(ctx: RequestContext): Reply {
  requireL3(ctx);
  const id = ctx.params.id ?? '';
  const fip = ctx.state.network.floatingIps.get(id);
  if (!fip || fip.projectId !== projectOf(ctx)) {
    throw new ApiError(404, `Floating IP ${id} could not be found`, { kind: 'FloatingIPNotFound' });
  }
  ctx.state.network.floatingIps.delete(id);
  return noContent();
}

function networkView(network: Network): Record<string, unknown> {
  const time = isoSeconds(network.createdAt);
  return {
    id: network.id, name: network.name, tenant_id: network.projectId, project_id: network.projectId,
    admin_state_up: true, mtu: 1500, status: 'ACTIVE', subnets: [network.subnet.id], shared: network.shared,
    availability_zone_hints: [], availability_zones: ['nova'], ipv4_address_scope: null, ipv6_address_scope: null,
    'router:external': false, description: '', port_security_enabled: true, is_default: false, tags: [],
    created_at: time, updated_at: time, revision_number: 1,
  };
}

function subnetView(network: Network): Record<string, unknown> {
  const { subnet } = network;
  const time = isoSeconds(subnet.createdAt);
  const pool = { start: numberToIp(subnet.poolStart), end: numberToIp(subnet.poolEnd) };
  return {
    id: subnet.id, name: subnet.name, tenant_id: subnet.projectId, project_id: subnet.projectId, network_id: network.id,
    ip_version: 4, subnetpool_id: null, enable_dhcp: false, ipv6_ra_mode: null, ipv6_address_mode: null, gateway_ip: null,
    cidr: subnet.cidr, allocation_pools: [pool], host_routes: [], dns_nameservers: [], description: '', service_types: [],
    tags: [], created_at: time, updated_at: time, revision_number: 0, segment_id: null, dns_publish_fixed_ip: false,
  };
}

function portView(ctx: RequestContext, port: Port): Record<string, unknown> {
  const time = isoSeconds(port.createdAt);
  return {
    id: port.id, name: '', network_id: port.networkId, tenant_id: port.projectId, project_id: port.projectId,
    mac_address: port.mac, admin_state_up: true, status: 'DOWN', device_id: port.deviceId, device_owner: port.deviceOwner,
    fixed_ips: [{ subnet_id: port.subnetId, ip_address: port.ip }], allowed_address_pairs: [], extra_dhcp_opts: [],
    security_groups: [], description: '', 'binding:vnic_type': 'normal', port_security_enabled: true, tags: [],
    created_at: time, updated_at: time, revision_number: 1,
  };
}

function floatingIpView(ctx: RequestContext, fip: FloatingIp): Record<string, unknown> {
  const port = fip.portId ? ctx.state.network.ports.get(fip.portId) : undefined;
  return {
    id: fip.id, tenant_id: fip.projectId, project_id: fip.projectId, floating_network_id: fip.networkId,
    floating_ip_address: fip.address, fixed_ip_address: fip.fixedIp, port_id: fip.portId, router_id: null,
    status: fip.portId ? 'ACTIVE' : 'DOWN', description: '', tags: [], port_forwardings: [],
    created_at: isoSeconds(fip.createdAt), updated_at: isoSeconds(fip.updatedAt), revision_number: 1,
    port_details: port
      ? { name: '', network_id: port.networkId, mac_address: port.mac, admin_state_up: true, status: 'DOWN', device_id: port.deviceId, device_owner: port.deviceOwner }
      : null,
  };
}
