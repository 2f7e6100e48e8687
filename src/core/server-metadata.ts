/**
 * The Nova metadata every server gets (the seed document): `groups` for the
 * Ansible OpenStack inventory and `nodepool` naming the image, provider and
 * node, plus the provider image's own `meta`. Nova metadata values are
 * strings, so both are JSON text.
 */
export function serverMetadata(options: {
  image: string;
  provider: string;
  nodeId: number;
  /** A sub-node's server names its primary node and itself. */
  subnodeId?: number;
  meta: Record<string, string>;
}): Record<string, string> {
  const nodepool: Record<string, unknown> = { image_name: options.image, provider_name: options.provider, node_id: options.nodeId };
  if (options.subnodeId !== undefined) nodepool.subnode_id = options.subnodeId;
  return {
    ...options.meta,
    groups: JSON.stringify([options.image, options.provider]),
    nodepool: JSON.stringify(nodepool),
  };
}

/** The sub-node a server belongs to, from its `nodepool` metadata, when it names this provider. */
export function subnodeIdFromMetadata(metadata: Record<string, string>, provider: string): number | undefined {
  if (nodeIdFromMetadata(metadata, provider) === undefined) return undefined;
  const parsed = JSON.parse(metadata.nodepool as string) as { subnode_id?: unknown };
  return typeof parsed.subnode_id === 'number' && Number.isInteger(parsed.subnode_id) ? parsed.subnode_id : undefined;
}

/** The node a server belongs to, from its `nodepool` metadata, when it names this provider. */
export function nodeIdFromMetadata(metadata: Record<string, string>, provider: string): number | undefined {
  const raw = metadata.nodepool;
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as { provider_name?: unknown; node_id?: unknown };
    if (parsed.provider_name !== provider) return undefined;
    return typeof parsed.node_id === 'number' && Number.isInteger(parsed.node_id) ? parsed.node_id : undefined;
  } catch {
    return undefined;
  }
}
