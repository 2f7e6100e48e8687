import type { IncomingMessage } from 'node:http';
import type { CloudState } from './cloud-state.js';
import type { Reply, Service } from './http-kit.js';
import type { Token } from './identity-store.js';

export interface Endpoints {
  base: string;
  identity: string;
  compute: string;
  image: string;
  network: string;
}

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  state: CloudState;
  endpoints: Endpoints;
  /** Set on every route that needs X-Auth-Token. */
  token?: Token;
  /** Nova microversion minor number (2.x), compute routes only. */
  microversion: number;
}

export interface Route {
  service: Service;
  method: string;
  /** Full path with {name} placeholders, e.g. /compute/v2.1/servers/{id}. */
  template: string;
  auth: boolean;
  handle(ctx: RequestContext): Promise<Reply> | Reply;
}

/** The prefix each service is served under. */
export const SERVICE_PREFIXES: Record<Service, string> = {
  identity: '/identity',
  compute: '/compute',
  image: '/image',
  network: '/network',
};

export function serviceOf(path: string): Service | undefined {
  const first = `/${path.split('/')[1] ?? ''}`;
  return (Object.keys(SERVICE_PREFIXES) as Service[]).find((s) => SERVICE_PREFIXES[s] === first);
}

// Literal paths (servers/detail) come before {id}: the routes are listed in that order.
export { findRoute, matchTemplate, type Match } from '../route-match.js';
