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

// Literal paths (/computer/api/json) come before {name}: the routes are listed in that order.
export { findRoute, matchTemplate, type Match } from '../route-match.js';
