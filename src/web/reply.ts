/** What a route answers: a status, a body, and whether the body is text or JSON. */
export interface Reply {
  status: number;
  /** Text, or the bytes of a file (the inspector page's). */
  body: string | Buffer;
  json?: boolean;
  headers?: Record<string, string>;
}

/** A text reply ending in a newline, as the commands print, so `curl` output equals `nodepool list` output. */
export function text(status: number, body: string): Reply {
  return { status, body: body.endsWith('\n') ? body : `${body}\n` };
}

export function json(body: string): Reply {
  return { status: 200, body: `${body}\n`, json: true };
}
