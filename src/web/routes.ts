/**
 * The status server's routes: read-only listings, metrics, liveness and readiness.
 * Anything but GET or HEAD is refused (405), an unknown path is 404 and a
 * query the route does not take is 400, each with a one-line reason.
 */
import { databaseReason } from '../db/errors.js';
import type { ListingName, ListingPages, ListingQuery } from './listing-pages.js';
import type { InspectorApi } from './inspector-api.js';
import type { PageAssets } from './page-assets.js';
import { readinessProblems, type ReadinessProbe } from './readiness.js';
import { text, type Reply } from './reply.js';

const READ_METHODS = ['GET', 'HEAD'];

export interface RouteDeps {
  listings: ListingPages;
  /** The listings this server offers: any other is 404. */
  offered: readonly ListingName[];
  /** Asked by /readyz; without it there is no /readyz (404). */
  readiness?: ReadinessProbe;
  /** The Prometheus text for /metrics; without it there is no /metrics (404). */
  metrics?: MetricsSource;
  /** The inspector page's API under /api/; without it there is none (404). */
  inspector?: InspectorApi;
  /** The inspector page itself at `/` (with its script and style), served with its API. */
  page?: PageAssets;
}

export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export async function route(deps: RouteDeps, method: string, rawUrl: string): Promise<Reply> {
  if (!READ_METHODS.includes(method)) {
    return { ...text(405, `${method} is not allowed: the status server is read-only`), headers: { allow: READ_METHODS.join(', ') } };
  }
  const url = new URL(rawUrl, 'http://status.invalid');
  const path = url.pathname;
  if (path === '/healthz') return withoutQuery(url) ?? text(200, 'ok');
  const asset = deps.inspector ? deps.page?.get(path) : undefined;
  if (asset) return { status: 200, body: asset.body, headers: { 'content-type': asset.contentType } };
  const { readiness } = deps;
  if (path === '/readyz' && readiness) return withoutQuery(url) ?? readyz(readiness);
  if (path === '/metrics' && deps.metrics) return withoutQuery(url) ?? metricsPage(deps.metrics);
  if (path.startsWith('/api/') && deps.inspector) {
    try {
      const reply = await deps.inspector.reply(path, url.searchParams);
      if (reply) return reply;
    } catch (err) {
      return text(503, `the actors could not be read: ${databaseReason(err) ?? (err instanceof Error ? err.message : String(err))}`);
    }
  }
  const listing = deps.offered.find((name) => path === `/${name}` || path === `/${name}.json`);
  if (!listing) return text(404, `${path} is not a page of the status server; pages: ${pageList(deps).join(', ')}`);
  const query = listingQuery(listing, path.endsWith('.json'), url.searchParams);
  if ('status' in query) return query;
  try {
    return await deps.listings.page(listing, query);
  } catch (err) {
    return text(503, `the database could not be read: ${databaseReason(err) ?? (err instanceof Error ? err.message : String(err))}`);
  }
}

function pageList({ offered, readiness, metrics, inspector }: RouteDeps): string[] {
  return [
    ...offered.map((n) => `/${n}`), ...(metrics ? ['/metrics'] : []), '/healthz', ...(readiness ? ['/readyz'] : []),
    ...(inspector ? ['/ (the inspector page)', '/api/pool', '/api/actors', '/api/events'] : []),
  ];
}

async function metricsPage(metrics: MetricsSource): Promise<Reply> {
  try {
    return { status: 200, body: await metrics.text(), headers: { 'content-type': metrics.contentType } };
  } catch (err) {
    return text(503, `the metrics could not be read: ${databaseReason(err) ?? (err instanceof Error ? err.message : String(err))}`);
  }
}

function withoutQuery(url: URL): Reply | undefined {
  const names = [...url.searchParams.keys()];
  return names.length > 0 ? text(400, `${url.pathname} takes no query parameters (got ${names.join(', ')})`) : undefined;
}

async function readyz(probe: ReadinessProbe): Promise<Reply> {
  const problems = await readinessProblems(probe);
  return problems.length === 0 ? text(200, 'ready') : text(503, problems.join('\n'));
}

function listingQuery(listing: ListingName, json: boolean, params: URLSearchParams): ListingQuery | Reply {
  const taken = listing === 'node-list' ? ['node_id'] : [];
  const unknown = [...new Set(params.keys())].filter((name) => !taken.includes(name));
  if (unknown.length > 0) return text(400, `/${listing} does not take ${unknown.join(', ')}${taken.length > 0 ? `; it takes ${taken.join(', ')}` : ''}`);
  const ids = params.getAll('node_id');
  if (ids.length === 0) return { json };
  if (ids.length > 1) return text(400, 'node_id is given more than once');
  const nodeId = ids[0] as string;
  if (!/^[1-9]\d{0,14}$/.test(nodeId)) return text(400, `node_id must be a node id (a positive whole number), not ${JSON.stringify(nodeId)}`);
  return { json, nodeId: Number(nodeId) };
}
