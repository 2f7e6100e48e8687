/**
 * An authenticated conversation with one OpenStack cloud: a Keystone v3 token
 * kept until shortly before it expires, the service endpoints from its
 * catalog, and requests that turn the cloud's answers into DriverErrors.
 *
 * Retrying is undici's RetryAgent: 413, 429 (honouring Retry-After), 5xx and
 * connection errors are retried with back-off for the idempotent methods,
 * all within the provider's api-timeout. A 401 re-authenticates once.
 */
import type { Agent, Dispatcher, Response, fetch as undiciFetch } from 'undici';
import { DriverError, type DriverErrorKind } from '../driver.js';
import type { OpenStackConnection } from './connection.js';

export type ServiceType = 'compute' | 'image' | 'network';

/** Renew the token this long before Keystone says it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;
/** Nova's microversion: 2.37+ requires `networks`, which the driver always sends. */
export const COMPUTE_MICROVERSION = '2.79';
const RETRIED_STATUSES = [413, 429, 500, 502, 503, 504];

interface Token {
  value: string;
  expiresAt: number;
  issuedAt: number;
  projectId?: string;
  endpoints: Map<ServiceType, string>;
}

export interface RequestOptions {
  /** JSON body, or a stream/iterable for an upload. */
  body?: unknown;
  stream?: AsyncIterable<Uint8Array>;
  headers?: Record<string, string>;
  /** Statuses that are not errors; default any 2xx. */
  accept?: (status: number) => boolean;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** The cloud's own words from an error body: Nova, Keystone, Glance and Neutron each wrap them differently. */
export function cloudMessage(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (typeof body.message === 'string') return body.message;
    for (const value of Object.values(body)) {
      if (value && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
        return (value as { message: string }).message;
      }
    }
    if (typeof body.title === 'string') return body.title;
  } catch {
    // Not JSON: Glance answers some errors with HTML or plain text.
  }
  const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > 300 ? `${plain.slice(0, 300)}...` : plain;
}

function kindOf(status: number, message: string): DriverErrorKind {
  if (status === 401) return 'auth';
  // Nova refuses too many metadata items with a 403; no retry will ever make that request fit.
  if (status === 403 && /metadata items/i.test(message)) return 'bad-request';
  if (status === 403) return /quota|limit/i.test(message) ? 'quota' : 'auth';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 413 || status === 429) return 'rate-limited';
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'bad-request';
  return 'unknown';
}

/** The HTTP client of a session, made at its first call. */
interface Http {
  agent: Agent;
  retrying: Dispatcher;
  fetch: typeof undiciFetch;
}

export class OpenStackSession {
  private token: Token | undefined;
  private authenticating: Promise<Token> | undefined;
  private http: Promise<Http> | undefined;

  constructor(
    private readonly connection: OpenStackConnection,
    private readonly provider: string,
  ) {}

  /**
   * undici is loaded at the first call, not with the driver: a daemon whose
   * providers are all simulated clouds never holds its HTTP parser's memory.
   */
  private client(): Promise<Http> {
    this.http ??= import('undici').then(({ Agent, RetryAgent, fetch }) => {
      const { connection } = this;
      const agent = new Agent({
        connect: { rejectUnauthorized: connection.verify, ...(connection.ca ? { ca: connection.ca } : {}) },
      });
      const retrying = new RetryAgent(agent, {
        maxRetries: 6,
        minTimeout: 250,
        maxTimeout: Math.max(1000, connection.apiTimeoutMs / 4),
        timeoutFactor: 2,
        retryAfter: true,
        methods: ['GET', 'HEAD', 'DELETE'],
        statusCodes: RETRIED_STATUSES,
        // The last answer is returned rather than thrown, so its status and message reach the error.
        throwOnError: false,
      });
      return { agent, retrying, fetch };
    });
    return this.http;
  }

  /** The project the token is scoped to (quota calls need its id). */
  async projectId(): Promise<string> {
    const token = await this.currentToken();
    if (!token.projectId) throw this.error('identity', 'the token is not scoped to a project', 'auth');
    return token.projectId;
  }

  async endpoint(service: ServiceType): Promise<string> {
    const url = (await this.currentToken()).endpoints.get(service);
    if (!url) {
      const where = `${this.connection.interface} interface${this.connection.regionName ? ` in region ${this.connection.regionName}` : ''}`;
      throw this.error(service, `the catalog has no ${service} endpoint for the ${where}`, 'unavailable');
    }
    return url.replace(/\/+$/, '');
  }

  /** One API call: JSON in and out, the token attached, a 401 answered by one new login. */
  async request<T>(service: ServiceType, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    let response = await this.send(service, method, path, options, await this.currentToken());
    if (response.status === 401 && !options.stream) {
      await response.body?.cancel();
      this.token = undefined;
      response = await this.send(service, method, path, options, await this.currentToken());
    }
    const text = await response.text();
    const accepted = options.accept ? options.accept(response.status) : response.status >= 200 && response.status < 300;
    if (!accepted) {
      const message = cloudMessage(text) || response.statusText;
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new DriverError(kindOf(response.status, message), `${this.provider}: ${service} ${method} ${path}: ${response.status} ${message}`, {
        provider: this.provider,
        service,
        status: response.status,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      });
    }
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: response.status, headers: response.headers as unknown as Headers, body: body as T };
  }

  async close(): Promise<void> {
    if (this.http) await (await this.http).retrying.close();
  }

  private async send(service: ServiceType, method: string, path: string, options: RequestOptions, token: Token): Promise<Response> {
    const url = `${await this.endpoint(service)}${path}`;
    const headers: Record<string, string> = { Accept: 'application/json', 'X-Auth-Token': token.value, ...options.headers };
    if (service === 'compute') headers['OpenStack-API-Version'] = `compute ${COMPUTE_MICROVERSION}`;
    let body: string | AsyncIterable<Uint8Array> | undefined;
    if (options.stream) {
      body = options.stream;
      headers['Content-Type'] ??= 'application/octet-stream';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = 'application/json';
    }
    const http = await this.client();
    try {
      return await http.fetch(url, {
        method,
        headers,
        body,
        // A streamed upload cannot be replayed: it goes out once, without the retrying agent.
        dispatcher: options.stream ? http.agent : http.retrying,
        signal: AbortSignal.timeout(this.connection.apiTimeoutMs),
        ...(options.stream ? { duplex: 'half' as const } : {}),
      });
    } catch (err) {
      throw this.connectionError(service, method, path, err);
    }
  }

  private currentToken(): Promise<Token> {
    const token = this.token;
    if (token && Date.now() < token.expiresAt - Math.min(TOKEN_MARGIN_MS, (token.expiresAt - token.issuedAt) / 4)) {
      return Promise.resolve(token);
    }
    this.authenticating ??= this.authenticate().finally(() => {
      this.authenticating = undefined;
    });
    return this.authenticating;
  }

  private async authenticate(): Promise<Token> {
    const { connection } = this;
    const url = `${connection.authUrl}/auth/tokens`;
    let response: Response;
    const http = await this.client();
    try {
      response = await http.fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(authRequest(connection)),
        dispatcher: http.retrying,
        signal: AbortSignal.timeout(connection.apiTimeoutMs),
      });
    } catch (err) {
      throw this.connectionError('identity', 'POST', '/auth/tokens', err);
    }
    const text = await response.text();
    if (response.status !== 201 && response.status !== 200) {
      const message = cloudMessage(text) || response.statusText;
      const kind = response.status === 401 || response.status === 403 ? 'auth' : kindOf(response.status, message);
      throw new DriverError(kind, `${this.provider}: identity login at ${connection.authUrl} (${connection.source}): ${response.status} ${message}`, {
        provider: this.provider,
        service: 'identity',
        status: response.status,
      });
    }
    const value = response.headers.get('x-subject-token');
    if (!value) throw this.error('identity', 'Keystone answered without an X-Subject-Token header', 'auth');
    const body = JSON.parse(text) as KeystoneTokenBody;
    const endpoints = new Map<ServiceType, string>();
    for (const entry of body.token.catalog ?? []) {
      if (entry.type !== 'compute' && entry.type !== 'image' && entry.type !== 'network') continue;
      const endpoint = entry.endpoints.find(
        (e) =>
          e.interface === connection.interface &&
          (connection.regionName === undefined || e.region_id === connection.regionName || e.region === connection.regionName),
      );
      if (endpoint) endpoints.set(entry.type, endpoint.url);
    }
    const issuedAt = Date.parse(body.token.issued_at ?? '') || Date.now();
    const expiresAt = Date.parse(body.token.expires_at) || Date.now() + 3_600_000;
    this.token = { value, issuedAt, expiresAt, projectId: body.token.project?.id, endpoints };
    return this.token;
  }

  private error(service: string, message: string, kind: DriverErrorKind): DriverError {
    return new DriverError(kind, `${this.provider}: ${service}: ${message}`, { provider: this.provider, service });
  }

  private connectionError(service: string, method: string, path: string, err: unknown): DriverError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const timedOut = (err as Error).name === 'TimeoutError';
    const reason = timedOut
      ? `no answer within the api-timeout of ${this.connection.apiTimeoutMs / 1000} s`
      : (cause?.code ?? cause?.message ?? (err as Error).message);
    return new DriverError('unavailable', `${this.provider}: ${service} ${method} ${path}: ${reason}`, { provider: this.provider, service });
  }
}

interface KeystoneTokenBody {
  token: {
    expires_at: string;
    issued_at?: string;
    project?: { id: string };
    catalog?: { type: string; endpoints: { interface: string; region_id?: string; region?: string; url: string }[] }[];
  };
}

/** The body of POST /v3/auth/tokens (Keystone API reference, "Password authentication with scoped authorization"). */
export function authRequest(connection: OpenStackConnection): unknown {
  const { method, scope } = connection;
  const domain = (name?: string, id?: string) => (id ? { id } : name ? { name } : undefined);
  const user = (m: { username?: string; userId?: string; userDomainName?: string; userDomainId?: string }) =>
    m.userId ? { id: m.userId } : { name: m.username, domain: domain(m.userDomainName, m.userDomainId) };
  if (method.kind === 'application_credential') {
    const credential = method.id ? { id: method.id, secret: method.secret } : { name: method.name, secret: method.secret, user: user(method) };
    return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
  }
  const identity = { methods: ['password'], password: { user: { ...user(method), password: method.password } } };
  if (!scope || (!scope.projectId && !scope.projectName)) return { auth: { identity } };
  const project = scope.projectId
    ? { id: scope.projectId }
    : { name: scope.projectName, domain: domain(scope.projectDomainName, scope.projectDomainId) };
  return { auth: { identity, scope: { project } } };
}
