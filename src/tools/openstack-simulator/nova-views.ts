import { createHash } from 'node:crypto';
import { BUILD_STATUS } from '../../simulated-cloud/index.js';
import { builtAt, spawningFrom, type Flavor, type LivePhase, type Server } from './compute-store.js';
import type { Port } from './network-store.js';
import type { RequestContext } from './router.js';
import { isoMicros, isoSeconds } from './time-format.js';

interface ShownState {
  status: string;
  vm: string;
  task: string | null;
  power: number;
}

/** What Nova's _STATE_MAP and the fake driver give for each phase of a build (the status is the shared model's). */
const PHASE_STATES: Record<LivePhase, ShownState> = {
  scheduling: { status: BUILD_STATUS.building, vm: 'building', task: 'scheduling', power: 0 },
  spawning: { status: BUILD_STATUS.building, vm: 'building', task: 'spawning', power: 0 },
  active: { status: BUILD_STATUS.active, vm: 'active', task: null, power: 1 },
  error: { status: BUILD_STATUS.error, vm: 'error', task: null, power: 0 },
};

const HOST = 'compute1';

/** What a server shows at `now`: while deleting, the phase it had when the delete came, with task_state deleting. */
export function shownState(ctx: Pick<RequestContext, 'state'>, server: Server, now: number): ShownState {
  const state = PHASE_STATES[ctx.state.compute.shownPhase(server, now)];
  return ctx.state.compute.phase(server, now) === 'deleting' ? { ...state, task: 'deleting' } : state;
}

function links(ctx: RequestContext, collection: string, id: string, self = true): Array<{ href: string; rel: string }> {
  const bookmark = { href: `${ctx.endpoints.base}/compute/${collection}/${id}`, rel: 'bookmark' };
  return self ? [{ href: `${ctx.endpoints.compute}/${collection}/${id}`, rel: 'self' }, bookmark] : [bookmark];
}

/** flavors/detail: fields as of the requested microversion (description 2.55, extra_specs 2.61, swap 0 from 2.75). */
export function flavorView(ctx: RequestContext, flavor: Flavor): Record<string, unknown> {
  const v = ctx.microversion;
  const view: Record<string, unknown> = {
    id: flavor.id,
    name: flavor.name,
    ram: flavor.ram,
    disk: flavor.disk,
    vcpus: flavor.vcpus,
    links: links(ctx, 'flavors', flavor.id),
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    'os-flavor-access:is_public': true,
    swap: v >= 75 ? 0 : '',
    rxtx_factor: 1.0,
  };
  if (v >= 55) view.description = null;
  if (v >= 61) view.extra_specs = {};
  return view;
}

function serverFlavor(ctx: RequestContext, flavor: Flavor): Record<string, unknown> {
  if (ctx.microversion < 47) return { id: flavor.id, links: links(ctx, 'flavors', flavor.id, false) };
  return { vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk, ephemeral: 0, swap: 0, original_name: flavor.name, extra_specs: {} };
}

/** When the server last changed: creation, the start of spawning, the end of the build, the delete. */
function updatedAt(server: Server, live: LivePhase): number {
  if (server.deleteRequestedAt !== undefined) return server.deleteRequestedAt;
  if (live === 'scheduling') return server.createdAt;
  if (live === 'spawning') return spawningFrom(server);
  return builtAt(server);
}

/** The server as GET /servers/{id} and /servers/detail show it at `now` to a project member. */
export function serverView(ctx: RequestContext, server: Server, now: number, show: boolean): Record<string, unknown> {
  const live = ctx.state.compute.shownPhase(server, now);
  const st = shownState(ctx, server, now);
  const onHost = live === 'spawning' || live === 'active';
  const ports = onHost ? ctx.state.network.portsOf(server.id) : [];
  const view: Record<string, unknown> = {
    id: server.id,
    name: server.name,
    status: st.status,
    tenant_id: server.projectId,
    user_id: server.userId,
    metadata: { ...server.metadata },
    hostId: onHost ? createHash('sha224').update(server.projectId + HOST).digest('hex') : '',
    image: { id: server.imageId, links: links(ctx, 'images', server.imageId, false) },
    flavor: serverFlavor(ctx, server.flavor),
    created: isoSeconds(server.createdAt),
    updated: isoSeconds(updatedAt(server, live)),
    addresses: addresses(ctx, ports),
    accessIPv4: server.accessIPv4,
    accessIPv6: server.accessIPv6,
    links: links(ctx, 'servers', server.id),
    'OS-DCF:diskConfig': server.diskConfig,
    'OS-EXT-AZ:availability_zone': live === 'scheduling' ? server.requestedAz ?? '' : server.availabilityZone,
    config_drive: server.configDrive ? 'True' : '',
    key_name: server.keyName,
    'OS-SRV-USG:launched_at': live === 'active' ? isoMicros(builtAt(server)) : null,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': st.task,
    'OS-EXT-STS:vm_state': st.vm,
    'OS-EXT-STS:power_state': st.power,
    'os-extended-volumes:volumes_attached': [],
  };
  if (st.status === 'ERROR') {
    view.fault = { code: 500, created: isoSeconds(builtAt(server)), message: server.faultMessage ?? 'No valid host was found. ' };
  }
  if (st.status === 'ACTIVE' || st.status === 'BUILD') view.progress = 0;
  if (ports.length > 0) view.security_groups = server.securityGroups.map((name) => ({ name }));
  addMicroversionFields(ctx.microversion, view, server, show);
  return view;
}

function addMicroversionFields(v: number, view: Record<string, unknown>, server: Server, show: boolean): void {
  if (v >= 9) view.locked = false;
  if (v >= 19) view.description = server.description;
  if (v >= 26) view.tags = [];
  if (v >= 63) view.trusted_image_certificates = null;
  if (v >= 71 && show) view.server_groups = [];
  if (v >= 73) view.locked_reason = null;
  if (v >= 90) view['OS-EXT-SRV-ATTR:hostname'] = server.hostname;
}

function addresses(ctx: RequestContext, ports: Port[]): Record<string, unknown[]> {
  const result: Record<string, unknown[]> = {};
  for (const port of ports) {
    const network = ctx.state.network.networks.get(port.networkId);
    if (!network) continue;
    (result[network.name] ??= []).push({
      version: 4, addr: port.ip, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac,
    });
  }
  return result;
}

/** GET /servers (no detail): id, name, links. */
export function serverSummary(ctx: RequestContext, server: Server): Record<string, unknown> {
  return { id: server.id, name: server.name, links: links(ctx, 'servers', server.id) };
}
