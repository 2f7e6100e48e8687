import { macAddress, uuid } from './ids.js';
import { inCidr, ipToNumber, LOOPBACK, numberToIp, parseCidr } from './ipv4.js';
import type { FloatingIpSeed, NetworkSeed } from './options.js';

export interface Subnet {
  id: string;
  name: string;
  networkId: string;
  cidr: string;
  poolStart: number;
  poolEnd: number;
  projectId: string;
  createdAt: number;
}

export interface Network {
  id: string;
  name: string;
  shared: boolean;
  projectId: string;
  subnet: Subnet;
  createdAt: number;
}

export interface Port {
  id: string;
  networkId: string;
  subnetId: string;
  ip: string;
  mac: string;
  deviceId: string;
  deviceOwner: string;
  projectId: string;
  createdAt: number;
  /** Made by the user and handed to Nova: detached, not deleted, with its server. */
  keepOnDelete?: boolean;
}

export interface FloatingIp {
  id: string;
  address: string;
  networkId: string;
  portId: string | null;
  fixedIp: string | null;
  projectId: string;
  createdAt: number;
  updatedAt: number;
}

/** Networks with one loopback subnet each, the ports Nova makes, and floating IPs. */
export class NetworkStore {
  readonly networks = new Map<string, Network>();
  readonly ports = new Map<string, Port>();
  readonly floatingIps = new Map<string, FloatingIp>();

  constructor(private readonly now: () => number) {}

  addNetwork(seed: NetworkSeed, projectId: string): Network {
    const cidr = parseCidr(seed.cidr);
    if (!inCidr(cidr.network, LOOPBACK)) throw new Error(`network ${seed.name}: ${seed.cidr} is not inside 127.0.0.0/8`);
    const id = seed.id ?? uuid();
    const createdAt = this.now();
    const subnet: Subnet = {
      id: uuid(),
      name: seed.subnetName ?? `${seed.name}-subnet`,
      networkId: id,
      cidr: `${numberToIp(cidr.network)}/${cidr.prefix}`,
      poolStart: seed.allocationPool ? ipToNumber(seed.allocationPool.start) : cidr.network + 2,
      poolEnd: seed.allocationPool ? ipToNumber(seed.allocationPool.end) : cidr.network + cidr.size - 2,
      projectId,
      createdAt,
    };
    const network: Network = { id, name: seed.name, shared: seed.shared ?? true, projectId, subnet, createdAt };
    this.networks.set(id, network);
    return network;
  }

  visibleNetworks(projectId: string): Network[] {
    return [...this.networks.values()].filter((n) => n.shared || n.projectId === projectId);
  }

  /** A port with the lowest free address of the pool, or undefined when the pool is used up. */
  createPort(network: Network, deviceId: string, deviceOwner: string, projectId: string): Port | undefined {
    const used = new Set([...this.ports.values()].filter((p) => p.networkId === network.id).map((p) => p.ip));
    for (let n = network.subnet.poolStart; n <= network.subnet.poolEnd; n += 1) {
      const ip = numberToIp(n);
      if (used.has(ip)) continue;
      const port: Port = {
        id: uuid(), networkId: network.id, subnetId: network.subnet.id, ip, mac: macAddress(),
        deviceId, deviceOwner, projectId, createdAt: this.now(),
      };
      this.ports.set(port.id, port);
      return port;
    }
    return undefined;
  }

  /** Nova deletes the ports it made for a server and detaches the ones it was given. */
  releaseServerPorts(serverId: string): void {
    for (const port of this.portsOf(serverId)) {
      if (port.keepOnDelete) Object.assign(port, { deviceId: '', deviceOwner: '' });
      else this.deletePort(port.id);
    }
  }

  /** Deleting a port disassociates its floating IPs, as Neutron does. */
  deletePort(id: string): void {
    this.ports.delete(id);
    for (const fip of this.floatingIps.values()) {
      if (fip.portId === id) Object.assign(fip, { portId: null, fixedIp: null, updatedAt: this.now() });
    }
  }

  portsOf(deviceId: string): Port[] {
    return [...this.ports.values()].filter((p) => p.deviceId === deviceId);
  }

  addFloatingIp(seed: FloatingIpSeed, projectId: string): FloatingIp {
    const network = seed.network
      ? [...this.networks.values()].find((n) => n.name === seed.network)
      : this.networks.values().next().value;
    if (!network) throw new Error(`floating IP ${seed.floatingIpAddress}: no network ${seed.network ?? ''}`);
    const port = seed.serverId ? this.portsOf(seed.serverId)[0] : undefined;
    if (seed.serverId && !port) throw new Error(`floating IP ${seed.floatingIpAddress}: server ${seed.serverId} has no port`);
    const now = this.now();
    const fip: FloatingIp = {
      id: seed.id ?? uuid(), address: seed.floatingIpAddress, networkId: network.id,
      portId: port?.id ?? null, fixedIp: port?.ip ?? null, projectId, createdAt: now, updatedAt: now,
    };
    this.floatingIps.set(fip.id, fip);
    return fip;
  }
}
