/**
 * What a run does on a node it can reach: log in over SSH and run `true`
 * (src/ssh's check, tried once), as a real job's first step would. A node
 * is reachable when its provider is an OpenStack cloud (its address, port
 * 22) or a simulated cloud whose `fake.ssh` names a real SSH server; the
 * nodes of other simulated clouds are only waited on.
 */
import type { NodepoolConfig, Provider } from '../../config/types.js';
import type { Clock } from '../../core/clock.js';
import { checkSsh } from '../../ssh/index.js';
import type { SimulatedNode } from './node-source.js';

/** The work on `node`, or undefined when there is nothing to reach. */
export type NodeWork = (node: SimulatedNode) => Promise<void> | undefined;

export function sshWork(config: () => NodepoolConfig, clock: Clock): NodeWork {
  return (node) => {
    const { providers, labels } = config();
    const provider = providers.find((p) => p.name === node.provider);
    const imageName = labels.find((l) => l.name === node.label)?.image;
    const image = provider?.images.find((i) => i.name === imageName);
    const endpoint = provider && sshEndpointOf(provider, node.ip);
    if (!image || !endpoint) return undefined;
    return checkSsh({ ...endpoint, username: image.username, privateKey: image.privateKey, clock, deadline: clock.now() }).then(() => undefined);
  };
}

/** Where the node's SSH server listens, as the provider's driver says it (src/drivers: each kind's capabilities). */
function sshEndpointOf(provider: Provider, ip: string | null): { host: string; port: number } | undefined {
  if (provider.driver === 'fake') return provider.fake?.ssh === undefined ? undefined : hostAndPort(provider.fake.ssh);
  return ip ? { host: ip, port: 22 } : undefined;
}

/** `host:port` or `[v6]:port`, as the schema checked it. */
function hostAndPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}
