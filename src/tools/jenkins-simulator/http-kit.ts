import { once } from 'node:events';
import { STATUS_CODES, type IncomingMessage } from 'node:http';

/** What a handler answers; the dispatcher writes it. */
export interface Reply {
  status: number;
  /** Serialized as JSON unless it is a string (then sent as HTML). */
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * An answer Jenkins gives through Jetty's `sendError(status, message)`: the
 * crumb filter's 403, basic auth's 401, Stapler's 404 and 405.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * hudson.model.Failure (and Descriptor.FormException): Jenkins renders its
 * error page with status 400 and the message in an X-Error header.
 */
export class JenkinsFailure extends Error {}

export function json(body: unknown, status = 200, headers?: Record<string, string>): Reply {
  return { status, body, headers };
}

/** Jenkins' sendRedirect: an absolute Location. */
export function redirect(status: number, location: string): Reply {
  return { status, headers: { Location: location }, body: '' };
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Jetty's error page (ErrorHandler), the body of every sendError. */
export function jettyErrorPage(status: number, message: string, uri: string): string {
  const m = escapeHtml(message);
  return [
    '<html>', '<head>', '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
    `<title>Error ${status} ${m}</title>`, '</head>',
    `<body><h2>HTTP ERROR ${status} ${m}</h2>`, '<table>',
    `<tr><th>URI:</th><td>${escapeHtml(uri)}</td></tr>`, `<tr><th>STATUS:</th><td>${status}</td></tr>`,
    `<tr><th>MESSAGE:</th><td>${m}</td></tr>`, '<tr><th>SERVLET:</th><td>Stapler</td></tr>', '</table>', '</body>', '</html>', '',
  ].join('\n');
}

/** hudson/model/AbstractModelObject/error.jelly, reduced to what a client reads. */
export function failurePage(message: string): Reply {
  return {
    status: 400,
    // A header carries Latin-1 only: Jetty writes other characters (Jenkins' ‘quotes’) as '?'.
    headers: { 'X-Error': message.replace(/[^\x20-\x7e\xa0-\xff]/g, '?') },
    body: `<!DOCTYPE html><html><head><title>Jenkins</title></head><body><div id="main-panel"><h1>Error</h1><p>${escapeHtml(message)}</p></div></body></html>\n`,
  };
}

export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? `HTTP ${status}`;
}

/** Reads the rest of the request so an early answer does not break the client's upload. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await Promise.race([once(req, 'end'), once(req, 'close')]).catch(() => undefined);
}

const MAX_FORM_BYTES = 1024 * 1024;

/**
 * The request's parameters as the servlet API merges them: the query
 * string first, then an application/x-www-form-urlencoded body. Stapler's
 * `@QueryParameter` and `getParameter` read both.
 */
export async function readParameters(req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const params = new URLSearchParams(url.searchParams);
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    await drain(req);
    return params;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new HttpError(413, 'Form too large');
    chunks.push(chunk);
  }
  for (const [key, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.append(key, value);
  return params;
}
