import { NOVA_METADATA_LIMITS } from '../../simulated-cloud/index.js';
import { ApiError, isRecord } from './http-kit.js';
import { UUID_PATTERN } from './ids.js';
import { pyRepr, pyStr } from './python-repr.js';

/** What POST /servers asked for, once the schema has passed. */
export interface ServerRequest {
  name: string;
  imageRef: string;
  flavorRef: string;
  metadata: Record<string, string>;
  networks: 'none' | 'auto' | undefined | Array<{ uuid?: string; port?: string | null; fixed_ip?: string }>;
  availabilityZone?: string;
  keyName?: string;
  configDrive: boolean;
  description: string | null;
  securityGroups: string[];
  accessIPv4: string;
  accessIPv6: string;
  diskConfig: 'AUTO' | 'MANUAL';
  hostname?: string;
  maxCount: number;
}

/** Keys of `server` allowed by Nova's create schemas, with the microversion that brought each. */
const SERVER_KEYS: Record<string, number> = {
  name: 1, imageRef: 1, flavorRef: 1, adminPass: 1, metadata: 1, networks: 1, 'OS-DCF:diskConfig': 1,
  accessIPv4: 1, accessIPv6: 1, availability_zone: 1, block_device_mapping: 1, block_device_mapping_v2: 1,
  config_drive: 1, key_name: 1, min_count: 1, max_count: 1, return_reservation_id: 1, security_groups: 1,
  user_data: 1, description: 19, tags: 52, trusted_image_certificates: 63, host: 74, hypervisor_hostname: 74,
  hostname: 90,
};
const PERSONALITY_UNTIL = 56;
const TOP_KEYS = new Set(['server', 'os:scheduler_hints', 'OS-SCH-HNT:scheduler_hints']);
const METADATA_KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;
const BOOLEANS = new Map<unknown, boolean>([
  [true, true], ['True', true], ['TRUE', true], ['true', true], ['1', true], ['ON', true], ['On', true], ['on', true],
  ['YES', true], ['Yes', true], ['yes', true], [false, false], ['False', false], ['FALSE', false], ['false', false],
  ['0', false], ['OFF', false], ['Off', false], ['off', false], ['NO', false], ['No', false], ['no', false],
]);

/** nova/api/validation/validators.py wording for a body error at `path`. */
export function invalid(path: string, value: unknown, message: string): ApiError {
  return new ApiError(400, `Invalid input for field/attribute ${path}. Value: ${pyStr(value)}. ${message}`);
}

function unexpected(keys: string[]): string {
  const list = keys.map(pyRepr).join(', ');
  return `Additional properties are not allowed (${list} ${keys.length === 1 ? 'was' : 'were'} unexpected)`;
}

/** The create schema of the requested microversion (nova/api/openstack/compute/schemas/servers.py), in short. */
export function parseServerRequest(body: unknown, microversion: number): ServerRequest {
  if (!isRecord(body)) throw new ApiError(400, `${pyRepr(body ?? null)} is not of type 'object'`);
  const extraTop = Object.keys(body).filter((k) => !TOP_KEYS.has(k));
  if (extraTop.length > 0) throw new ApiError(400, unexpected(extraTop));
  const server = body.server;
  if (server === undefined) throw new ApiError(400, "'server' is a required property");
  if (!isRecord(server)) throw invalid('server', server, `${pyRepr(server)} is not of type 'object'`);
  const required = microversion >= 37 ? ['name', 'flavorRef', 'networks'] : ['name', 'flavorRef'];
  for (const key of required) {
    if (!(key in server)) throw invalid('server', server, `${pyRepr(key)} is a required property`);
  }
  const extra = Object.keys(server).filter((k) => !allowedKey(k, microversion));
  if (extra.length > 0) throw invalid('server', server, unexpected(extra));
  return {
    name: nameField('name', server.name),
    imageRef: imageRef(server.imageRef),
    flavorRef: flavorRef(server.flavorRef),
    metadata: metadata(server.metadata),
    networks: networks(server.networks, microversion),
    availabilityZone: server.availability_zone === undefined ? undefined : nameField('availability_zone', server.availability_zone),
    keyName: server.key_name === undefined ? undefined : nameField('key_name', server.key_name),
    configDrive: booleanField('config_drive', server.config_drive),
    description: description(server.description),
    securityGroups: securityGroups(server.security_groups),
    accessIPv4: typeof server.accessIPv4 === 'string' ? server.accessIPv4 : '',
    accessIPv6: typeof server.accessIPv6 === 'string' ? server.accessIPv6 : '',
    diskConfig: server['OS-DCF:diskConfig'] === 'AUTO' ? 'AUTO' : 'MANUAL',
    hostname: typeof server.hostname === 'string' ? server.hostname : undefined,
    maxCount: count('max_count', server.max_count),
  };
}

function allowedKey(key: string, microversion: number): boolean {
  if (key === 'personality') return microversion <= PERSONALITY_UNTIL;
  const since = SERVER_KEYS[key];
  return since !== undefined && microversion >= since;
}

function nameField(path: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(path, value, `${pyRepr(value)} is not of type 'string'`);
  if (value.length < 1) throw invalid(path, value, `${pyRepr(value)} is too short`);
  if (value.length > 255) throw invalid(path, value, `${pyRepr(value)} is too long`);
  if (value.trim() !== value || /\p{C}/u.test(value)) {
    throw new ApiError(400, `An invalid '${path}' value was provided. The name must be: printable characters. Can not start or end with whitespace.`);
  }
  return value;
}

function imageRef(value: unknown): string {
  if (value === undefined || value === '') throw new ApiError(400, 'Missing imageRef attribute');
  if (typeof value !== 'string' || !UUID_PATTERN.test(value)) {
    throw invalid('imageRef', value, `${pyRepr(value)} is not valid under any of the given schemas`);
  }
  return value;
}

function flavorRef(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value !== 'string') throw invalid('flavorRef', value, `${pyRepr(value)} is not of type 'string', 'integer'`);
  if (value.length < 1) throw invalid('flavorRef', value, `${pyRepr(value)} is too short`);
  // A flavor URL works too; Nova takes its last path segment.
  return value.split('/').pop() ?? value;
}

function metadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw invalid('metadata', value, `${pyRepr(value)} is not of type 'object'`);
  const badKeys = Object.keys(value).filter((k) => !METADATA_KEY.test(k));
  if (badKeys.length > 0) throw invalid('metadata', value, unexpected(badKeys));
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw invalid(key, item, `${pyRepr(item)} is not of type 'string'`);
    if (item.length > NOVA_METADATA_LIMITS.valueLength) throw invalid(key, item, `${pyRepr(item)} is too long`);
  }
  return { ...(value as Record<string, string>) };
}

function networks(value: unknown, microversion: number): ServerRequest['networks'] {
  if (value === undefined) return undefined;
  const anyOf = (): ApiError => invalid('networks', value, `${pyRepr(value)} is not valid under any of the given schemas`);
  if (typeof value === 'string') {
    if (microversion >= 37 && (value === 'none' || value === 'auto')) return value;
    if (microversion >= 37) throw anyOf();
    throw invalid('networks', value, `${pyRepr(value)} is not of type 'array'`);
  }
  if (!Array.isArray(value)) throw microversion >= 37 ? anyOf() : invalid('networks', value, `${pyRepr(value)} is not of type 'array'`);
  return value.map((item: unknown) => {
    if (!isRecord(item)) throw microversion >= 37 ? anyOf() : invalid('networks', item, `${pyRepr(item)} is not of type 'object'`);
    const tagAllowed = microversion === 32 || microversion === 33 || microversion >= 42;
    const extra = Object.keys(item).filter((k) => !['uuid', 'port', 'fixed_ip', ...(tagAllowed ? ['tag'] : [])].includes(k));
    if (extra.length > 0) throw microversion >= 37 ? anyOf() : invalid('networks', item, unexpected(extra));
    const uuidOk = item.uuid === undefined || (typeof item.uuid === 'string' && (microversion < 37 || UUID_PATTERN.test(item.uuid)));
    const portOk = item.port === undefined || item.port === null || (typeof item.port === 'string' && UUID_PATTERN.test(item.port));
    if (!uuidOk || !portOk) throw microversion >= 37 ? anyOf() : invalid('port', item.port, `${pyRepr(item.port)} is not valid under any of the given schemas`);
    return {
      uuid: item.uuid as string | undefined,
      port: item.port as string | null | undefined,
      fixed_ip: typeof item.fixed_ip === 'string' ? item.fixed_ip : undefined,
    };
  });
}

function booleanField(path: string, value: unknown): boolean {
  if (value === undefined) return false;
  const parsed = BOOLEANS.get(value);
  if (parsed === undefined) throw invalid(path, value, `${pyRepr(value)} is not one of ${pyRepr([...BOOLEANS.keys()])}`);
  return parsed;
}

function description(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid('description', value, `${pyRepr(value)} is not of type 'string', 'null'`);
  if (value.length > 255) throw invalid('description', value, `${pyRepr(value)} is too long`);
  return value;
}

function securityGroups(value: unknown): string[] {
  if (value === undefined) return ['default'];
  if (!Array.isArray(value)) throw invalid('security_groups', value, `${pyRepr(value)} is not of type 'array'`);
  const names = value.map((item: unknown) => (isRecord(item) && typeof item.name === 'string' ? item.name : ''));
  return [...new Set(names.filter((n) => n !== ''))];
}

function count(path: string, value: unknown): number {
  if (value === undefined) return 1;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw invalid(path, value, `${pyRepr(value)} is not valid under any of the given schemas`);
  }
  return n;
}
