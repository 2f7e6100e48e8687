import { hostname as hostName } from 'node:os';
import { allocate, emptyHistory, type AllocationHistory, type NodeTally, type SubnodeDeficit, type UsableImage } from '../allocation/index.js';
import type { NodepoolConfig } from '../config/types.js';
import type { Database, NodeRecord, SubnodeRecord } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { nodeActorId, subnodeActorId } from '../../machines/actor-ids.js';
import type { NodeInput } from '../../machines/node.machine.js';
import type { Launch } from '../../machines/pool.machine.js';
import type { Clock } from '../core/clock.js';
import { nodeNameOf, renderTemplate } from '../core/templates.js';
import type { ProviderGateway } from '../gateway/index.js';
import { bootImage } from './boot-image.js';

export interface LauncherDeps {
  db: Database;
  config: () => NodepoolConfig;
  /** The gateways of the configured providers this process launches on. */
  gateways: () => ProviderGateway[];
  clock: Clock;
  log: Logger;
  /** `--no-launches`. */
  launchesAllowed: () => boolean;
  /** Queued work per label from the demand sources (none yet: min-ready only). */
  demand?: () => Record<string, number>;
  /** Picks an availability zone; random by default (docs/behaviour.md, launch step 1). */
  pickZone?: (zones: readonly string[]) => string | undefined;
}

/** What a node actor needs to know about its launch, from its row and the configuration. */
export function nodeInputOf(row: NodeRecord, config: NodepoolConfig): NodeInput {
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
    ipv6Preferred: provider?.ipv6Preferred ?? false,
    ...(row.externalId ? { serverId: row.externalId } : {}),
  };
}

/** A sub-node's actor input: launched like a node, ready after its SSH check. */
export function subnodeInputOf(subnode: SubnodeRecord, parent: NodeRecord, config: NodepoolConfig): NodeInput {
  return {
    ...nodeInputOf(parent, config),
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
    const config = this.deps.config();
    const rows = await this.deps.db.nodes.list();
    const subnodes = await this.deps.db.subnodes.list();
    const usableImages = await this.usableImages(config);
    const quotaHeadroom: Record<string, number | undefined> = {};
    for (const gateway of this.deps.gateways()) quotaHeadroom[gateway.name] = await gateway.quotaHeadroom();
    const result = allocate({
      config,
      nodes: tally(rows),
      providerServers: serversPerProvider(rows, subnodes),
      subnodeDeficits: subnodeDeficits(rows, subnodes, config),
      usableImages,
      demand: this.deps.demand?.() ?? {},
      history: this.history,
      quotaHeadroom,
    });
    this.history = result.history;
    this.logShortfalls(result.labels);

    const launches: Launch[] = [];
    for (const launch of result.launches) {
      const provider = config.providers.find((p) => p.name === launch.provider);
      const target = config.targets.find((t) => t.name === launch.target);
      if (!provider || !target) continue;
      const subnodes = config.labels.find((l) => l.name === launch.label)?.subnodes ?? 0;
      for (let i = 0; i < launch.count; i += 1) {
        const row = await this.createRow(launch.label, provider.name, provider.availabilityZones, target.name, target.hostname);
        launches.push({ provider: provider.name, nodeId: row.id, input: nodeInputOf(row, config) });
        // The allocation counted this node as 1 + subnodes servers: its sub-nodes start with it.
        for (let k = 0; k < subnodes; k += 1) {
          const subnode = await this.createSubnodeRow(row, target.subnodeHostname);
          launches.push({ provider: provider.name, nodeId: subnode.id, input: subnodeInputOf(subnode, row, config) });
        }
      }
    }
    for (const launch of result.subnodeLaunches) {
      const parent = rows.find((r) => r.id === launch.nodeId);
      const target = config.targets.find((t) => t.name === parent?.target);
      if (!parent || !target) continue;
      for (let i = 0; i < launch.count; i += 1) {
        const subnode = await this.createSubnodeRow(parent, target.subnodeHostname);
        launches.push({ provider: parent.provider, nodeId: subnode.id, input: subnodeInputOf(subnode, parent, config) });
      }
    }
    for (const gateway of this.deps.gateways()) gateway.noteLaunched(launches.filter((l) => l.provider === gateway.name).length);
    if (launches.length) this.deps.log.info({ launches: launches.length }, `launching ${launches.length} node(s)`);
    else this.deps.log.debug({ nodes: rows.length }, `allocation: nothing to launch (${rows.length} node(s) counted)`);
    return launches;
  }

  private async createSubnodeRow(parent: NodeRecord, template: string): Promise<SubnodeRecord> {
    return this.deps.db.transaction(async (tx) => {
      const row = await tx.subnodes.create({ nodeId: parent.id, state: 'building', stateTime: this.deps.clock.now() });
      // An id the database hands out again must not come with the state of the actor that had it before.
      await tx.snapshots.delete(subnodeActorId(row.id));
      const hostname = renderTemplate(template, {
        label: parent.label,
        provider: parent.provider,
        nodeId: parent.id,
        subnodeId: row.id,
        timestamp: Math.floor(this.deps.clock.now() / 1000),
      });
      return tx.subnodes.update(row.id, { hostname });
    });
  }

  private async createRow(label: string, provider: string, zones: readonly string[], target: string, template: string) {
    const az = (this.deps.pickZone ?? randomZone)(zones);
    return this.deps.db.transaction(async (tx) => {
      const row = await tx.nodes.create({ provider, label, target, az: az ?? null, manager: hostName(), state: 'building', createdAt: this.deps.clock.now() });
      await tx.snapshots.delete(nodeActorId(row.id));
      const hostname = renderTemplate(template, { label, provider, nodeId: row.id, timestamp: Math.floor(this.deps.clock.now() / 1000) });
      return tx.nodes.update(row.id, { hostname, nodename: nodeNameOf(hostname) });
    });
  }

  /** (provider, image) pairs a node can boot from now. */
  private async usableImages(config: NodepoolConfig): Promise<UsableImage[]> {
    const usable: UsableImage[] = [];
    for (const gateway of this.deps.gateways()) {
      for (const image of gateway.provider.images) {
        try {
          if (await bootImage(this.deps.db, gateway, image)) usable.push({ provider: gateway.name, image: image.name });
        } catch (err) {
          this.deps.log.warn({ err, provider: gateway.name, image: image.name }, 'cannot tell whether the image is ready');
        }
      }
    }
    return usable.filter((u) => config.providers.some((p) => p.name === u.provider));
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

function tally(rows: readonly NodeRecord[]): NodeTally[] {
  const counts = new Map<string, NodeTally>();
  for (const row of rows) {
    const key = `${row.provider}\u0000${row.label}\u0000${row.target}\u0000${row.state}`;
    const entry = counts.get(key) ?? { provider: row.provider, label: row.label, target: row.target, state: row.state, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/** Servers each provider holds: nodes and their sub-nodes (max-servers counts both). */
function serversPerProvider(rows: readonly NodeRecord[], subnodes: readonly SubnodeRecord[]): Record<string, number> {
  const servers: Record<string, number> = {};
  const providerOf = new Map(rows.map((r) => [r.id, r.provider]));
  for (const row of rows) servers[row.provider] = (servers[row.provider] ?? 0) + 1;
  for (const subnode of subnodes) {
    const provider = providerOf.get(subnode.nodeId);
    if (provider) servers[provider] = (servers[provider] ?? 0) + 1;
  }
  return servers;
}

/** Nodes still being built that have fewer sub-nodes than their label asks. */
function subnodeDeficits(rows: readonly NodeRecord[], subnodes: readonly SubnodeRecord[], config: NodepoolConfig): SubnodeDeficit[] {
  const deficits: SubnodeDeficit[] = [];
  for (const row of rows) {
    if (row.state !== 'building') continue;
    const wanted = config.labels.find((l) => l.name === row.label)?.subnodes ?? 0;
    const have = subnodes.filter((s) => s.nodeId === row.id && s.state !== 'delete').length;
    if (wanted > have) deficits.push({ nodeId: row.id, provider: row.provider, label: row.label, missing: wanted - have });
  }
  return deficits;
}
