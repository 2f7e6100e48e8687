import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';

/** The services behind the one HTTP server, by path prefix. */
export type Service = 'identity' | 'compute' | 'image' | 'network';

/** What a handler answers; the dispatcher writes it (and may trickle it slowly). */
export interface Reply {
  status: number;
  /** Serialized as JSON unless it is a string. */
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

/**
 * An error the handler wants shown to the client in its service's shape.
 * `kind` names the Neutron exception type; `retryAfter` (seconds) becomes a
 * header and Nova's `retryAfter`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: { kind?: string; retryAfter?: number; headers?: Record<string, string>; routeMissing?: boolean } = {},
  ) {
    super(message);
  }
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body, headers };
}

export function noContent(headers?: Record<string, string>): Reply {
  return { status: 204, headers };
}

/** Reads the rest of the request so an early answer does not break the client's upload. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await Promise.race([once(req, 'end'), once(req, 'close')]).catch(() => undefined);
}

const MAX_JSON_BYTES = 1024 * 1024;

/**
 * The JSON body, or undefined when there is none. Too large -> 413, not JSON
 * -> 400 with the service's own wording.
 */
export async function readJson(req: IncomingMessage, malformedMessage: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) {
      await drain(req);
      throw new ApiError(413, 'Request is too large.');
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, malformedMessage);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** All values of a query parameter, as Neutron and Glance read repeated keys. */
export function queryAll(url: URL, key: string): string[] {
  return url.searchParams.getAll(key);
}
