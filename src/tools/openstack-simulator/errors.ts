import type { IncomingMessage } from 'node:http';
import type { ApiError, Reply, Service } from './http-kit.js';

/** Python's http.client.responses, which Keystone uses for `title` (Node's differ, e.g. 413). */
const PYTHON_TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** WebOb's default explanations (webob/exc.py 1.8), used when a failure is injected without a message. */
const WEBOB_EXPLANATIONS: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  401: 'This server could not verify that you are authorized to access the document you requested.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  409: 'There was a conflict when trying to complete your request.',
  413: 'The body of your request was too large for this server.',
  429: 'The client has sent too many requests in a given amount of time',
  500: 'The server has either erred or is incapable of performing the requested operation.',
  502: 'Bad gateway.',
  503: 'The server is currently unavailable. Please try again at a later time.',
  504: 'The gateway has timed out.',
};

/** nova/api/openstack/wsgi.py Fault._fault_names; anything else is computeFault. */
const NOVA_FAULT_NAMES: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod',
  409: 'conflictingRequest', 413: 'overLimit', 415: 'badMediaType', 429: 'overLimit', 501: 'notImplemented',
  503: 'serviceUnavailable',
};

const KEYSTONE_MESSAGES: Record<number, string> = {
  401: 'The request you have made requires authentication.',
  500: 'An unexpected error prevented the server from fulfilling your request.',
};

export function defaultMessage(service: Service, status: number): string {
  if (service === 'identity' && KEYSTONE_MESSAGES[status]) return KEYSTONE_MESSAGES[status];
  if (service === 'network' && status === 500) return 'Request Failed: internal server error while processing your request.';
  return WEBOB_EXPLANATIONS[status] ?? PYTHON_TITLES[status] ?? `HTTP ${status}`;
}

export function pythonTitle(status: number): string {
  return PYTHON_TITLES[status] ?? `HTTP ${status}`;
}

/** keystonemiddleware's auth_token answer, the same in front of Nova, Glance and Neutron. */
export function tokenMiddlewareRejection(identityUrl: string): Reply {
  return {
    status: 401,
    body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } },
    headers: { 'WWW-Authenticate': `Keystone uri="${identityUrl}"` },
  };
}

export interface RenderContext {
  req: IncomingMessage;
  identityUrl: string;
}

/** The error body each service really sends for this status. */
export function renderError(service: Service, error: ApiError, context: RenderContext): Reply {
  const headers: Record<string, string> = { ...error.extra.headers };
  if (error.extra.retryAfter !== undefined) headers['Retry-After'] = String(error.extra.retryAfter);
  if (error.status === 401 && service !== 'identity') {
    const reply = tokenMiddlewareRejection(context.identityUrl);
    return { ...reply, headers: { ...reply.headers, ...headers } };
  }
  switch (service) {
    case 'compute':
      return { status: error.status, body: novaFault(error), headers };
    case 'identity':
      if (error.status === 401) headers['WWW-Authenticate'] = `Keystone uri="${context.identityUrl}"`;
      return {
        status: error.status,
        body: { error: { code: error.status, title: pythonTitle(error.status), message: error.message } },
        headers,
      };
    case 'image':
      return { ...webobError(error.status, error.message, context.req.headers.accept), headers };
    case 'network':
      if (error.extra.routeMissing) return { ...webobError(error.status, error.message, context.req.headers.accept), headers };
      return {
        status: error.status,
        body: { NeutronError: { type: error.extra.kind ?? neutronType(error.status), message: error.message, detail: '' } },
        headers,
      };
  }
}

function novaFault(error: ApiError): Record<string, unknown> {
  const name = NOVA_FAULT_NAMES[error.status] ?? 'computeFault';
  const fault: Record<string, unknown> = { code: error.status, message: error.message };
  if ((error.status === 413 || error.status === 429) && error.extra.retryAfter !== undefined) {
    fault.retryAfter = String(error.extra.retryAfter);
  }
  return { [name]: fault };
}

/** The webob exception class name Neutron reports when no neutron-lib type applies. */
function neutronType(status: number): string {
  const names: Record<number, string> = {
    400: 'HTTPBadRequest', 403: 'HTTPForbidden', 404: 'HTTPNotFound', 409: 'HTTPConflict',
    413: 'HTTPRequestEntityTooLarge', 429: 'HTTPTooManyRequests', 500: 'HTTPInternalServerError',
    503: 'HTTPServiceUnavailable',
  };
  return names[status] ?? 'HTTPInternalServerError';
}

/**
 * WebOb's own error page (Glance, and routes Neutron does not know), chosen by
 * Accept as WSGIHTTPException.generate_response does: text/html is offered
 * first, so only a client asking for JSON without HTML gets JSON.
 */
export function webobError(status: number, explanation: string, accept: string | undefined): Reply {
  const title = pythonTitle(status);
  const statusLine = `${status} ${title}`;
  const body = `${explanation}<br /><br />\n\n\n`;
  switch (preferredErrorType(accept)) {
    case 'json':
      return { status, body: { message: body, code: statusLine, title } };
    case 'html':
      return {
        status,
        contentType: 'text/html; charset=UTF-8',
        body: `<html>\n <head>\n  <title>${statusLine}</title>\n </head>\n <body>\n  <h1>${statusLine}</h1>\n  ${body}\n </body>\n</html>`,
      };
    case 'plain':
      return { status, contentType: 'text/plain; charset=UTF-8', body: `${statusLine}\n\n${explanation}\n\n\n` };
  }
}

function preferredErrorType(accept: string | undefined): 'html' | 'json' | 'plain' {
  if (accept === undefined || accept.trim() === '') return 'html';
  const q = (type: string): number => {
    let best = -1;
    for (const part of accept.split(',')) {
      const [range = '', ...params] = part.trim().split(';');
      const quality = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? '1');
      const [major, minor] = range.trim().toLowerCase().split('/');
      const [wantMajor, wantMinor] = type.split('/');
      const matches = (major === '*' || major === wantMajor) && (minor === '*' || minor === wantMinor);
      if (matches) best = Math.max(best, Number.isNaN(quality) ? 1 : quality);
    }
    return best;
  };
  const html = q('text/html');
  const json = q('application/json');
  if (html <= 0 && json <= 0) return 'plain';
  return json > html ? 'json' : 'html';
}
