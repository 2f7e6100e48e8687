/** Just enough IPv4 arithmetic for subnets and allocation pools. */

export function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return parts.reduce((n, p) => n * 256 + p, 0);
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  network: number;
  size: number;
  prefix: number;
}

export function parseCidr(cidr: string): Cidr {
  const [address = '', prefixText = ''] = cidr.split('/');
  const prefix = Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`unsupported CIDR ${cidr}`);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipToNumber(address) / size) * size;
  return { network, size, prefix };
}

export function inCidr(ip: number, cidr: Cidr): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

export const LOOPBACK = parseCidr('127.0.0.0/8');
