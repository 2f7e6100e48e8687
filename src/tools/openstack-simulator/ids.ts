import { randomBytes, randomUUID } from 'node:crypto';

/** Nova, Glance and Neutron ids are UUIDs. */
export function uuid(): string {
  return randomUUID();
}

/** Keystone ids (users, projects, roles, endpoints) are 32 hex digits. */
export function hexId(): string {
  return randomBytes(16).toString('hex');
}

/** Neutron's default base MAC is fa:16:3e. */
export function macAddress(): string {
  const tail = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return ['fa', '16', '3e', ...tail].join(':');
}

/** Looks like a Fernet token (they start with gAAAAA); only the simulator can read it. */
export function tokenId(): string {
  return `gAAAAAB${randomBytes(120).toString('base64url')}`;
}

/** Keystone audit ids: 16 random bytes, urlsafe base64 without padding. */
export function auditId(): string {
  return randomBytes(16).toString('base64url');
}

export function requestId(): string {
  return `req-${randomUUID()}`;
}

const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** Nova's generated adminPass: 12 characters. */
export function adminPass(): string {
  return [...randomBytes(12)].map((b) => PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]).join('');
}

export const UUID_PATTERN = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
