/**
 * A server's addresses as nodepool uses them (docs/behaviour.md, launch step 6):
 * public IPv4 and IPv6, and a private IPv4. Nova lists addresses per network
 * with a type: `floating` is public; a `fixed` address is public unless it
 * is in a private range (RFC 1918, shared 100.64/10, IPv6 unique-local or
 * link-local). A cloud whose servers only have private addresses is reached
 * through them: the private IPv4 then stands in for the public one.
 */
import type { ServerAddresses } from '../driver.js';

export interface NovaAddress {
  version?: number;
  addr: string;
  'OS-EXT-IPS:type'?: string;
}

function isPrivateV4(addr: string): boolean {
  const [a = 0, b = 0] = addr.split('.').map(Number);
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
}

function isPrivateV6(addr: string): boolean {
  const first = addr.toLowerCase().split(':')[0] ?? '';
  return first.startsWith('fc') || first.startsWith('fd') || first.startsWith('fe8') || first.startsWith('fe9') || first.startsWith('fea') || first.startsWith('feb');
}

export function serverAddresses(addresses: Record<string, NovaAddress[]> | undefined): ServerAddresses {
  const result: ServerAddresses = {};
  const all = Object.values(addresses ?? {}).flat();
  for (const address of all) {
    const v6 = address.version === 6 || address.addr.includes(':');
    const floating = address['OS-EXT-IPS:type'] === 'floating';
    if (v6) {
      if (floating || !isPrivateV6(address.addr)) result.publicV6 ??= address.addr;
    } else if (floating || !isPrivateV4(address.addr)) {
      result.publicV4 ??= address.addr;
    } else {
      result.privateV4 ??= address.addr;
    }
  }
  // A floating address wins over a public fixed one: it is what the cloud routes to the server.
  const floatingV4 = all.find((a) => a['OS-EXT-IPS:type'] === 'floating' && !(a.version === 6 || a.addr.includes(':')));
  if (floatingV4) result.publicV4 = floatingV4.addr;
  if (result.publicV4 === undefined && result.publicV6 === undefined && result.privateV4 !== undefined) {
    result.publicV4 = result.privateV4;
  }
  return result;
}
