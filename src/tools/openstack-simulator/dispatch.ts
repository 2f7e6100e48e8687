import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloudState } from './cloud-state.js';
import { defaultMessage, renderError, tokenMiddlewareRejection, webobError } from './errors.js';
import type { FaultPlan, FailureRule } from './faults.js';
import { ApiError, drain, type Reply, type Service } from './http-kit.js';
import { requestId } from './ids.js';
import { microversionHeaders, NOVA_MIN_MINOR, requestedMicroversion } from './nova-microversion.js';
import { findRoute, serviceOf, type Endpoints, type Match, type RequestContext, type Route } from './router.js';

export interface Dispatcher {
  routes: Route[];
  state: CloudState;
  faults: FaultPlan;
  endpoints: Endpoints;
}

const RESOURCE_NOT_FOUND = 'The resource could not be found.';

/**
 * One request, start to end: count it, wait out any latency, answer a
 * scheduled failure if one is due, check the token as keystonemiddleware
 * would, run the handler, and write the answer (slowly if asked).
 */
export async function dispatch(d: Dispatcher, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', d.endpoints.base);
  const match = findRoute(d.routes, method, url.pathname);
  const service = match.kind === 'route' ? match.route.service : serviceOf(url.pathname);
  const routeKey = match.kind === 'route' ? `${method} ${match.route.template}` : `${method} ${url.pathname}`;
  d.faults.count(routeKey);
  const version = service === 'compute' ? lenientMicroversion(req) : undefined;
  let reply: Reply | 'reset';
  try {
    await d.faults.delay(d.faults.latencyFor(routeKey));
    d.state.sweep();
    const failure = d.faults.takeFailure(routeKey);
    reply = failure ? await injected(d, req, service, failure) : await answer(d, req, url, match, service);
  } catch (error) {
    await drain(req);
    reply = errorReply(d, req, service, error);
  }
  if (reply === 'reset') {
    req.socket.destroy();
    d.faults.record({ at: d.state.now(), method, path: url.pathname, route: routeKey, status: 0 });
    return;
  }
  const headers: Record<string, string> = { 'x-openstack-request-id': requestId(), ...reply.headers };
  if (service === 'compute') {
    headers['x-compute-request-id'] = headers['x-openstack-request-id'] ?? requestId();
    // keystonemiddleware turns a bad token away before Nova's own code adds version headers.
    if (version !== undefined && reply.status !== 401) Object.assign(headers, microversionHeaders(version));
  }
  d.faults.record({ at: d.state.now(), method, path: url.pathname, route: routeKey, status: reply.status });
  await writeReply(d.faults, res, { ...reply, headers }, d.faults.slowFor(routeKey));
}

/** The microversion for the answer's headers; a bad header is reported by answer(). */
function lenientMicroversion(req: IncomingMessage): number | undefined {
  try {
    return requestedMicroversion(req.headers);
  } catch {
    return undefined;
  }
}

async function injected(d: Dispatcher, req: IncomingMessage, service: Service | undefined, failure: FailureRule): Promise<Reply | 'reset'> {
  await drain(req);
  if (failure.reset) return 'reset';
  const status = failure.status ?? 500;
  const error = new ApiError(status, failure.message ?? defaultMessage(service ?? 'image', status), { retryAfter: failure.retryAfter });
  return errorReply(d, req, service, error);
}

async function answer(d: Dispatcher, req: IncomingMessage, url: URL, match: Match<Route>, service: Service | undefined): Promise<Reply> {
  if (service === undefined) {
    await drain(req);
    return webobError(404, RESOURCE_NOT_FOUND, req.headers.accept);
  }
  const needsToken = match.kind === 'route' ? match.route.auth : service !== 'identity';
  const token = d.state.identity.valid(headerValue(req, 'x-auth-token'), d.state.now());
  if (needsToken && !token) {
    await drain(req);
    return tokenMiddlewareRejection(d.endpoints.identity);
  }
  if (match.kind !== 'route') {
    await drain(req);
    const status = match.kind === 'none' ? 404 : 405;
    const message = status === 404 ? RESOURCE_NOT_FOUND : 'The method is not allowed for the requested URL.';
    throw new ApiError(status, message, { routeMissing: true });
  }
  const ctx: RequestContext = {
    req, url, params: match.params, state: d.state, endpoints: d.endpoints, token,
    microversion: service === 'compute' ? requestedMicroversion(req.headers) : NOVA_MIN_MINOR,
  };
  const reply = await match.route.handle(ctx);
  await drain(req);
  return reply;
}

function errorReply(d: Dispatcher, req: IncomingMessage, service: Service | undefined, error: unknown): Reply {
  const context = { req, identityUrl: d.endpoints.identity };
  if (error instanceof ApiError) {
    return service ? renderError(service, error, context) : webobError(error.status, error.message, req.headers.accept);
  }
  // A client that hangs up midway (an aborted upload) is no fault of the simulator.
  if (!req.destroyed) console.error('openstack-simulator: unexpected error', error);
  const status = 500;
  const internal = new ApiError(status, defaultMessage(service ?? 'image', status));
  return service ? renderError(service, internal, context) : webobError(status, internal.message, req.headers.accept);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const SLOW_CHUNKS = 10;

async function writeReply(faults: FaultPlan, res: ServerResponse, reply: Reply, slowMs: number): Promise<void> {
  if (res.destroyed) return;
  const headers = { ...reply.headers };
  let payload: Buffer | undefined;
  if (reply.status !== 204 && reply.body !== undefined) {
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    payload = Buffer.from(text, 'utf8');
    headers['Content-Type'] = reply.contentType ?? 'application/json';
  }
  headers['Content-Length'] = String(payload?.length ?? 0);
  res.writeHead(reply.status, headers);
  if (!payload || slowMs <= 0) {
    res.end(payload);
    return;
  }
  // Headers now, the body a piece at a time: a client's read timeout has something to time.
  const step = Math.ceil(payload.length / SLOW_CHUNKS);
  for (let offset = 0; offset < payload.length; offset += step) {
    await faults.delay(slowMs / SLOW_CHUNKS);
    if (res.destroyed) return;
    res.write(payload.subarray(offset, offset + step));
  }
  res.end();
}
