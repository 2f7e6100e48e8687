import type { IncomingMessage } from 'node:http';
import type { Reply } from './http-kit.js';
import type { JenkinsState } from './state.js';

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  /** The path's {placeholders}, decoded. */
  params: Record<string, string>;
  /** Query string and form body, merged as the servlet API does. */
  form: URLSearchParams;
  state: JenkinsState;
  /** The authenticated user. */
  user: string;
  /** Jenkins' root URL without the trailing slash, context path included: Locations are built on it. */
  root: string;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Path below the context path with {name} placeholders, e.g. /computer/{name}/api/json. */
  template: string;
  handle(ctx: RequestContext): Promise<Reply> | Reply;
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
      try {
        params[w.slice(1, -1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
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

/** Routes are tried in order, so literal paths (/computer/api/json) come before {name}. */
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
