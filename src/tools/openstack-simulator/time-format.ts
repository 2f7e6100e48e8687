/** The timestamp formats each service uses (see docs/openstack-simulator.md). */

/** Nova `created`/`updated`, Glance and Neutron times: seconds, with Z. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Nova `OS-SRV-USG:launched_at`: microseconds, no zone. */
export function isoMicros(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000`;
}

/** Keystone token times: Fernet keeps whole seconds, printed with six zeros. */
export function keystoneTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}.000000Z`;
}
