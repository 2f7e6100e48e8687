/** Where the database URI comes from, and how it is shown in logs. */
import type { NodepoolConfig, SecureConfig } from './types.js';

export type DbUriSource = 'environment' | 'secure file' | 'nodepool.yaml';

export interface DbUriInputs {
  env?: NodeJS.ProcessEnv;
  secure?: SecureConfig;
  config?: Pick<NodepoolConfig, 'dburi'>;
}

/** Environment first (for a quick override), then the secure file (0.4's place), then nodepool.yaml. */
export function resolveDbUri({ env, secure, config }: DbUriInputs): { uri: string; source: DbUriSource } | undefined {
  const fromEnv = env?.NODEPOOL_DBURI?.trim();
  if (fromEnv) return { uri: fromEnv, source: 'environment' };
  if (secure?.dburi) return { uri: secure.dburi, source: 'secure file' };
  if (config?.dburi) return { uri: config.dburi, source: 'nodepool.yaml' };
  return undefined;
}

/**
 * `mysql://nodepool:s3cret@db/nodepool` -> `mysql://nodepool:***@db/nodepool`;
 * also a `password=` query parameter. URIs without a password are unchanged.
 */
export function redactDbUri(uri: string): string {
  const redactedQuery = uri.replace(/([?&](?:password|passwd)=)[^&]*/gi, '$1***');
  const schemeEnd = redactedQuery.indexOf('://');
  if (schemeEnd < 0) return redactedQuery;
  const start = schemeEnd + 3;
  const rest = redactedQuery.slice(start);
  const queryAt = rest.indexOf('?');
  // The last '@' before the query ends the user info: a password may hold '@' or '/'.
  const at = (queryAt < 0 ? rest : rest.slice(0, queryAt)).lastIndexOf('@');
  if (at < 0) return redactedQuery;
  const colon = rest.indexOf(':');
  if (colon < 0 || colon > at) return redactedQuery;
  return redactedQuery.slice(0, start) + rest.slice(0, colon + 1) + '***' + rest.slice(at);
}
