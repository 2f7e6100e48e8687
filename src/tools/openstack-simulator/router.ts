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

export function matchTemplate(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const w = want[i] ?? '';
    const g = got[i] ?? '';
    if (w.startsWith('{') && w.endsWith('}')) {
      if (g === '') return undefined;
      params[w.slice(1, -1)] = decodeURIComponent(g);
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}

export type Match =
  | { kind: 'route'; route: Route; params: Record<string, string> }
  | { kind: 'method-not-allowed'; template: string }
  | { kind: 'none' };

/** Routes are tried in order, so literal paths (servers/detail) come before {id}. */
export function findRoute(routes: readonly Route[], method: string, path: string): Match {
  let otherMethod: string | undefined;
  for (const route of routes) {
    const params = matchTemplate(route.template, path);
    if (!params) continue;
    if (route.method === method) return { kind: 'route', route, params };
    otherMethod ??= route.template;
  }
  return otherMethod ? { kind: 'method-not-allowed', template: otherMethod } : { kind: 'none' };
}
