/**
 * The status web server of nodepoold and nodepool-builder (docs/web.md).
 * Plain node:http: a handful of read-only GET routes need no framework, and
 * nothing here should add a dependency to a daemon that runs for months.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Label, Provider } from '../config/types.js';
import { NodepoolError } from '../core/errors.js';
import type { Repositories } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { ListingPages, type ListingName } from './listing-pages.js';
import { NODEPOOLD_LISTINGS } from './page-sets.js';
import type { ReadinessProbe } from './readiness.js';
import type { InspectorApi } from './inspector-api.js';
import { pageAssets } from './page-assets.js';
import { route, type MetricsSource } from './routes.js';

export interface StatusServerOptions {
  listen: string;
  /** 0: any free port (the one taken is logged and in `address`). */
  port: number;
  db: Pick<Repositories, 'nodes' | 'builds' | 'uploads' | 'leases' | 'daemons'>;
  labels(): readonly Pick<Label, 'name' | 'minReady'>[];
  /** The configured providers, for /provider-list (it also shows those only a lease or a node names). */
  providers?(): readonly Pick<Provider, 'name' | 'maxServers'>[];
  /** The listings offered; nodepoold's (all of them) unless given. */
  offered?: readonly ListingName[];
  /** Answers /readyz; without it the server has no /readyz. */
  readiness?: ReadinessProbe;
  /** Serves /metrics when given. */
  metrics?: MetricsSource;
  /** Serves the inspector page's API (/api/...) when given. */
  inspector?: InspectorApi;
  /** What the port-in-use error tells the operator to change. */
  portSetting?: string;
  log: Logger;
  cacheMs?: number;
}

export interface StatusServer {
  readonly address: { host: string; port: number };
  readonly url: string;
  close(): Promise<void>;
}

/** Listens, or throws NP_WEBAPP_PORT_IN_USE (or NP_WEBAPP_LISTEN) naming the address it could not take. */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const listings = new ListingPages({
    db: options.db,
    labels: options.labels,
    ...(options.providers && { providers: options.providers }),
    ...(options.cacheMs !== undefined && { cacheMs: options.cacheMs }),
  });
  const deps = {
    listings,
    offered: options.offered ?? NODEPOOLD_LISTINGS,
    ...(options.readiness && { readiness: options.readiness }),
    ...(options.metrics && { metrics: options.metrics }),
    ...(options.inspector && { inspector: options.inspector, page: pageAssets() }),
  };
  const server = createServer((request, response) => {
    const { inspector } = options;
    // The event stream stays open: it is answered here, not as one reply.
    if (inspector && request.method === 'GET' && (request.url ?? '').split('?')[0] === '/api/events') {
      inspector.stream(request, response);
      return;
    }
    answer(deps, request, response).catch((err: unknown) => {
      options.log.error({ err, url: request.url }, 'a status page failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  await listen(server, options.listen, options.port, options.portSetting ?? 'webapp.port');
  const { port } = server.address() as AddressInfo;
  const address = { host: options.listen, port };
  const url = `http://${options.listen.includes(':') ? `[${options.listen}]` : options.listen}:${port}`;
  options.log.info({ address: options.listen, port, url }, `status web server listening on ${url}`);
  return {
    address,
    url,
    close: () => {
      options.inspector?.close();
      return close(server);
    },
  };
}

async function answer(deps: Parameters<typeof route>[0], request: IncomingMessage, response: ServerResponse): Promise<void> {
  const reply = await route(deps, request.method ?? 'GET', request.url ?? '/');
  response.writeHead(reply.status, {
    'content-type': reply.json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    ...reply.headers,
  });
  response.end(reply.body);
}

function listen(server: Server, host: string, port: number, portSetting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const refused = (err: NodeJS.ErrnoException) => {
      server.off('listening', listening);
      const where = `${host}:${port}`;
      if (err.code === 'EADDRINUSE') {
        reject(new NodepoolError('NP_WEBAPP_PORT_IN_USE', `the status web server cannot listen on ${where}: the port is in use (set ${portSetting}, or start with --no-webapp)`, { cause: err }));
      } else {
        reject(new NodepoolError('NP_WEBAPP_LISTEN', `the status web server cannot listen on ${where}: ${err.message}`, { cause: err }));
      }
    };
    const listening = () => {
      server.off('error', refused);
      resolve();
    };
    server.once('error', refused);
    server.once('listening', listening);
    server.listen(port, host);
  });
}

/** Stops listening and ends kept-alive connections, so the daemon's stop never waits on an idle browser tab. */
function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
