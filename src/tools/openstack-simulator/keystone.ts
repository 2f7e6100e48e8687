import { ApiError, isRecord, json, noContent, readJson, type Reply } from './http-kit.js';
import { DEFAULT_DOMAIN, type ApplicationCredential, type Project, type Token, type User } from './identity-store.js';
import type { CatalogEntry } from './catalog.js';
import type { RequestContext, Route } from './router.js';
import { keystoneTime } from './time-format.js';

const UNAUTHORIZED = 'The request you have made requires authentication.';

/** Keystone v3: discovery, POST/GET/DELETE /v3/auth/tokens. */
export function keystoneRoutes(catalog: () => CatalogEntry[]): Route[] {
  const route = (method: string, template: string, handle: Route['handle']): Route =>
    ({ service: 'identity', method, template, auth: false, handle });
  return [
    route('GET', '/identity', versions),
    route('GET', '/identity/', versions),
    route('GET', '/identity/v3', version),
    route('GET', '/identity/v3/', version),
    route('POST', '/identity/v3/auth/tokens', (ctx) => issueToken(ctx, catalog())),
    route('GET', '/identity/v3/auth/tokens', (ctx) => validateToken(ctx, catalog())),
    route('DELETE', '/identity/v3/auth/tokens', revokeToken),
  ];
}

function versionDocument(ctx: RequestContext): Record<string, unknown> {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${ctx.endpoints.identity}/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

function versions(ctx: RequestContext): Reply {
  return json(300, { versions: { values: [versionDocument(ctx)] } }, { Location: `${ctx.endpoints.identity}/` });
}

function version(ctx: RequestContext): Reply {
  return json(200, { version: versionDocument(ctx) });
}

async function issueToken(ctx: RequestContext, catalog: CatalogEntry[]): Promise<Reply> {
  const body = await readJson(ctx.req, 'Malformed JSON in request body');
  const auth = isRecord(body) ? body.auth : undefined;
  if (!isRecord(auth)) throw new ApiError(400, "'auth' is a required property");
  const identity = auth.identity;
  if (!isRecord(identity)) throw new ApiError(400, "Invalid input for field 'auth': 'identity' is a required property");
  const methods = identity.methods;
  if (!Array.isArray(methods) || methods.length === 0) {
    throw new ApiError(400, "Invalid input for field 'auth/identity': 'methods' is a required property");
  }
  const { state } = ctx;
  const now = state.now();
  let user: User;
  let project: Project;
  let credential: ApplicationCredential | undefined;
  if (methods[0] === 'password' && methods.length === 1) {
    user = passwordUser(ctx, identity.password);
    project = scopedProject(ctx, auth.scope, user);
  } else if (methods[0] === 'application_credential' && methods.length === 1) {
    if (auth.scope !== undefined) throw new ApiError(401, UNAUTHORIZED);
    credential = applicationCredential(ctx, identity.application_credential);
    user = credential.user;
    project = user.project;
  } else {
    throw new ApiError(401, UNAUTHORIZED);
  }
  const token = state.identity.issue({
    user, project, methods: [methods[0] as string], issuedAt: now,
    expiresAt: now + state.behaviour.tokenLifetimeSeconds * 1000, applicationCredential: credential,
  });
  return json(201, tokenBody(token, catalog), { 'X-Subject-Token': token.id });
}

function passwordUser(ctx: RequestContext, password: unknown): User {
  const given = isRecord(password) ? password.user : undefined;
  if (!isRecord(given)) throw new ApiError(400, "Invalid input for field 'auth/identity/password': 'user' is a required property");
  const users = [...ctx.state.identity.users.values()];
  let user: User | undefined;
  if (typeof given.id === 'string') {
    user = users.find((u) => u.id === given.id);
  } else if (typeof given.name === 'string') {
    if (!isDefaultDomain(given.domain)) throw new ApiError(401, UNAUTHORIZED);
    user = users.find((u) => u.name === given.name);
  } else {
    throw new ApiError(400, 'Expecting to find id or name in user - the server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
  }
  if (!user || user.password !== given.password) throw new ApiError(401, UNAUTHORIZED);
  return user;
}

/** Project scope by id or by name and domain; no scope means the user's default project. */
function scopedProject(ctx: RequestContext, scope: unknown, user: User): Project {
  if (scope === undefined) return user.project;
  const project = isRecord(scope) ? scope.project : undefined;
  if (!isRecord(project)) throw new ApiError(401, UNAUTHORIZED);
  const matches =
    typeof project.id === 'string'
      ? project.id === user.project.id
      : project.name === user.project.name && isDefaultDomain(project.domain);
  if (!matches) throw new ApiError(401, UNAUTHORIZED);
  return user.project;
}

function applicationCredential(ctx: RequestContext, given: unknown): ApplicationCredential {
  if (!isRecord(given)) {
    throw new ApiError(400, "Invalid input for field 'auth/identity': 'application_credential' is a required property");
  }
  const all = [...ctx.state.identity.applicationCredentials.values()];
  let found: ApplicationCredential | undefined;
  if (typeof given.id === 'string') {
    found = all.find((c) => c.id === given.id);
  } else if (typeof given.name === 'string' && isRecord(given.user)) {
    const owner = given.user;
    found = all.find((c) => c.name === given.name && (c.user.id === owner.id || (c.user.name === owner.name && isDefaultDomain(owner.domain))));
  }
  if (!found || found.secret !== given.secret) throw new ApiError(401, UNAUTHORIZED);
  return found;
}

function isDefaultDomain(domain: unknown): boolean {
  if (!isRecord(domain)) return false;
  return domain.id === DEFAULT_DOMAIN.id || domain.name === DEFAULT_DOMAIN.name;
}

/** keystone/common/render_token.py for a project-scoped token. */
export function tokenBody(token: Token, catalog: CatalogEntry[]): Record<string, unknown> {
  const body: Record<string, unknown> = {
    methods: token.methods,
    user: {
      domain: { ...DEFAULT_DOMAIN },
      id: token.user.id,
      name: token.user.name,
      password_expires_at: null,
    },
    audit_ids: [token.auditId],
    expires_at: keystoneTime(token.expiresAt),
    issued_at: keystoneTime(token.issuedAt),
    project: { domain: { ...DEFAULT_DOMAIN }, id: token.project.id, name: token.project.name },
    is_domain: false,
    roles: token.user.roles.map((r) => ({ id: r.id, name: r.name })),
    catalog,
  };
  if (token.applicationCredential) {
    body.application_credential = { id: token.applicationCredential.id, name: token.applicationCredential.name, restricted: true };
  }
  return { token: body };
}

function callerAndSubject(ctx: RequestContext): { subject: Token } {
  const now = ctx.state.now();
  const caller = ctx.state.identity.valid(header(ctx, 'x-auth-token'), now);
  if (!caller) throw new ApiError(401, UNAUTHORIZED);
  const subject = ctx.state.identity.valid(header(ctx, 'x-subject-token'), now);
  if (!subject) throw new ApiError(404, `Could not find token: ${header(ctx, 'x-subject-token') ?? ''}.`);
  return { subject };
}

function validateToken(ctx: RequestContext, catalog: CatalogEntry[]): Reply {
  const { subject } = callerAndSubject(ctx);
  return json(200, tokenBody(subject, catalog), { 'X-Subject-Token': subject.id });
}

function revokeToken(ctx: RequestContext): Reply {
  const { subject } = callerAndSubject(ctx);
  ctx.state.identity.revoke(subject.id);
  return noContent();
}

function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
