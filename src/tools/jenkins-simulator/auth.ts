/**
 * HTTP basic auth with a user's API token, as jenkins.security.BasicHeaderProcessor
 * does it: wrong credentials are refused at once with 401 and a Basic
 * challenge (SecurityRealm sets the realm "Jenkins"); a request without
 * credentials goes on as anonymous, who may read nothing here.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-kit.js';
import type { JenkinsState } from './state.js';

export type Caller = { kind: 'anonymous' } | { kind: 'user'; name: string };

const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="Jenkins"' };

export function authenticate(state: JenkinsState, req: IncomingMessage): Caller {
  const header = req.headers.authorization;
  if (header === undefined || !header.toLowerCase().startsWith('basic ')) return { kind: 'anonymous' };
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new HttpError(401, 'Malformed HTTP basic Authorization header', CHALLENGE);
  const name = decoded.slice(0, colon);
  const token = decoded.slice(colon + 1);
  if (state.users.get(name) !== token) throw new HttpError(401, `Invalid password/token for user: ${name}`, CHALLENGE);
  return { kind: 'user', name };
}

/** HudsonAuthenticationEntryPoint: anonymous lacks Overall/Read. */
export function authenticationRequired(): HttpError {
  return new HttpError(403, 'Authentication required', {
    'X-You-Are-Authenticated-As': 'anonymous',
    'X-Required-Permission': 'hudson.model.Hudson.Read',
  });
}
