import { allocate, emptyHistory, type AllocationHistory, type NodeTally, type SubnodeDeficit, type UsableImage } from '../allocation/index.js';
import type { NodepoolConfig } from '../config/types.js';
import { nextTurn } from '../core/next-turn.js';
import { chunks, type Database, type NodeRecord, type Repositories, type SubnodeRecord } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { nodeActorId, subnodeActorId } from '../../machines/actor-ids.js';
import type { NodeInput } from '../../machines/node.machine.js';
import type { Launch } from '../../machines/pool.machine.js';
import type { Clock } from '../core/clock.js';
import { nodeNameOf, renderTemplate } from '../core/templates.js';
import type { ProviderGateway } from '../gateway/index.js';
import { bootImage } from './boot-image.js';

/**
 * An id the database hands out again must not come with the state of the
 * actor that had it before: the snapshots of new rows' actors are removed,
 * in one statement for the group.
 */
function forgetSnapshots(tx: Repositories, launches: readonly Launch[]): Promise<void> {
  return tx.snapshots.deleteMany(launches.map((l) => (l.input.role === 'sub' ? subnodeActorId(l.nodeId) : nodeActorId(l.nodeId))));
}

/**
 * The hostnames of a group of new rows (a template may name the row's id,
 * so they come after the insert), written in one statement per table.
 */
class RowNames {
  private readonly nodes: { current: NodeRecord; patch: Pick<NodeRecord, 'hostname' | 'nodename'> }[] = [];
  private readonly subnodes: { current: SubnodeRecord; patch: Pick<SubnodeRecord, 'hostname'> }[] = [];

  node(current: NodeRecord, patch: Pick<NodeRecord, 'hostname' | 'nodename'>): NodeRecord {
    this.nodes.push({ current, patch });
    return { ...current, ...patch };
  }

  subnode(current: SubnodeRecord, patch: Pick<SubnodeRecord, 'hostname'>): SubnodeRecord {
    this.subnodes.push({ current, patch });
    return { ...current, ...patch };
  }

  async write(tx: Repositories): Promise<void> {
    await tx.nodes.updateManyFrom(this.nodes);
    await tx.subnodes.updateManyFrom(this.subnodes);
  }
}

/** Rows written per transaction in a burst, each group handed out as it commits. */
const ROWS_PER_TRANSACTION = 100;

export interface LauncherDeps {
  db: Database;
  config: () => NodepoolConfig;
  /** The gateways of the configured providers (those another nodepoold drives too: their settings and images). */
  gateways: () => ProviderGateway[];
  /**
   * Whether this process drives the provider (docs/scaling.md): its
   * launches are handed out here; those of a provider another nodepoold
   * drives reach it through the change log. Default: every provider.
   */
  drives?: (provider: string) => boolean;
  /** The providers some live nodepoold drives: the only ones launched on. Default: every configured one. */
  driven?: () => ReadonlySet<string>;
  clock: Clock;
  log: Logger;
  /** `--no-launches`. */
  launchesAllowed: () => boolean;
  /** Queued work per label from the demand sources (the Gearman servers' queues). */
  demand?: () => Record<string, number>;
  /**
   * Hands launches to their providers as soon as their rows are written; the
   * run then returns nothing more. Without it, the run returns every launch.
   */
  dispatch?: (launches: Launch[]) => void;
  /** Picks an availability zone; random by default (docs/behaviour.md, launch step 1). */
  pickZone?: (zones: readonly string[]) => string | undefined;
  registersNodes?: RegistersNodes;
}

/** Whether a target registers its nodes before they are ready (it has Jenkins settings); by default none does. */
export type RegistersNodes = (target: string) => boolean;

/** What a node actor needs to know about its launch, from its row and the configuration. */
export function nodeInputOf(row: NodeRecord, config: NodepoolConfig, registersNodes: RegistersNodes = () => false): NodeInput {
  const provider = config.providers.find((p) => p.name === row.provider);
  const target = config.targets.find((t) => t.name === row.target);
  return {
    nodeId: row.id,
    role: 'primary',
    requestedAt: row.createdAt,
    launchTimeoutMs: (provider?.launchTimeout ?? 3600) * 1000,
    bootTimeoutMs: (provider?.bootTimeout ?? 60) * 1000,
    subnodes: config.labels.find((l) => l.name === row.label)?.subnodes ?? 0,
    hasTestJob: Boolean(target?.jenkins?.testJob),
    registers: registersNodes(row.target),
    ipv6Preferred: provider?.ipv6Preferred ?? false,
    ...(row.externalId ? { serverId: row.externalId } : {}),
    provider: row.provider,
    label: row.label,
    target: row.target,
    ...(row.az ? { az: row.az } : {}),
  };
}

/** A sub-node's actor input: launched like a node, ready after its SSH check. */
export function subnodeInputOf(subnode: SubnodeRecord, parent: NodeRecord, config: NodepoolConfig): NodeInput {
  return {
    ...nodeInputOf(parent, config),
    // The target knows the primary only.
    registers: false,
    nodeId: subnode.id,
    role: 'sub',
    parentId: parent.id,
    requestedAt: subnode.stateTime,
    subnodes: 0,
    hasTestJob: false,
    ...(subnode.externalId ? { serverId: subnode.externalId } : { serverId: undefined }),
  };
}

const randomZone = (zones: readonly string[]) => (zones.length ? zones[Math.floor(Math.random() * zones.length)] : undefined);

/**
 * The pool's `allocate` effect: counts the nodes, asks the allocation what
 * to launch (docs/behaviour.md, "How many nodes to launch"), creates a row per new node (state
 * building, hostname from the target's template) and returns the launches
 * for the provider actors. Its history carries over between runs.
 */
export class Launcher {
  private history: AllocationHistory = emptyHistory();
  private lastShort = new Map<string, string>();

  constructor(private readonly deps: LauncherDeps) {}

  async run(): Promise<Launch[]> {
    if (!this.deps.launchesAllowed()) return [];
    const config = this.launchableConfig();
    // Counts, not rows: an allocation over ten thousand nodes reads a few dozen rows of counts.
    const { db } = this.deps;
    const tally = await db.nodes.tally();
    const servers = serversPerProvider(tally, await db.subnodes.countPerProvider());
    const labelsWithSubnodes = config.labels.filter((l) => l.subnodes > 0).map((l) => l.name);
    const building = await db.nodes.listInLabels(labelsWithSubnodes, 'building');
    const deficits = subnodeDeficits(building, await db.subnodes.listForNodes(building.map((r) => r.id)), config);
    const usableImages = await this.usableImages(config);
    const quotaHeadroom: Record<string, number | undefined> = {};
    // Only the provider's driver asks its cloud; another nodepoold's provider is bounded by max-servers here, and by its quota there.
    for (const gateway of this.drivenHere()) quotaHeadroom[gateway.name] = await gateway.quotaHeadroom();
    const result = allocate({
      config,
      nodes: tally,
      providerServers: servers,
      subnodeDeficits: deficits,
      usableImages,
      demand: this.deps.demand?.() ?? {},
      history: this.history,
      quotaHeadroom,
    });
    this.history = result.history;
    this.logShortfalls(result.labels);

    // The rows are written ROWS_PER_TRANSACTION at a time and each group is handed to the providers
    // at once: the first nodes of a burst of ten thousand are on their way while the last rows are written.
    const wanted: { provider: string; label: string; target: string; zones: readonly string[]; template: string; subnodeTemplate: string; subnodes: number }[] = [];
    for (const launch of result.launches) {
      const provider = config.providers.find((p) => p.name === launch.provider);
      const target = config.targets.find((t) => t.name === launch.target);
      if (!provider || !target) continue;
      const subnodes = config.labels.find((l) => l.name === launch.label)?.subnodes ?? 0;
      for (let i = 0; i < launch.count; i += 1) {
        wanted.push({
          provider: provider.name, label: launch.label, target: target.name, zones: provider.availabilityZones,
          template: target.hostname, subnodeTemplate: target.subnodeHostname, subnodes,
        });
      }
    }
    const launches: Launch[] = [];
    for (const group of chunks(wanted, ROWS_PER_TRANSACTION)) {
      const made = await this.writeRows(async (tx, names, out) => {
        for (const w of group) {
          const row = await this.createRow(tx, w.label, w.provider, w.zones, w.target, w.template, names);
          out.push({ provider: w.provider, nodeId: row.id, input: nodeInputOf(row, config, this.deps.registersNodes) });
          // The allocation counted this node as 1 + subnodes servers: its sub-nodes start with it.
          for (let k = 0; k < w.subnodes; k += 1) {
            const subnode = await this.createSubnodeRow(tx, row, w.subnodeTemplate, names);
            out.push({ provider: w.provider, nodeId: subnode.id, input: subnodeInputOf(subnode, row, config) });
          }
        }
      });
      launches.push(...made);
      this.deps.dispatch?.(made.filter((l) => this.drives(l.provider)));
      // The ticks (and the first lists of the nodes just handed out) get their turn between the groups.
      await nextTurn();
    }
    const byId = new Map(building.map((r) => [r.id, r]));
    const subnodeLaunches = result.subnodeLaunches.length === 0 ? [] : await this.writeRows(async (tx, names, out) => {
      for (const launch of result.subnodeLaunches) {
        const parent = byId.get(launch.nodeId);
        const target = config.targets.find((t) => t.name === parent?.target);
        if (!parent || !target) continue;
        for (let i = 0; i < launch.count; i += 1) {
          const subnode = await this.createSubnodeRow(tx, parent, target.subnodeHostname, names);
          out.push({ provider: parent.provider, nodeId: subnode.id, input: subnodeInputOf(subnode, parent, config) });
        }
      }
    });
    launches.push(...subnodeLaunches);
    this.deps.dispatch?.(subnodeLaunches.filter((l) => this.drives(l.provider)));
    for (const gateway of this.drivenHere()) gateway.noteLaunched(launches.filter((l) => l.provider === gateway.name).length);
    if (launches.length) {
      this.deps.log.info({ launches: launches.length }, `launching ${launches.length} node(s)`);
    } else {
      const counted = tally.reduce((sum, t) => sum + t.count, 0);
      this.deps.log.debug({ nodes: counted }, `allocation: nothing to launch (${counted} node(s) counted)`);
    }
    // With a dispatcher, every launch is already on its way.
    return this.deps.dispatch ? [] : launches.filter((l) => this.drives(l.provider));
  }

  private drives(provider: string): boolean {
    return this.deps.drives?.(provider) ?? true;
  }

  private drivenHere(): ProviderGateway[] {
    return this.deps.gateways().filter((g) => this.drives(g.name));
  }

  /** The configuration with only the providers a live nodepoold drives: a dead one's wait for their new owner. */
  private launchableConfig(): NodepoolConfig {
    const config = this.deps.config();
    const driven = this.deps.driven?.();
    return driven ? { ...config, providers: config.providers.filter((p) => driven.has(p.name)) } : config;
  }

  /**
   * One transaction of new rows: `add` creates them and lists their
   * launches; their hostnames are then written, and any snapshot left under
   * their ids is removed, a statement each for the whole group.
   */
  private writeRows(add: (tx: Repositories, names: RowNames, out: Launch[]) => Promise<void>): Promise<Launch[]> {
    return this.deps.db.transaction(async (tx) => {
      const out: Launch[] = [];
      const names = new RowNames();
      await add(tx, names, out);
      await names.write(tx);
      await forgetSnapshots(tx, out);
      // The nodepoold that drives each other provider adopts these rows when it reads the change log.
      const elsewhere = out.filter((l) => !this.drives(l.provider));
      await tx.changes.appendMany(elsewhere.map((l) => ({ kind: l.input.role === 'sub' ? 'subnode' : 'node', recordId: l.nodeId, action: 'launch' })));
      return out;
    });
  }

  private async createSubnodeRow(tx: Repositories, parent: NodeRecord, template: string, names: RowNames): Promise<SubnodeRecord> {
    const row = await tx.subnodes.create({ nodeId: parent.id, state: 'building', stateTime: this.deps.clock.now() });
    const hostname = renderTemplate(template, {
      label: parent.label,
      provider: parent.provider,
      nodeId: parent.id,
      subnodeId: row.id,
      timestamp: Math.floor(this.deps.clock.now() / 1000),
    });
    return names.subnode(row, { hostname });
  }

  private async createRow(
    tx: Repositories,
    label: string,
    provider: string,
    zones: readonly string[],
    target: string,
    template: string,
    names: RowNames,
  ): Promise<NodeRecord> {
    const az = (this.deps.pickZone ?? randomZone)(zones);
    // No manager: the Manager column shows the nodepoold driving the provider, or the Gearman manager that took the node.
    const row = await tx.nodes.create({ provider, label, target, az: az ?? null, manager: null, state: 'building', createdAt: this.deps.clock.now() });
    const hostname = renderTemplate(template, { label, provider, nodeId: row.id, timestamp: Math.floor(this.deps.clock.now() / 1000) });
    return names.node(row, { hostname, nodename: nodeNameOf(hostname) });
  }

  /** (provider, image) pairs a node can boot from now. */
  private async usableImages(config: NodepoolConfig): Promise<UsableImage[]> {
    const usable: UsableImage[] = [];
    for (const gateway of this.deps.gateways()) {
      for (const image of gateway.provider.images) {
        try {
          if (await this.bootable(gateway, image)) usable.push({ provider: gateway.name, image: image.name });
        } catch (err) {
          this.deps.log.warn({ err, provider: gateway.name, image: image.name }, 'cannot tell whether the image is ready');
        }
      }
    }
    return usable.filter((u) => config.providers.some((p) => p.name === u.provider));
  }

  /**
   * Whether a node of the provider can boot the image now. Another
   * nodepoold's provider is not asked (its cloud is called by its driver
   * only): a ready upload, or a cloud that boots from the image's name.
   */
  private async bootable(gateway: ProviderGateway, image: NodepoolConfig['providers'][number]['images'][number]): Promise<boolean> {
    if (this.drives(gateway.name)) return (await bootImage(this.deps.db, gateway, image)) !== undefined;
    return (await this.deps.db.uploads.newestReady(image.name, gateway.name))?.externalId != null || gateway.capabilities.bootsFromImageName;
  }

  /** Says once (not every run) why a label gets fewer nodes than it wants. */
  private logShortfalls(labels: readonly { label: string; short?: string | undefined; message: string }[]): void {
    for (const diagnostic of labels) {
      const previous = this.lastShort.get(diagnostic.label);
      if (diagnostic.short && diagnostic.short !== 'capacity' && previous !== diagnostic.message) {
        this.deps.log.warn({ label: diagnostic.label, reason: diagnostic.short }, diagnostic.message);
      }
      if (diagnostic.short) this.lastShort.set(diagnostic.label, diagnostic.message);
      else this.lastShort.delete(diagnostic.label);
    }
  }
}

/** Servers each provider holds: nodes and their sub-nodes (max-servers counts both). */
function serversPerProvider(tally: readonly NodeTally[], subnodes: Record<string, number>): Record<string, number> {
  const servers: Record<string, number> = { ...subnodes };
  for (const entry of tally) servers[entry.provider] = (servers[entry.provider] ?? 0) + entry.count;
  return servers;
}

/** Nodes still being built that have fewer sub-nodes than their label asks. */
function subnodeDeficits(building: readonly NodeRecord[], subnodes: readonly SubnodeRecord[], config: NodepoolConfig): SubnodeDeficit[] {
  const deficits: SubnodeDeficit[] = [];
  const live = new Map<number, number>();
  for (const s of subnodes) if (s.state !== 'delete') live.set(s.nodeId, (live.get(s.nodeId) ?? 0) + 1);
  for (const row of building) {
    const wanted = config.labels.find((l) => l.name === row.label)?.subnodes ?? 0;
    const have = live.get(row.id) ?? 0;
    if (wanted > have) deficits.push({ nodeId: row.id, provider: row.provider, label: row.label, missing: wanted - have });
  }
  return deficits;
}
