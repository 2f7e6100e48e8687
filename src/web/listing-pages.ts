/**
 * The listings the status server shows, read from the database through a
 * short cache and printed by the same functions as `nodepool list`,
 * `image-list`, `dib-image-list`, `provider-list` and `daemon-list`, so a
 * page equals the command's output for the same records.
 */
import type { Label, Provider } from '../config/types.js';
import { ALLOCATION_LEASE, PROVIDER_LEASE_PREFIX } from '../core/leases.js';
import type { DaemonRecord, ImageBuildRecord, ImageUploadRecord, LeaseRecord, NodeRecord, Repositories } from '../db/index.js';
import {
  buildJson, buildTable, countLabels, daemonJson, daemonRows, daemonTable, jsonRows, labelJson, labelTable, nodeJson, nodeTable, oldestFirst,
  providerJson, providerOwners, providerRows, providerTable, uploadJson, uploadTable,
} from '../listings/index.js';
import { json, text, type Reply } from './reply.js';
import { ShortCache } from './short-cache.js';

/** Long enough that a burst of requests shares one query, short enough that a page is never visibly stale. */
export const DEFAULT_CACHE_MS = 1_000;

export interface ListingSources {
  db: Pick<Repositories, 'nodes' | 'builds' | 'uploads' | 'leases' | 'daemons'>;
  /** The labels of the configuration in force (it changes on reload). */
  labels(): readonly Pick<Label, 'name' | 'minReady'>[];
  /** The providers of the configuration in force, for /provider-list; none unless given. */
  providers?(): readonly Pick<Provider, 'name' | 'maxServers'>[];
  cacheMs?: number;
  now?: () => number;
}

export interface ListingQuery {
  json: boolean;
  /** node-list only: the one node to show. */
  nodeId?: number;
}

export type ListingName = 'node-list' | 'image-list' | 'dib-image-list' | 'label-list' | 'provider-list' | 'daemon-list';

/** The daemon rows and the leases that say who drives what, read together. */
interface Cluster {
  daemons: DaemonRecord[];
  providerLeases: LeaseRecord[];
  allocation: LeaseRecord | undefined;
}

export class ListingPages {
  private readonly nodes: ShortCache<NodeRecord[]>;
  private readonly builds: ShortCache<ImageBuildRecord[]>;
  private readonly uploads: ShortCache<ImageUploadRecord[]>;
  /** The provider leases (the Manager column of node-list, provider-list). */
  private readonly providerLeases: ShortCache<LeaseRecord[]>;
  private readonly cluster: ShortCache<Cluster>;
  private readonly now: () => number;
  /**
   * Each whole page as drawn from the rows it was drawn from: until the
   * cache reads new rows, the page is served as it is. At 10,000 nodes
   * drawing the page costs far more than reading the rows (a 4 MB JSON);
   * the ages in it are at most the cache's second old, as the rows are.
   */
  private readonly drawn = new Map<string, { from: readonly unknown[]; reply: Reply }>();

  constructor(private readonly sources: ListingSources) {
    const keepMs = sources.cacheMs ?? DEFAULT_CACHE_MS;
    this.now = sources.now ?? Date.now;
    // The whole node list is kept, and node_id filters it, so that every node's page is served by the same one query.
    this.nodes = new ShortCache(() => sources.db.nodes.list(), keepMs, this.now);
    this.builds = new ShortCache(async () => oldestFirst(await sources.db.builds.list()), keepMs, this.now);
    this.uploads = new ShortCache(async () => oldestFirst(await sources.db.uploads.list()), keepMs, this.now);
    this.providerLeases = new ShortCache(() => sources.db.leases.listWithPrefix(PROVIDER_LEASE_PREFIX), keepMs, this.now);
    this.cluster = new ShortCache(async () => {
      const [daemons, providerLeases, allocation] = await Promise.all([
        sources.db.daemons.list(), this.providerLeases.get(), sources.db.leases.holder(ALLOCATION_LEASE, this.now()),
      ]);
      return { daemons, providerLeases, allocation };
    }, keepMs, this.now);
  }

  async page(name: ListingName, query: ListingQuery): Promise<Reply> {
    switch (name) {
      case 'node-list': {
        const [all, leases] = await Promise.all([this.nodes.get(), this.providerLeases.get()]);
        const owners = () => providerOwners(leases, this.now());
        if (query.nodeId !== undefined) return nodePage(all.filter((n) => n.id === query.nodeId), query.json, this.now(), owners());
        return this.drawnOnce(`${name}:${query.json}`, [all, leases], () => nodePage(all, query.json, this.now(), owners()));
      }
      case 'image-list': {
        const uploads = await this.uploads.get();
        return this.drawnOnce(`${name}:${query.json}`, [uploads], () => {
          const now = this.now();
          return query.json ? json(jsonRows(uploads.map((u) => uploadJson(u, now)))) : text(200, uploadTable(uploads, now));
        });
      }
      case 'dib-image-list': {
        const builds = await this.builds.get();
        return this.drawnOnce(`${name}:${query.json}`, [builds], () => {
          const now = this.now();
          return query.json ? json(jsonRows(builds.map((b) => buildJson(b, now)))) : text(200, buildTable(builds, now));
        });
      }
      case 'label-list': {
        // Not kept: the labels follow a reload at once, and counting is cheap beside drawing thousands of rows.
        const rows = countLabels(this.sources.labels(), await this.nodes.get());
        return query.json ? json(jsonRows(rows.map(labelJson))) : text(200, labelTable(rows));
      }
      case 'provider-list': {
        // Not kept either: a few rows, and the seconds until each lease lapses should be now's.
        const [leases, nodes] = await Promise.all([this.providerLeases.get(), this.nodes.get()]);
        const rows = providerRows(this.sources.providers?.() ?? [], leases, nodes.map((n) => ({ provider: n.provider, count: 1 })), this.now());
        return query.json ? json(jsonRows(rows.map(providerJson))) : text(200, providerTable(rows));
      }
      case 'daemon-list': {
        const { daemons, providerLeases, allocation } = await this.cluster.get();
        const now = this.now();
        const rows = daemonRows(daemons, providerLeases, allocation?.owner, now);
        return query.json ? json(jsonRows(rows.map((r) => daemonJson(r, now)))) : text(200, daemonTable(rows, now));
      }
    }
  }

  /** `from`: the rows the page is drawn from; the page is drawn again once any of them is read anew. */
  private drawnOnce(key: string, from: readonly unknown[], draw: () => Reply): Reply {
    const kept = this.drawn.get(key);
    if (kept && kept.from.length === from.length && kept.from.every((f, i) => f === from[i])) return kept.reply;
    const reply = draw();
    this.drawn.set(key, { from, reply });
    return reply;
  }
}

function nodePage(nodes: readonly NodeRecord[], asJson: boolean, now: number, owners: ReadonlyMap<string, string>): Reply {
  return asJson ? json(jsonRows(nodes.map((n) => nodeJson(n, now, owners)))) : text(200, nodeTable(nodes, now, owners));
}
