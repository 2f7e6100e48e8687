import { NOVA_METADATA_LIMITS } from '../../simulated-cloud/index.js';
import { DriverError, type CreateServerRequest } from '../driver.js';

export { NOVA_METADATA_LIMITS };

/** Rejects what Nova would reject with 400 before looking at flavors, images or quota. */
export function checkServerRequest(request: CreateServerRequest): void {
  if (typeof request.name !== 'string' || request.name.length === 0 || request.name.length > 255) {
    throw badRequest(`Invalid server name ${JSON.stringify(request.name)}: must be 1 to 255 characters`);
  }
  const entries = Object.entries(request.metadata ?? {});
  if (entries.length > NOVA_METADATA_LIMITS.items) {
    throw badRequest(
      `Quota exceeded for metadata_items: Requested ${entries.length}, but the limit is ${NOVA_METADATA_LIMITS.items} metadata items`,
    );
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > NOVA_METADATA_LIMITS.keyLength) {
      throw badRequest(`Invalid metadata key ${JSON.stringify(key.slice(0, 40))}: must be 1 to 255 characters (is ${key.length})`);
    }
    if (typeof value !== 'string') {
      throw badRequest(`Invalid metadata value for key ${key}: must be a string, not ${typeof value}`);
    }
    if (value.length > NOVA_METADATA_LIMITS.valueLength) {
      throw badRequest(`Invalid metadata value for key ${key}: at most 255 characters (is ${value.length})`);
    }
  }
}

export function badRequest(message: string, service = 'compute'): DriverError {
  return new DriverError('bad-request', message, { service, status: 400 });
}
