/**
 * The listings the status server shows, read from the database through a
 * short cache and printed by the same functions as `nodepool list`,
 * `image-list` and `dib-image-list`, so a page equals the command's output
 * for the same records.
 */
import type { Label } from '../config/types.js';
import type { ImageBuildRecord, ImageUploadRecord, NodeRecord, Repositories } from '../db/index.js';
import {
  buildJson, buildTable, countLabels, jsonRows, labelJson, labelTable, nodeJson, nodeTable, oldestFirst, uploadJson, uploadTable,
} from '../listings/index.js';
import { json, text, type Reply } from './reply.js';
import { ShortCache } from './short-cache.js';

/** Long enough that a burst of requests shares one query, short enough that a page is never visibly stale. */
export const DEFAULT_CACHE_MS = 1_000;

export interface ListingSources {
  db: Pick<Repositories, 'nodes' | 'builds' | 'uploads'>;
  /** The labels of the configuration in force (it changes on reload). */
  labels(): readonly Pick<Label, 'name' | 'minReady'>[];
  cacheMs?: number;
  now?: () => number;
}

export interface ListingQuery {
  json: boolean;
  /** node-list only: the one node to show. */
  nodeId?: number;
}

export type ListingName = 'node-list' | 'image-list' | 'dib-image-list' | 'label-list';

export class ListingPages {
  private readonly nodes: ShortCache<NodeRecord[]>;
  private readonly builds: ShortCache<ImageBuildRecord[]>;
  private readonly uploads: ShortCache<ImageUploadRecord[]>;
  private readonly now: () => number;
  /**
   * Each whole page as drawn from the rows it was drawn from: until the
   * cache reads new rows, the page is served as it is. At 10,000 nodes
   * drawing the page costs far more than reading the rows (a 4 MB JSON);
   * the ages in it are at most the cache's second old, as the rows are.
   */
  private readonly drawn = new Map<string, { from: unknown; reply: Reply }>();

  constructor(private readonly sources: ListingSources) {
    const keepMs = sources.cacheMs ?? DEFAULT_CACHE_MS;
    this.now = sources.now ?? Date.now;
    // The whole node list is kept, and node_id filters it, so that every node's page is served by the same one query.
    this.nodes = new ShortCache(() => sources.db.nodes.list(), keepMs, this.now);
    this.builds = new ShortCache(async () => oldestFirst(await sources.db.builds.list()), keepMs, this.now);
    this.uploads = new ShortCache(async () => oldestFirst(await sources.db.uploads.list()), keepMs, this.now);
  }

  async page(name: ListingName, query: ListingQuery): Promise<Reply> {
    switch (name) {
      case 'node-list': {
        const all = await this.nodes.get();
        if (query.nodeId !== undefined) return nodePage(all.filter((n) => n.id === query.nodeId), query.json, this.now());
        return this.drawnOnce(`${name}:${query.json}`, all, () => nodePage(all, query.json, this.now()));
      }
      case 'image-list': {
        const uploads = await this.uploads.get();
        return this.drawnOnce(`${name}:${query.json}`, uploads, () => {
          const now = this.now();
          return query.json ? json(jsonRows(uploads.map((u) => uploadJson(u, now)))) : text(200, uploadTable(uploads, now));
        });
      }
      case 'dib-image-list': {
        const builds = await this.builds.get();
        return this.drawnOnce(`${name}:${query.json}`, builds, () => {
          const now = this.now();
          return query.json ? json(jsonRows(builds.map((b) => buildJson(b, now)))) : text(200, buildTable(builds, now));
        });
      }
      case 'label-list': {
        // Not kept: the labels follow a reload at once, and counting is cheap beside drawing thousands of rows.
        const rows = countLabels(this.sources.labels(), await this.nodes.get());
        return query.json ? json(jsonRows(rows.map(labelJson))) : text(200, labelTable(rows));
      }
    }
  }

  private drawnOnce(key: string, from: unknown, draw: () => Reply): Reply {
    const kept = this.drawn.get(key);
    if (kept && kept.from === from) return kept.reply;
    const reply = draw();
    this.drawn.set(key, { from, reply });
    return reply;
  }
}

function nodePage(nodes: readonly NodeRecord[], asJson: boolean, now: number): Reply {
  return asJson ? json(jsonRows(nodes.map((n) => nodeJson(n, now)))) : text(200, nodeTable(nodes, now));
}
