import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './http-kit.js';

/** Zed's compute API: 2.1 to 2.93. Versions are kept as their minor number. */
export const NOVA_MIN_MINOR = 1;
export const NOVA_MAX_MINOR = 93;

/**
 * The microversion asked for, as nova's wsgi.Request.set_api_version_request
 * reads it: `OpenStack-API-Version: compute 2.x` first, then
 * `X-OpenStack-Nova-API-Version: 2.x`; none means 2.1, `latest` the maximum.
 */
export function requestedMicroversion(headers: IncomingHttpHeaders): number {
  const text = fromHeaders(headers);
  if (text === undefined) return NOVA_MIN_MINOR;
  if (text === 'latest') return NOVA_MAX_MINOR;
  const match = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(text);
  if (!match) {
    throw new ApiError(400, `API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`);
  }
  const minor = Number(match[2]);
  if (match[1] !== '2' || minor < NOVA_MIN_MINOR || minor > NOVA_MAX_MINOR) {
    throw new ApiError(406, `Version ${text} is not supported by the API. Minimum is 2.${NOVA_MIN_MINOR} and maximum is 2.${NOVA_MAX_MINOR}.`);
  }
  return minor;
}

function fromHeaders(headers: IncomingHttpHeaders): string | undefined {
  const modern = headers['openstack-api-version'];
  const values = (Array.isArray(modern) ? modern.join(',') : modern ?? '').split(',');
  for (const value of values) {
    const [service, version] = value.trim().split(/\s+/);
    if (service?.toLowerCase() === 'compute' && version) return version.toLowerCase();
  }
  const legacy = headers['x-openstack-nova-api-version'];
  const text = Array.isArray(legacy) ? legacy[0] : legacy;
  return text?.trim().toLowerCase() || undefined;
}

/** Nova echoes the version it used on every answer, errors included. */
export function microversionHeaders(minor: number): Record<string, string> {
  return {
    'OpenStack-API-Version': `compute 2.${minor}`,
    'X-OpenStack-Nova-API-Version': `2.${minor}`,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}
