/**
 * clouds.yaml, found and read the way OpenStack clients (os-client-config)
 * do, so one file serves both the `openstack` command and nodepool.
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from './problems.js';
import { readTextFile } from './read-file.js';

/** One entry of `clouds:`, typed only as far as we read it. */
export interface CloudEntry {
  auth?: {
    auth_url?: string;
    username?: string;
    password?: string;
    project_name?: string;
    project_id?: string;
    user_domain_name?: string;
    project_domain_name?: string;
    [key: string]: unknown;
  };
  region_name?: string;
  interface?: string;
  identity_api_version?: string | number;
  verify?: boolean;
  cacert?: string;
  [key: string]: unknown;
}

export interface CloudsLookup {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  homeDir?: string;
  /** `/etc/openstack` unless a test points elsewhere. */
  systemDir?: string;
}

/** The candidates in the clients' order; the first one that is a file wins. */
export function cloudsYamlCandidates({ env = process.env, cwd = process.cwd(), homeDir = homedir(), systemDir = '/etc/openstack' }: CloudsLookup = {}): string[] {
  const fromEnv = env.OS_CLIENT_CONFIG_FILE;
  return [
    ...(fromEnv ? [resolve(cwd, fromEnv)] : []),
    join(cwd, 'clouds.yaml'),
    join(homeDir, '.config', 'openstack', 'clouds.yaml'),
    join(systemDir, 'clouds.yaml'),
  ];
}

export function findCloudsYaml(lookup: CloudsLookup = {}): string | undefined {
  return cloudsYamlCandidates(lookup).find(isFile);
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The `clouds:` mapping. Messages name the file but never echo its contents (it holds passwords). */
export function loadCloudsYaml(file: string): Record<string, CloudEntry> {
  const read = readTextFile(file, 'clouds.yaml');
  if ('error' in read) throw cloudsError(file, read.error);
  let doc: unknown;
  try {
    doc = parse(read.text);
  } catch {
    throw cloudsError(file, 'is not valid YAML');
  }
  if (doc === null || doc === undefined) return {};
  const clouds = (doc as { clouds?: unknown }).clouds;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw cloudsError(file, "top level must be a mapping with a 'clouds' key");
  if (clouds === undefined || clouds === null) return {};
  if (typeof clouds !== 'object' || Array.isArray(clouds)) throw cloudsError(file, "'clouds' must be a mapping of cloud names");
  return clouds as Record<string, CloudEntry>;
}

function cloudsError(file: string, message: string): ConfigError {
  return new ConfigError([{ file, path: '', message, severity: 'error' }]);
}
