import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, authenticationRequired } from './auth.js';
import { checkCrumb } from './crumbs.js';
import type { FaultPlan } from './faults.js';
import { drain, failurePage, HttpError, jettyErrorPage, JenkinsFailure, readParameters, reasonPhrase, type Reply } from './http-kit.js';
import { findRoute, type Match, type Route } from './router.js';
import type { JenkinsState } from './state.js';

export interface Dispatcher {
  routes: Route[];
  state: JenkinsState;
  faults: FaultPlan;
  /** '' or e.g. '/jenkins'. */
  contextPath: string;
  /** http://127.0.0.1:<port>, for a request without a Host header. */
  origin: string;
}

/**
 * One request, in the order Jenkins' filter chain takes it: count it, answer
 * a scheduled failure if one is due, check basic auth (401), the crumb of a
 * POST (403), that the caller is not anonymous (403), then route it (404,
 * 405) and run the handler. Errors come back as Jenkins shows them.
 */
export async function dispatch(d: Dispatcher, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', d.origin);
  const inside = url.pathname === d.contextPath || url.pathname.startsWith(`${d.contextPath}/`);
  const path = inside ? url.pathname.slice(d.contextPath.length) || '/' : url.pathname;
  const match: Match<Route> = inside ? findRoute(d.routes, method, path) : { kind: 'none' };
  const route = match.kind === 'route' ? `${method} ${match.route.template}` : `${method} ${path}`;
  d.faults.count(route);
  const caller = { user: 'anonymous' };
  let reply: Reply | 'reset' | 'hang';
  try {
    const failure = d.faults.take(route);
    if (failure === undefined) {
      reply = await answer(d, req, url, match, caller);
    } else {
      await drain(req);
      reply = typeof failure === 'number' ? errorReply(new HttpError(failure, reasonPhrase(failure)), url) : failure;
    }
  } catch (error) {
    await drain(req);
    reply = errorReply(error, url);
  }
  d.faults.record({ at: d.state.now(), method, path, route, status: typeof reply === 'object' ? reply.status : 0, user: caller.user });
  if (reply === 'reset') {
    req.socket.destroy();
    return;
  }
  // A hung request is answered never; closing the simulator (or down()) drops its connection.
  if (reply === 'hang') return;
  writeReply(res, reply);
}

async function answer(d: Dispatcher, req: IncomingMessage, url: URL, match: Match<Route>, caller: { user: string }): Promise<Reply> {
  const who = authenticate(d.state, req);
  if (who.kind === 'user') caller.user = who.name;
  const form = await readParameters(req, url);
  if (req.method === 'POST') checkCrumb(d.state, req, form, caller.user, who.kind === 'user');
  if (who.kind === 'anonymous') throw authenticationRequired();
  if (match.kind === 'none') throw new HttpError(404, 'Not Found');
  // @RequirePOST answers a GET with 405; Stapler does the same for a POST to a page.
  if (match.kind === 'method-not-allowed') throw new HttpError(405, 'Method Not Allowed');
  const root = `http://${req.headers.host ?? new URL(d.origin).host}${d.contextPath}`;
  return match.route.handle({ req, url, params: match.params, form, state: d.state, user: caller.user, root });
}

function errorReply(error: unknown, url: URL): Reply {
  if (error instanceof HttpError) {
    return { status: error.status, headers: error.headers, body: jettyErrorPage(error.status, error.message, url.pathname) };
  }
  if (error instanceof JenkinsFailure) return failurePage(error.message);
  // Jenkins' "Oops!" page for an exception out of a web method.
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: jettyErrorPage(500, `Server Error: ${message}`, url.pathname) };
}

function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  let payload = Buffer.alloc(0);
  if (reply.body !== undefined) {
    const isText = typeof reply.body === 'string';
    payload = Buffer.from(isText ? (reply.body as string) : JSON.stringify(reply.body), 'utf8');
    headers['Content-Type'] = isText ? 'text/html;charset=utf-8' : 'application/json;charset=utf-8';
  }
  headers['Content-Length'] = String(payload.length);
  res.writeHead(reply.status, headers);
  res.end(payload);
}
