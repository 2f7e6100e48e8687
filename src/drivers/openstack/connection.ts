/**
 * Where an OpenStack provider's cloud is and how to log in to it: from the
 * provider's `cloud:` entry in clouds.yaml (looked up as the OpenStack
 * clients do) or from the inline keys of nodepool 0.4 (username, password,
 * project-id / project-name, auth-url).
 */
import { readFileSync } from 'node:fs';
import { findCloudsYaml, loadCloudsYaml, type CloudsLookup } from '../../config/clouds.js';
import type { Provider } from '../../config/types.js';
import { DriverError } from '../driver.js';

export type AuthMethod =
  | {
      kind: 'password';
      username?: string;
      userId?: string;
      password: string;
      userDomainName?: string;
      userDomainId?: string;
    }
  | {
      kind: 'application_credential';
      id?: string;
      name?: string;
      secret: string;
      /** Needed with `name`: the credential's owner. */
      username?: string;
      userId?: string;
      userDomainName?: string;
    };

export interface ProjectScope {
  projectId?: string;
  projectName?: string;
  projectDomainName?: string;
  projectDomainId?: string;
}

export interface OpenStackConnection {
  /** Keystone v3, ending in `/v3`. */
  authUrl: string;
  method: AuthMethod;
  /** None for an application credential (it carries its project). */
  scope?: ProjectScope;
  regionName?: string;
  /** Catalog interface: public (default), internal or admin. */
  interface: string;
  /** TLS: verify the server's certificate (default), with an extra CA when given. */
  verify: boolean;
  ca?: string;
  /** Each API call, retries included, must finish within this. */
  apiTimeoutMs: number;
  /** Where the settings came from, for messages. */
  source: string;
}

const DEFAULT_API_TIMEOUT_MS = 60_000;

function configError(provider: Provider, message: string): DriverError {
  return new DriverError('auth', `provider ${provider.name}: ${message}`, { provider: provider.name, service: 'identity' });
}

/** Keystone's v3 root, whatever form the configuration gave (bare host, /v2.0, /v3). */
export function identityV3Url(authUrl: string): string {
  const bare = authUrl.replace(/\/+$/, '');
  if (bare.endsWith('/v3')) return bare;
  return `${bare.replace(/\/v2\.0$/, '')}/v3`;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export function connectionFor(provider: Provider, lookup: CloudsLookup = {}): OpenStackConnection {
  const apiTimeoutMs = provider.apiTimeout !== undefined ? provider.apiTimeout * 1000 : DEFAULT_API_TIMEOUT_MS;
  if (provider.cloud !== undefined) return fromCloudsYaml(provider, provider.cloud, lookup, apiTimeoutMs);
  if (!provider.authUrl || !provider.username || provider.password === undefined) {
    throw configError(provider, 'no credentials: set `cloud:` (an entry of clouds.yaml) or username, password, project and auth-url');
  }
  return {
    authUrl: identityV3Url(provider.authUrl),
    method: { kind: 'password', username: provider.username, password: provider.password, userDomainName: 'Default' },
    scope: { projectId: provider.projectId, projectName: provider.projectName, projectDomainName: 'Default' },
    regionName: provider.regionName,
    interface: 'public',
    verify: true,
    apiTimeoutMs,
    source: 'nodepool.yaml',
  };
}

function fromCloudsYaml(provider: Provider, cloud: string, lookup: CloudsLookup, apiTimeoutMs: number): OpenStackConnection {
  const file = findCloudsYaml(lookup);
  if (!file) throw configError(provider, `cloud ${cloud}: no clouds.yaml found (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml)`);
  const entry = loadCloudsYaml(file)[cloud];
  if (!entry) throw configError(provider, `cloud ${cloud} is not in ${file}`);
  const version = String(entry.identity_api_version ?? '3');
  if (!version.startsWith('3')) throw configError(provider, `cloud ${cloud} in ${file}: identity_api_version ${version}; only Keystone v3 is supported`);
  const auth = entry.auth ?? {};
  const authUrl = str(auth.auth_url);
  if (!authUrl) throw configError(provider, `cloud ${cloud} in ${file}: auth.auth_url is missing`);
  const authType = str(entry.auth_type) ?? 'password';
  const domain = {
    userDomainName: str(auth.user_domain_name) ?? str(auth.domain_name) ?? (str(auth.user_domain_id) ? undefined : 'Default'),
    userDomainId: str(auth.user_domain_id),
  };
  let method: AuthMethod;
  let scope: ProjectScope | undefined;
  if (authType === 'v3applicationcredential' || authType === 'application_credential') {
    const secret = str(auth.application_credential_secret);
    const id = str(auth.application_credential_id);
    const name = str(auth.application_credential_name);
    if (!secret || (!id && !name)) {
      throw configError(provider, `cloud ${cloud} in ${file}: an application credential needs application_credential_secret and its id (or name and user)`);
    }
    method = { kind: 'application_credential', id, name, secret, username: str(auth.username), userId: str(auth.user_id), userDomainName: domain.userDomainName };
  } else if (authType === 'password' || authType === 'v3password') {
    const password = str(auth.password);
    if (password === undefined || (!str(auth.username) && !str(auth.user_id))) {
      throw configError(provider, `cloud ${cloud} in ${file}: password auth needs auth.username (or user_id) and auth.password`);
    }
    method = { kind: 'password', username: str(auth.username), userId: str(auth.user_id), password, ...domain };
    scope = {
      projectId: str(auth.project_id),
      projectName: str(auth.project_name),
      projectDomainName: str(auth.project_domain_name) ?? (str(auth.project_domain_id) ? undefined : 'Default'),
      projectDomainId: str(auth.project_domain_id),
    };
  } else {
    throw configError(provider, `cloud ${cloud} in ${file}: auth_type ${authType} is not supported (password or v3applicationcredential)`);
  }
  const verify = entry.verify !== false;
  let ca: string | undefined;
  if (typeof entry.cacert === 'string') {
    try {
      ca = readFileSync(entry.cacert, 'utf8');
    } catch (err) {
      throw configError(provider, `cloud ${cloud} in ${file}: cacert ${entry.cacert} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  return {
    authUrl: identityV3Url(authUrl),
    method,
    scope,
    regionName: provider.regionName ?? str(entry.region_name),
    interface: (str(entry.interface) ?? 'public').replace(/URL$/, ''),
    verify,
    ca,
    apiTimeoutMs,
    source: `${file} (cloud ${cloud})`,
  };
}
