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
  meta: Record<string, string>;
}): Record<string, string> {
  return {
    ...options.meta,
    groups: JSON.stringify([options.image, options.provider]),
    nodepool: JSON.stringify({ image_name: options.image, provider_name: options.provider, node_id: options.nodeId }),
  };
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
