/**
 * A provider's list of all its servers, as its nodes read it: indexed once
 * per list, so each of ten thousand nodes finds its own server without a
 * search (docs/behaviour.md, "Providers").
 */
import type { ListedServer, NodeRole } from './node.machine.js';

/** A server of the provider's list, with the node (and sub-node) its `nodepool` metadata names. */
export interface ProviderServer extends ListedServer {
  nodeId?: number;
  subnodeId?: number;
}

export interface ServerIndex {
  byId: Map<string, ProviderServer>;
  byNode: Map<number, ProviderServer>;
  bySubnode: Map<number, ProviderServer>;
}

export function indexServers(servers: readonly ProviderServer[]): ServerIndex {
  const index: ServerIndex = { byId: new Map(), byNode: new Map(), bySubnode: new Map() };
  for (const server of servers) {
    index.byId.set(server.id, server);
    // The first server naming a node wins, as a search from the start of the list would find it.
    if (server.subnodeId !== undefined) {
      if (!index.bySubnode.has(server.subnodeId)) index.bySubnode.set(server.subnodeId, server);
    } else if (server.nodeId !== undefined && !index.byNode.has(server.nodeId)) {
      index.byNode.set(server.nodeId, server);
    }
  }
  return index;
}

/**
 * The server a node should hear about: by the id it recorded, else by its
 * metadata (a node's server names the node; a sub-node's names its sub-node).
 */
export function serverForNode(
  servers: readonly ProviderServer[] | ServerIndex,
  nodeId: number,
  serverId: string | undefined,
  role: NodeRole = 'primary',
): ProviderServer | null {
  const index = 'byId' in servers ? servers : indexServers(servers);
  if (serverId !== undefined) return index.byId.get(serverId) ?? null;
  return (role === 'sub' ? index.bySubnode.get(nodeId) : index.byNode.get(nodeId)) ?? null;
}
